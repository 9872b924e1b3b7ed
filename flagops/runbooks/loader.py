"""Read runbook files into `Runbook`s, with every problem named by file, line and field.

Loading checks structure and types only; `flagops.runbooks.validate` then checks flags, environments and
owners against the live backend. Problems are collected (not just the first) so one edit fixes them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flagops.errors import ConfigError
from flagops.runbooks import yamlsrc
from flagops.runbooks.schema import (
    COMPATIBLE,
    PARSERS,
    PLACEHOLDER,
    RUNBOOK_ID,
    Condition,
    Guard,
    Param,
    ParamType,
    Ref,
    Runbook,
    Selector,
    Step,
    StepKind,
    Template,
    Value,
    parse_text,
)
from flagops.runbooks.yamlsrc import Located

TOP_FIELDS = ("id", "title", "description", "environment", "params", "steps", "tags")
PARAM_FIELDS = ("type", "default", "description", "choices")
COMMON_STEP_FIELDS = {"name": ParamType.STRING, "environment": ParamType.ENVIRONMENT}
CONDITION_FIELDS = {
    "flag": ParamType.FLAG,
    "above": ParamType.PERCENT,
    "below": ParamType.PERCENT,
    "window": ParamType.DURATION,
    "enabled": ParamType.BOOL,
    "rollout": ParamType.PERCENT,
    "above_control_by": ParamType.PERCENT,
    "below_control_by": ParamType.PERCENT,
}
ARM_BOUNDS = ("above_control_by", "below_control_by")  # treatment vs control, in percentage points
STEP_FIELDS: dict[StepKind, dict[str, ParamType]] = {
    StepKind.NOTE: {},
    StepKind.CHECK: CONDITION_FIELDS,
    StepKind.WAIT: {**CONDITION_FIELDS, "timeout": ParamType.DURATION, "poll": ParamType.DURATION},
    StepKind.KILL: {},
    StepKind.ROLLOUT: {"percent": ParamType.PERCENT},
    StepKind.ROLLBACK: {"to_version": ParamType.INT},
    StepKind.RESTORE: {"to_version": ParamType.INT},
    StepKind.PROGRESSIVE: {"percents": ParamType.PERCENT, "hold": ParamType.DURATION, "poll": ParamType.DURATION},
}
APPROVAL_FIELD = "waitForApproval"  # {timeout: 30m}: how long a step whose change needs approval waits for it
STRUCTURED_FIELDS = {
    StepKind.PROGRESSIVE: ("guard", APPROVAL_FIELD),
    **{kind: (APPROVAL_FIELD,) for kind in (StepKind.KILL, StepKind.ROLLOUT, StepKind.ROLLBACK, StepKind.RESTORE)},
}
SELECTOR_FIELDS = {
    "owner": ParamType.TEAM,
    "tag": ParamType.STRING,
    "kill_switch": ParamType.BOOL,
    "enabled": ParamType.BOOL,
    "partial": ParamType.BOOL,
}
GUARD_FIELDS = {
    "error_rate_above": ParamType.PERCENT,
    "window": ParamType.DURATION,
    "treatment_above_control_by": ParamType.PERCENT,
}
DEFAULT_PERCENTS = (1.0, 5.0, 10.0, 25.0, 50.0)
TEXT_TYPES = (ParamType.STRING, ParamType.FLAG, ParamType.TEAM, ParamType.ENVIRONMENT)
SUFFIX = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str
    message: str


class RunbookError(ConfigError):
    """A runbook file is malformed. `problems` lists each one; the message shows them all."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        lines = [format_problem(path, p) for p in problems]
        head = lines[0] if len(lines) == 1 else f"{path}: {len(lines)} problems"
        super().__init__(head, detail=None if len(lines) == 1 else "\n".join("  " + x for x in lines))


def format_problem(path: str, problem: Problem) -> str:
    where = f"{path}:{problem.line}" if problem.line else path
    return f"{where}: {problem.field}: {problem.message}" if problem.field else f"{where}: {problem.message}"


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.params: dict[str, Param] = {}

    def problem(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(Problem(line, field, message))

    def unknown_fields(self, node: Located, allowed: Iterable[str], where: str) -> None:
        allowed = list(allowed)
        for key, value in node.value.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(allowed)}"
                self.problem(value.line, f"{where}{key}", f"unknown field{hint}")

    def mapping(self, node: Located | None, field: str) -> dict[str, Located] | None:
        if node is None:
            return None
        if not node.is_map():
            self.problem(node.line, field, f"expected a mapping, got {_kind(node.value)}")
            return None
        return dict(node.value)

    def text(self, node: Located | None, field: str, required: bool = False) -> str | None:
        if node is None or node.value is None:
            if required:
                self.problem(node.line if node else None, field, "required")
            return None
        try:
            return parse_text(node.value)
        except ValueError as exc:
            self.problem(node.line, field, str(exc))
            return None

    def value(self, node: Located, vtype: ParamType, field: str) -> Value:
        """A typed field value: a literal parsed to `vtype`, or a `${param}` reference checked against it."""
        raw = node.value
        if isinstance(raw, str) and "${" in raw:
            names = tuple(PLACEHOLDER.findall(raw))
            if not names or raw.count("${") != len(names):
                self.problem(node.line, field, "a placeholder must look like ${param_name}")
                return None
            for name in names:
                if name not in self.params:
                    close = difflib.get_close_matches(name, list(self.params), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    self.problem(node.line, field, f"unknown param {name!r}{hint}")
                    return None
            if raw == "${" + names[0] + "}":
                ptype = self.params[names[0]].type
                if ptype not in COMPATIBLE[vtype]:
                    self.problem(
                        node.line, field, f"param {names[0]!r} is a {ptype.value}, but this field takes a {vtype.value}"
                    )
                    return None
                return Ref(names[0], vtype)
            if vtype not in TEXT_TYPES:
                self.problem(
                    node.line, field, f"expected a {vtype.value} or a single ${{param}}, not text around a placeholder"
                )
                return None
            return Template(raw, names, vtype)
        if raw is None or isinstance(raw, (dict, list)):
            self.problem(node.line, field, f"expected a {vtype.value}, got {_kind(raw)}")
            return None
        try:
            return PARSERS[vtype](raw)
        except ValueError as exc:
            self.problem(node.line, field, str(exc))
            return None

    # --- params ---

    def read_params(self, node: Located | None) -> tuple[Param, ...]:
        items = self.mapping(node, "params")
        if not items:
            return ()
        out = []
        for name, spec_node in items.items():
            field = f"params.{name}"
            if not name.isidentifier():
                self.problem(spec_node.line, field, "a param name is letters, digits and _ (no dashes)")
                continue
            spec = self.mapping(spec_node, field)
            if spec is None:
                continue
            self.unknown_fields(spec_node, PARAM_FIELDS, f"{field}.")
            type_node = spec.get("type")
            if type_node is None:
                self.problem(spec_node.line, f"{field}.type", "required: " + ", ".join(t.value for t in ParamType))
                continue
            try:
                ptype = ParamType(type_node.value)
            except ValueError:
                self.problem(
                    type_node.line, f"{field}.type", "expected one of " + ", ".join(t.value for t in ParamType)
                )
                continue
            default, required = None, True
            if "default" in spec and spec["default"].value is not None:
                try:
                    default, required = PARSERS[ptype](spec["default"].value), False
                except ValueError as exc:
                    self.problem(spec["default"].line, f"{field}.default", str(exc))
            choices: tuple[Any, ...] = ()
            if "choices" in spec:
                choices = self._choices(spec["choices"], ptype, f"{field}.choices")
                if default is not None and choices and default not in choices:
                    self.problem(spec["default"].line, f"{field}.default", "not one of the choices")
            description = self.text(spec.get("description"), f"{field}.description") or ""
            param = Param(name, ptype, default, required, description, choices, spec_node.line)
            self.params[name] = param
            out.append(param)
        return tuple(out)

    def _choices(self, node: Located, ptype: ParamType, field: str) -> tuple[Any, ...]:
        if not node.is_list() or not node.value:
            self.problem(node.line, field, "expected a non-empty list")
            return ()
        out = []
        for i, item in enumerate(node.value):
            try:
                out.append(PARSERS[ptype](item.value))
            except ValueError as exc:
                self.problem(item.line, f"{field}[{i}]", str(exc))
        return tuple(out)

    # --- steps ---

    def read_steps(self, node: Located | None, line: int) -> tuple[Step, ...]:
        if node is None:
            self.problem(line, "steps", "required: a list of steps")
            return ()
        if not node.is_list() or not node.value:
            self.problem(node.line, "steps", "expected a non-empty list of steps")
            return ()
        steps = []
        for i, item in enumerate(node.value, start=1):
            step = self.read_step(item, i)
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def read_step(self, node: Located, index: int) -> Step | None:
        where = f"steps[{index}]"
        spec = self.mapping(node, where)
        if spec is None:
            return None
        kinds = [k for k in spec if k in StepKind._value2member_map_]
        # `rollout` is a step kind and also a field of state conditions (check/wait): a field there
        kinds = [k for k in kinds if not any(k in STEP_FIELDS[StepKind(o)] for o in kinds if o != k)]
        if len(kinds) != 1:
            what = "no step kind" if not kinds else "more than one step kind (" + ", ".join(kinds) + ")"
            self.problem(node.line, where, f"{what}; a step is one of: " + ", ".join(k.value for k in StepKind))
            return None
        kind = StepKind(kinds[0])
        head = spec[kind.value]
        fields = STEP_FIELDS[kind]
        allowed = [kind.value, *COMMON_STEP_FIELDS, *fields, *STRUCTURED_FIELDS.get(kind, ())]
        self.unknown_fields(node, allowed, f"{where}.")
        values: dict[str, Any] = {}
        for name, vtype in {**COMMON_STEP_FIELDS, **fields}.items():
            if name in spec and name != "percents":
                values[name] = self.value(spec[name], vtype, f"{where}.{name}")
        step = Step(
            index=index, kind=kind, line=node.line, name=values.get("name"), environment=values.get("environment")
        )
        field = f"{where}.{kind.value}"
        if kind is StepKind.NOTE:
            text = self.value(head, ParamType.STRING, field) if head.value is not None else None
            if text is None:
                self.problem(head.line, field, "expected the text to show")
            return _replace(step, text=text)
        if kind in (StepKind.CHECK, StepKind.WAIT):
            step = _replace(step, condition=self._condition(head, values, spec, where, field, node.line))
            if kind is StepKind.WAIT:
                step = _replace(step, timeout=values.get("timeout", 300.0), poll=values.get("poll", 10.0))
            return step
        step = self._approval(self._target(step, head, field, kind), spec, where)
        if kind is StepKind.ROLLOUT:
            if "percent" not in spec:
                self.problem(node.line, f"{where}.percent", "required: the rollout percent 0-100")
            return _replace(step, percent=values.get("percent"))
        if kind is StepKind.ROLLBACK:
            return _replace(step, to_version=values.get("to_version"))
        if kind is StepKind.RESTORE:
            if "to_version" not in spec:
                self.problem(node.line, f"{where}.to_version", "required: the version to restore")
            return _replace(step, to_version=values.get("to_version"))
        if kind is StepKind.PROGRESSIVE:
            return self._progressive(step, spec, values, where, node.line)
        return step

    def _approval(self, step: Step, spec: dict[str, Located], where: str) -> Step:
        if APPROVAL_FIELD not in spec:
            return step
        field = f"{where}.{APPROVAL_FIELD}"
        approval = self.mapping(spec[APPROVAL_FIELD], field)
        if approval is None:
            return step
        self.unknown_fields(spec[APPROVAL_FIELD], ["timeout"], f"{field}.")
        if "timeout" not in approval:
            self.problem(spec[APPROVAL_FIELD].line, f"{field}.timeout", "required: how long to wait, like 30m")
            return step
        return _replace(step, approval_timeout=self.value(approval["timeout"], ParamType.DURATION, f"{field}.timeout"))

    def _target(self, step: Step, head: Located, field: str, kind: StepKind) -> Step:
        if head.is_map():
            if kind in (StepKind.RESTORE, StepKind.PROGRESSIVE):
                self.problem(head.line, field, f"{kind.value} takes one flag key, not a selector")
                return step
            self.unknown_fields(head, SELECTOR_FIELDS, f"{field}.")
            sel = {
                name: self.value(head.value[name], vtype, f"{field}.{name}")
                for name, vtype in SELECTOR_FIELDS.items()
                if name in head.value
            }
            if not sel:
                self.problem(head.line, field, "a selector needs at least one of: " + ", ".join(SELECTOR_FIELDS))
            return _replace(step, selector=Selector(**sel))
        if head.value is None:
            self.problem(head.line, field, "expected a flag key or a selector mapping (owner, tag, kill_switch ...)")
            return step
        return _replace(step, flag=self.value(head, ParamType.FLAG, field))

    def _condition(
        self, head: Located, values: dict[str, Any], spec: dict[str, Located], where: str, field: str, line: int
    ) -> Condition | None:
        metric = head.value
        if metric not in ("error_rate", "state"):
            self.problem(head.line, field, f"expected error_rate or state, got {str(metric)[:40]!r}")
            return None
        if "flag" not in spec:
            self.problem(line, f"{where}.flag", "required: the flag to watch")
        bounds = [b for b in ("above", "below") if b in spec]
        if metric == "error_rate":
            for name in ("enabled", "rollout"):
                if name in spec:
                    self.problem(spec[name].line, f"{where}.{name}", "only for state conditions")
            if len(bounds) + sum(b in spec for b in ARM_BOUNDS) != 1:
                self.problem(
                    line,
                    where,
                    "an error_rate condition takes exactly one of: above, below, above_control_by, below_control_by",
                )
        else:
            for name in ARM_BOUNDS:
                if name in spec:
                    self.problem(spec[name].line, f"{where}.{name}", "only for error_rate conditions")
            if "window" in spec:
                self.problem(spec["window"].line, f"{where}.window", "only for error_rate conditions")
            if not bounds and "enabled" not in spec and "rollout" not in spec:
                self.problem(line, where, "a state condition needs enabled, rollout, above or below")
        return Condition(
            metric=metric,
            flag=values.get("flag"),
            above=values.get("above"),
            below=values.get("below"),
            window=values.get("window", 60.0),
            enabled=values.get("enabled"),
            rollout=values.get("rollout"),
            above_control_by=values.get("above_control_by"),
            below_control_by=values.get("below_control_by"),
        )

    def _progressive(self, step: Step, spec: dict[str, Located], values: dict[str, Any], where: str, line: int) -> Step:
        percents: tuple[Value, ...] = DEFAULT_PERCENTS
        if "percents" in spec:
            node = spec["percents"]
            if not node.is_list() or not node.value:
                self.problem(node.line, f"{where}.percents", "expected a list of percents, like [1, 5, 10, 25, 50]")
            else:
                percents = tuple(
                    self.value(item, ParamType.PERCENT, f"{where}.percents[{i}]") for i, item in enumerate(node.value)
                )
                literal = [p for p in percents if isinstance(p, float)]
                if literal != sorted(literal) or len(set(literal)) != len(literal):
                    self.problem(node.line, f"{where}.percents", "percents must go up, each once")
        guard = None
        guard_spec = self.mapping(spec.get("guard"), f"{where}.guard")
        if guard_spec is None:
            if "guard" not in spec:
                self.problem(
                    line,
                    f"{where}.guard",
                    "required: guard: {error_rate_above: N} (percent) and/or {treatment_above_control_by: N} (points)",
                )
        else:
            self.unknown_fields(spec["guard"], GUARD_FIELDS, f"{where}.guard.")
            g = {
                name: self.value(guard_spec[name], vtype, f"{where}.guard.{name}")
                for name, vtype in GUARD_FIELDS.items()
                if name in guard_spec
            }
            if "error_rate_above" not in guard_spec and "treatment_above_control_by" not in guard_spec:
                self.problem(
                    spec["guard"].line,
                    f"{where}.guard",
                    "needs error_rate_above (percent) or treatment_above_control_by (points), or both",
                )
            guard = Guard(
                error_rate_above=g.get("error_rate_above"),
                window=g.get("window"),
                treatment_above_control_by=g.get("treatment_above_control_by"),
            )
        return _replace(
            step, percents=percents, guard=guard, hold=values.get("hold", 60.0), poll=values.get("poll", 10.0)
        )

    # --- the whole file ---

    def read(self, root: Located) -> Runbook | None:
        top = self.mapping(root, "")
        if top is None:
            return None
        self.unknown_fields(root, TOP_FIELDS, "")
        rb_id = self.text(top.get("id"), "id")
        if rb_id is None:
            self.problem(root.line, "id", "required: a short id like checkout-error-spike")
        elif not RUNBOOK_ID.match(rb_id):
            self.problem(top["id"].line, "id", "use lowercase letters, digits, dots, dashes (max 64)")
        title = self.text(top.get("title"), "title")
        if title is None:
            self.problem(root.line, "title", "required")
        description = self.text(top.get("description"), "description") or ""
        tags: tuple[str, ...] = ()
        if "tags" in top:
            node = top["tags"]
            if not node.is_list() or not all(isinstance(t.value, str) for t in node.value):
                self.problem(node.line, "tags", "expected a list of words")
            else:
                tags = tuple(t.value for t in node.value)
        params = self.read_params(top.get("params"))
        environment = None
        if "environment" not in top:
            self.problem(root.line, "environment", "required: the environment it acts on (or ${param})")
        else:
            environment = self.value(top["environment"], ParamType.ENVIRONMENT, "environment")
        steps = self.read_steps(top.get("steps"), root.line)
        if self.problems:
            return None
        assert rb_id is not None and title is not None
        return Runbook(
            id=rb_id,
            title=title,
            environment=environment,
            steps=steps,
            description=description,
            params=params,
            path=self.path,
            tags=tags,
            environment_line=top["environment"].line if "environment" in top else root.line,
        )


def _replace(step: Step, **changes: Any) -> Step:
    from dataclasses import replace

    return replace(step, **changes)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def loads(text: str | bytes, path: str = "<runbook>") -> Runbook:
    """Parse and check one runbook's text. Raises `RunbookError`, nothing else."""
    try:
        root = yamlsrc.parse(text)
    except yamlsrc.SourceError as exc:
        raise RunbookError(path, [Problem(exc.line, "", exc.problem)]) from None
    reader = _Reader(path)
    runbook = reader.read(root)
    if runbook is None:
        raise RunbookError(path, reader.problems or [Problem(root.line, "", "not a runbook")])
    return runbook


def load_file(path: Path) -> Runbook:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunbookError(str(path), [Problem(None, "", f"cannot read: {exc.strerror or exc}")]) from None
    return loads(data, str(path))
