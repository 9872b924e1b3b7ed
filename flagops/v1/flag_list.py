"""The `GET /v1/flags` body, parsed one flag at a time with repeated values shared.

At 50,000 flags the body is 33 MB. `json.loads` on it builds a ~200 MB tree of dicts and strings before the
first flag exists; the flags are then allocated among that tree's debris and keep its memory arenas from going
back to the OS (the console stayed ~110 MB bigger for good). Here the standard library's decoder parses one
flag object at a time, which is converted and dropped before the next, so the arenas are reused; and equal
values (owners, tags, variants, environment names, who changed it, rollouts, timestamps) become one object
(`SharedValues`). Same result as `json.loads` + `wire.flag_from_json` per flag.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flagops.model import Flag, Rule, Variant
from flagops.v1.wire import Sharing, flag_from_json, parse_time

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_SCALARS = (bool, int, float, str)


class SharedValues(Sharing):
    """One object per distinct value across the flags of one list; drop it with the parse.

    Only immutable values are shared, and only where equal means the same: variant values are keyed by their
    type too (True == 1), and variants with object or list values (mutable) are never shared.
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._rules: dict[tuple[Rule, ...], tuple[Rule, ...]] = {}
        self._variants: dict[tuple[Any, ...], tuple[Variant, ...]] = {}
        self._numbers: dict[float, float] = {}
        self._time_text: str | None = None
        self._time: datetime | None = None

    def string(self, value: str) -> str:
        return self._strings.setdefault(value, value)

    def opt_string(self, value: str | None) -> str | None:
        return None if value is None else self._strings.setdefault(value, value)

    def strings(self, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            return ()
        shared = self._tuples.get(value)
        if shared is None:
            shared = self._tuples[value] = tuple(self._strings.setdefault(v, v) for v in value)
        return shared

    def rules(self, value: tuple[Rule, ...]) -> tuple[Rule, ...]:
        return self._rules.setdefault(value, value) if value else ()

    def variants(self, value: tuple[Variant, ...]) -> tuple[Variant, ...]:
        if not all(v.value is None or type(v.value) in _SCALARS for v in value):
            return value
        key = tuple((v.key, type(v.value), v.value, v.description) for v in value)
        return self._variants.setdefault(key, value)

    def number(self, value: float) -> float:
        return self._numbers.setdefault(value, value)

    def time(self, value: Any, field: str) -> datetime | None:
        # the last one only: createdAt == updatedAt for every flag never changed, and a memo of all
        # 50,000 distinct times would cost more than it saves
        if value is not None and value == self._time_text:
            return self._time
        parsed = parse_time(value, field)
        if isinstance(value, str):
            self._time_text, self._time = value, parsed
        return parsed


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _expecting(text: str, pos: int, what: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(f"Expecting {what}", text, pos)


def _flags_array(text: str, pos: int, share: Sharing) -> tuple[list[Flag], int]:
    if not text.startswith("[", pos):
        _DECODER.raw_decode(text, pos)  # JSONDecodeError if it is not JSON at all
        raise ValueError("flags: expected a list")
    flags: list[Flag] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return flags, pos + 1
    while True:
        raw, pos = _DECODER.raw_decode(text, pos)
        try:
            flags.append(flag_from_json(raw, share=share))
        except ValueError as exc:
            raise ValueError(f"flags[{len(flags)}]: {exc}") from None
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif text.startswith("]", pos):
            return flags, pos + 1
        else:
            raise _expecting(text, pos, "',' delimiter")


def flag_list_from_json(text: str) -> list[Flag]:
    """The flags of a `GET /v1/flags` body: {"environment", "version", "flags": [Flag, ...]}.

    Raises json.JSONDecodeError for text that is not JSON, ValueError naming the field (and the flag's
    position) for JSON of the wrong shape. Other members of the object are checked as JSON and ignored.
    """
    share = SharedValues()
    flags: list[Flag] | None = None
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        _DECODER.raw_decode(text, pos)
        raise ValueError("expected an object with a flags list")
    pos = _skip(text, pos + 1)
    if not text.startswith("}", pos):
        while True:
            if not text.startswith('"', pos):
                raise _expecting(text, pos, "property name enclosed in double quotes")
            name, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if not text.startswith(":", pos):
                raise _expecting(text, pos, "':' delimiter")
            pos = _skip(text, pos + 1)
            if name == "flags":
                flags, pos = _flags_array(text, pos, share)  # a repeated member wins, as with json.loads
            else:
                _, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
            elif text.startswith("}", pos):
                break
            else:
                raise _expecting(text, pos, "',' delimiter")
    end = _skip(text, pos + 1)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    if flags is None:
        raise ValueError("flags: missing")
    return flags
