"""Bounds on what the service accepts and on what it serves back.

Requests: a JSON body may nest at most MAX_DEPTH levels, carry no integer outside the signed 64-bit range,
no float that is not finite and no lone UTF-16 surrogate, and every time must convert to UTC within years
1-9999. Anything else
is a 422 naming the field, instead of an OverflowError or RecursionError deep inside a handler (a 500).

Stored data: rows written before these bounds existed (or edited by hand) may still hold values nested
~1,000 levels deep, or text that is not JSON at all. `stored_json` and `bounded` turn such values into a
short placeholder, so reading the audit log or the flag list can never fail on them; the exact stored
text stays in the database and in the signed audit export.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from flagops.v1 import wire

MAX_DEPTH = 32  # nesting levels of a request body; a variant value or a context gets most of them
MAX_STORED_DEPTH = 64  # values served from the database are cut below this depth
INT64 = 2**63
_FIELD_SEGMENTS = 8


def _field(path: list[str | int]) -> str:
    """The field a client should fix: the path down to the last named key (at most a few levels in),
    so a 900-level value is reported as `variants[0].value`, not as 900 indices."""
    last_key = -1
    for i, seg in enumerate(path[:_FIELD_SEGMENTS]):
        if isinstance(seg, str):
            last_key = i
    if last_key < 0:
        return "body"
    out = ""
    for i, seg in enumerate(path[: last_key + 1]):
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if i else seg)
    return out[:200]


def check_body(value: Any) -> None:
    """Raise ValueError("field: what is wrong") for the first value out of bounds. Walked without recursion,
    and paths are rebuilt only for the error (a 1 MB body has ~100,000 values: each costs one type check)."""
    trail: list[tuple[int, str | int]] = [(-1, "")]  # per container: (its parent's index here, its key)

    def where(at: int, key: str | int | None = None) -> str:
        path: list[str | int] = [] if key is None else [key]
        while at > 0:
            at, k = trail[at]
            path.append(k)
        return _field(path[::-1][1:])  # [1:]: the wrapper's "" key above the body itself

    stack: list[tuple[Any, int, int]] = [({"": value}, 0, 0)]  # (container, its depth, its index in trail)
    while stack:
        node, depth, at = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{where(at)}: nested deeper than {MAX_DEPTH} levels")
        for k, v in node.items() if type(node) is dict else enumerate(node):
            kind = type(v)  # exact types, as json.loads makes them (bool is not int here)
            if type(k) is str and not k.isascii() and not _encodable(k):
                raise ValueError(f"{where(at)}: a key holds a lone surrogate (\\ud800-\\udfff), not text")
            if kind is str:
                if not v.isascii() and not _encodable(v):
                    raise ValueError(f"{where(at, k)}: holds a lone surrogate (\\ud800-\\udfff), not text")
            elif kind is dict or kind is list:
                trail.append((at, k))
                stack.append((v, depth + 1, len(trail) - 1))
            elif kind is int:
                if not -INT64 <= v < INT64:
                    raise ValueError(f"{where(at, k)}: integer out of range (signed 64-bit)")
            elif kind is float and not -math.inf < v < math.inf:  # NaN fails this too
                raise ValueError(f"{where(at, k)}: number out of range")


def _encodable(text: str) -> bool:
    """JSON may escape half of a UTF-16 pair ("\\ud800"); such a string cannot be stored or sent as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def too_deep(text: str) -> str:
    return f"<not shown: {text}; GET /v1/audit/export has the stored text>"


def bounded(value: Any, depth: int = MAX_STORED_DEPTH) -> Any:
    """`value` with every subtree deeper than `depth` (and every non-finite float) replaced by a placeholder
    string: always serializable, at any depth it arrived with."""
    if isinstance(value, float) and not math.isfinite(value):
        return too_deep("a number out of range")
    if not isinstance(value, (dict, list)):
        return value
    if depth <= 0:
        return too_deep(f"nested deeper than {MAX_STORED_DEPTH} levels")
    if isinstance(value, dict):
        return {k: bounded(v, depth - 1) for k, v in value.items()}
    return [bounded(v, depth - 1) for v in value]


def load_bounded(text: str) -> Any:
    """json.loads, then `bounded` only when the text has enough brackets to be that deep at all (counting
    is C-fast; walking every flag's metadata in Python at start is not)."""
    value = json.loads(text)
    if text.count("[") + text.count("{") >= MAX_STORED_DEPTH:
        value = bounded(value)
    return value


def stored_json(text: str | None) -> Any:
    """A JSON column as stored, decoded so that serving it again cannot fail."""
    if text is None or text == "":
        return None
    try:
        return load_bounded(text)
    except (ValueError, RecursionError):
        return too_deep("the stored value could not be decoded")


def utc_time(value: Any, field: str) -> datetime | None:
    """An ISO 8601 time as UTC; ValueError naming `field` when it is not one or falls outside years 1-9999
    once converted (0001-01-01T00:00:00+05:00 is in year 0 in UTC)."""
    dt = wire.parse_time(value, field)
    if dt is None:
        return None
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{field}: out of range (must fall within years 1-9999 in UTC)") from None
