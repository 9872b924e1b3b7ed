"""The runbook format as typed objects, and the value types its fields and params use.

A loaded `Runbook` may still hold `Ref`s (a whole field is `${param}`) and `Template`s (text with
`${param}` inside); `flagops.runbooks.params.bind` replaces them with concrete values, checked against
the param's type. Field values are otherwise plain Python: str, float (percent, seconds), int, bool.
See README "Runbooks" for the format with examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flagops.model import Flag

Value = Any  # a literal, a Ref or a Template before binding; a literal after


class ParamType(str, Enum):
    STRING = "string"
    INT = "int"
    NUMBER = "number"
    PERCENT = "percent"
    BOOL = "bool"
    DURATION = "duration"
    FLAG = "flag"
    ENVIRONMENT = "environment"
    TEAM = "team"


class StepKind(str, Enum):
    NOTE = "note"
    CHECK = "check"
    WAIT = "wait"
    KILL = "kill"
    ROLLOUT = "rollout"
    ROLLBACK = "rollback"
    RESTORE = "restore"
    PROGRESSIVE = "progressive"

    @property
    def changes_flags(self) -> bool:
        return self in (StepKind.KILL, StepKind.ROLLOUT, StepKind.ROLLBACK, StepKind.RESTORE, StepKind.PROGRESSIVE)


@dataclass(frozen=True)
class Ref:
    """A field whose whole value is `${name}`: takes the param's value, re-checked as the field's type."""

    name: str
    type: ParamType = ParamType.STRING  # the field's type


@dataclass(frozen=True)
class Template:
    """Text with `${name}` placeholders inside."""

    text: str
    names: tuple[str, ...]
    type: ParamType = ParamType.STRING  # the field's type, checked after substitution


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    default: Value = None  # already parsed to the type; None = required
    required: bool = True
    description: str = ""
    choices: tuple[Any, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Selector:
    """Which flags a step acts on when it names no single flag. All given fields must hold."""

    owner: Value = None
    tag: Value = None
    kill_switch: Value = None
    enabled: Value = None
    partial: Value = None  # enabled with 0 < rollout < 100: a rollout in flight

    def describe(self) -> str:
        parts = []
        for name in ("owner", "tag", "kill_switch", "enabled", "partial"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={show_value(value)}")
        return "flags where " + (", ".join(parts) if parts else "(any)")


@dataclass(frozen=True)
class Condition:
    """`error_rate` (above/below a percent over `window`, or treatment against control: above/below the
    control arm's rate by N percentage points) or `state` (enabled, rollout bounds)."""

    metric: str  # "error_rate" | "state"
    flag: Value
    above: Value = None
    below: Value = None
    window: Value = 60.0
    enabled: Value = None
    rollout: Value = None
    above_control_by: Value = None  # treatment's error rate exceeds control's by more than N points
    below_control_by: Value = None  # treatment's error rate exceeds control's by less than N points

    @property
    def compares_arms(self) -> bool:
        return self.above_control_by is not None or self.below_control_by is not None

    def describe(self) -> str:
        if self.metric == "error_rate":
            over = f"(over {show_value(self.window)}s)"
            if self.above_control_by is not None:
                return (
                    f"error rate of {show_value(self.flag)}'s treatment more than "
                    f"{show_value(self.above_control_by)} points above control {over}"
                )
            if self.below_control_by is not None:
                return (
                    f"error rate of {show_value(self.flag)}'s treatment less than "
                    f"{show_value(self.below_control_by)} points above control {over}"
                )
            bound = f"above {show_value(self.above)}%" if self.above is not None else f"below {show_value(self.below)}%"
            return f"error rate of {show_value(self.flag)} {bound} {over}"
        parts = []
        if self.enabled is not None:
            parts.append(
                "on"
                if self.enabled is True
                else "off"
                if self.enabled is False
                else f"enabled={show_value(self.enabled)}"
            )
        if self.rollout is not None:
            parts.append(f"rollout {show_value(self.rollout)}%")
        if self.above is not None:
            parts.append(f"rollout above {show_value(self.above)}%")
        if self.below is not None:
            parts.append(f"rollout below {show_value(self.below)}%")
        return f"{show_value(self.flag)} is " + " and ".join(parts)


@dataclass(frozen=True)
class Guard:
    error_rate_above: Value = None  # an absolute limit (percent) ...
    window: Value = None  # seconds; None = the hold time
    treatment_above_control_by: Value = None  # ... and/or treatment vs control (percentage points)

    def describe(self) -> str:
        parts = []
        if self.error_rate_above is not None:
            parts.append(f"error rate > {show_value(self.error_rate_above)}%")
        if self.treatment_above_control_by is not None:
            parts.append(f"treatment > control + {show_value(self.treatment_above_control_by)} points")
        return " or ".join(parts) or "?"


@dataclass(frozen=True)
class Step:
    index: int  # 1-based, as shown to people and recorded in ChangeOrigin.step
    kind: StepKind
    line: int
    name: str | None = None
    environment: Value = None  # overrides the runbook's
    text: Value = None  # note
    flag: Value = None  # a flag key ...
    selector: Selector | None = None  # ... or a selector (kill, rollout, rollback)
    condition: Condition | None = None  # check, wait
    percent: Value = None  # rollout
    to_version: Value = None  # rollback (optional), restore (required)
    percents: tuple[Value, ...] = ()  # progressive
    hold: Value = None  # progressive: seconds to watch each stage
    timeout: Value = None  # wait
    poll: Value = None  # wait, progressive
    guard: Guard | None = None  # progressive
    approval_timeout: Value = None  # action steps: seconds to wait for a change request's approval (None: default)

    def title(self) -> str:
        return show_value(self.name) if self.name is not None else describe_step(self)


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    environment: Value
    steps: tuple[Step, ...]
    description: str = ""
    params: tuple[Param, ...] = ()
    path: str = ""  # the file it came from
    tags: tuple[str, ...] = field(default_factory=tuple)
    environment_line: int = 0

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def default(self, value: Value) -> Value:
        """A field's value with params at their defaults (None when a param has no default)."""
        if isinstance(value, Ref):
            param = self.param(value.name)
            return param.default if param is not None else None
        if isinstance(value, Template):
            text = value.text
            for name in value.names:
                param = self.param(name)
                if param is None or param.default is None:
                    return None
                text = text.replace("${" + name + "}", show_value(param.default))
            return text
        return value

    def touches(self, flag: Flag, environment: str | None = None) -> bool:
        """Whether a step names `flag` or, with params at their defaults, selects it (panic, freeze ...)."""
        if flag.key in self.flag_keys():
            return True
        from flagops.runbooks.targets import matches

        for step in self.steps:
            if step.selector is None:
                continue
            env = self.default(step.environment) or self.default(self.environment) or environment or ""
            fields = {
                name: getattr(step.selector, name) for name in ("owner", "tag", "kill_switch", "enabled", "partial")
            }
            defaults = {name: self.default(value) for name, value in fields.items()}
            if any(value is not None and defaults[name] is None for name, value in fields.items()):
                continue  # a required param decides: cannot tell without it
            if matches(Selector(**defaults), flag, str(env)):
                return True
        return False

    def flag_keys(self) -> set[str]:
        """Flag keys this runbook names literally or through param defaults (for "runbooks touching X")."""
        keys: set[str] = set()
        for step in self.steps:
            for value in (step.flag, step.condition.flag if step.condition else None):
                if isinstance(value, str):
                    keys.add(value)
                elif isinstance(value, Ref):
                    param = self.param(value.name)
                    if param is not None and isinstance(param.default, str):
                        keys.add(param.default)
        return keys


def show_value(value: Any) -> str:
    """A runbook value as the operator wrote it: `${param}` references and templates verbatim."""
    if isinstance(value, Ref):
        return "${" + value.name + "}"
    if isinstance(value, Template):
        return value.text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def describe_step(step: Step) -> str:
    """A one-line plain-text description, used when the step has no name."""
    target = show_value(step.flag) if step.flag is not None else step.selector.describe() if step.selector else "?"
    if step.kind is StepKind.NOTE:
        return "note"
    if step.kind in (StepKind.CHECK, StepKind.WAIT):
        assert step.condition is not None
        text = step.condition.describe()
        if step.kind is StepKind.WAIT:
            return f"wait until {text} (timeout {show_value(step.timeout)}s)"
        return f"check {text}"
    if step.kind is StepKind.KILL:
        return f"kill {target}"
    if step.kind is StepKind.ROLLOUT:
        return f"set rollout of {target} to {show_value(step.percent)}%"
    if step.kind is StepKind.ROLLBACK:
        to = f" to version {show_value(step.to_version)}" if step.to_version is not None else ""
        return f"roll back {target}{to}"
    if step.kind is StepKind.RESTORE:
        return f"restore {target} to version {show_value(step.to_version)}"
    guard = step.guard.describe() if step.guard else "?"
    stages = ", ".join(show_value(p) for p in step.percents)
    return f"progressive rollout of {target}: {stages}% (roll back if {guard})"


# --- value types ------------------------------------------------------------------------------

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


PARSERS = {
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
