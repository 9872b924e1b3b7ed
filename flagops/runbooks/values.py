"""The value types runbook fields and params take: parsers from YAML or command-line text, and which
param types may fill which field.

Each parser takes what YAML (or `--param k=v`) produced and returns the canonical Python value, or raises
`ValueError` with a message for the operator (the loader adds file, line and field).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flagops.runbooks.schema import ParamType

FLAG_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
RUNBOOK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """`30s`, `5m`, `1h30m`, `500ms`, or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 1h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            text += "s"  # a bare number is seconds, as in YAML
        parts = _DURATION_PART.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"expected a duration like 30s, 5m or 1h, got {value[:40]!r}")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError("expected a duration like 30s, 5m or 1h")
    if not 0 <= seconds <= 7 * 24 * 3600:
        raise ValueError("expected a duration between 0s and 7 days")
    return seconds


def parse_percent(value: Any) -> float:
    """`25`, `2.5`, `"2.5%"` -> 2.5 (percent units, 0-100)."""
    raw = value
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"expected a percent 0-100, got {str(raw)[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"expected a percent 0-100, got {str(raw)[:40]!r}")
    if not 0 <= value <= 100:
        raise ValueError(f"expected a percent 0-100, got {str(raw)[:40]}")
    return float(value)


def parse_int(value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {str(value)[:40]!r}")
    return value


def parse_number(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"expected a number, got {str(value)[:40]!r}")
    return float(value)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise ValueError(f"expected true or false, got {str(value)[:40]!r}")


def parse_key(value: Any, what: str = "flag key") -> str:
    if not isinstance(value, str) or not FLAG_KEY.match(value):
        raise ValueError(f"expected a {what} (letters, digits, . _ : -), got {str(value)[:40]!r}")
    return value


def parse_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return str(value)


PARSERS: dict[ParamType, Callable[[Any], Any]] = {
    ParamType.STRING: parse_text,
    ParamType.INT: parse_int,
    ParamType.NUMBER: parse_number,
    ParamType.PERCENT: parse_percent,
    ParamType.BOOL: parse_bool,
    ParamType.DURATION: parse_duration,
    ParamType.FLAG: parse_key,
    ParamType.ENVIRONMENT: lambda v: parse_key(v, "environment key"),
    ParamType.TEAM: lambda v: parse_key(v, "team name"),
}

# which param types may fill a field of a given value type
COMPATIBLE: dict[ParamType, frozenset[ParamType]] = {
    ParamType.STRING: frozenset(ParamType),
    ParamType.FLAG: frozenset({ParamType.FLAG, ParamType.STRING}),
    ParamType.ENVIRONMENT: frozenset({ParamType.ENVIRONMENT, ParamType.STRING}),
    ParamType.TEAM: frozenset({ParamType.TEAM, ParamType.STRING}),
    ParamType.PERCENT: frozenset({ParamType.PERCENT, ParamType.NUMBER, ParamType.INT}),
    ParamType.NUMBER: frozenset({ParamType.PERCENT, ParamType.NUMBER, ParamType.INT}),
    ParamType.INT: frozenset({ParamType.INT}),
    ParamType.BOOL: frozenset({ParamType.BOOL}),
    ParamType.DURATION: frozenset({ParamType.DURATION}),
}
