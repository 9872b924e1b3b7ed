"""Binding param values (`--param k=v`, defaults) into a runbook, so every field holds a concrete value."""

from __future__ import annotations

import dataclasses
from typing import Any

from flagops.errors import ExitCode, FlagOpsError
from flagops.runbooks.schema import Param, Ref, Runbook, Template, Value
from flagops.runbooks.values import PARSERS


class ParamError(FlagOpsError):
    """A param value given on the command line (or missing) is wrong."""

    exit_code = ExitCode.USAGE


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("k=v", ...)` -> {"k": "v"}; the value may contain `=`."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParamError(f"--param {item[:60]!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def resolve_params(runbook: Runbook, given: dict[str, Any]) -> dict[str, Any]:
    """Every param's value: given (parsed to its type) or its default. Raises ParamError naming the param."""
    known = {p.name: p for p in runbook.params}
    for name in given:
        if name not in known:
            names = ", ".join(known) or "none"
            raise ParamError(f"runbook {runbook.id} has no param {name!r}", detail=f"its params: {names}")
    values: dict[str, Any] = {}
    for param in runbook.params:
        if param.name in given:
            values[param.name] = _parse(param, given[param.name])
        elif param.default is not None:
            values[param.name] = param.default
        else:
            raise ParamError(
                f"runbook {runbook.id} needs --param {param.name}=... ({param.type.value})",
                detail=param.description or None,
            )
    return values


def _parse(param: Param, raw: Any) -> Any:
    try:
        value = PARSERS[param.type](raw)
    except ValueError as exc:
        raise ParamError(f"--param {param.name}: {exc}") from None
    if param.choices and value not in param.choices:
        choices = ", ".join(_text(c) for c in param.choices)
        raise ParamError(f"--param {param.name}: expected one of {choices}")
    return value


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _substitute(value: Value, values: dict[str, Any], where: str) -> Value:
    if isinstance(value, Ref):
        raw = values[value.name]
        try:
            return PARSERS[value.type](raw)
        except ValueError as exc:
            raise ParamError(f"{where}: param {value.name}={_text(raw)!r} does not fit: {exc}") from None
    if isinstance(value, Template):
        text = value.text
        for name in value.names:
            text = text.replace("${" + name + "}", _text(values[name]))
        try:
            return PARSERS[value.type](text)
        except ValueError as exc:
            raise ParamError(f"{where}: {text[:60]!r} (from params) does not fit: {exc}") from None
    if isinstance(value, tuple):
        return tuple(_substitute(v, values, where) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _bind_dataclass(value, values, where)
    return value


def _bind_dataclass(obj: Any, values: dict[str, Any], where: str) -> Any:
    changes = {}
    for f in dataclasses.fields(obj):
        current = getattr(obj, f.name)
        new = _substitute(current, values, f"{where}.{f.name}")
        if new is not current:
            changes[f.name] = new
    return dataclasses.replace(obj, **changes) if changes else obj


def bind(runbook: Runbook, given: dict[str, Any] | None = None) -> tuple[Runbook, dict[str, Any]]:
    """The runbook with every `${param}` replaced, and the param values used."""
    values = resolve_params(runbook, given or {})
    environment = _substitute(runbook.environment, values, "environment")
    steps = tuple(_bind_dataclass(step, values, f"steps[{step.index}]") for step in runbook.steps)
    return dataclasses.replace(runbook, environment=environment, steps=steps), values
