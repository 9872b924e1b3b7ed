"""Reading a runbook's `steps:` list: which kinds of step there are, the fields each takes, and the checks
that go across fields (one bound per error-rate condition, percents that go up, a guard on a progressive rollout).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flagops.runbooks.fields import FieldReader
from flagops.runbooks.schema import Condition, Guard, ParamType, Selector, Step, StepKind, Value
from flagops.yamlsrc import Located

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
STRUCTURED_FIELDS = {StepKind.PROGRESSIVE: ("guard",)}
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


class StepReader(FieldReader):
    """Steps in order; a step is one kind (its key) plus that kind's fields and the common ones."""

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
            return replace(step, text=text)
        if kind in (StepKind.CHECK, StepKind.WAIT):
            step = replace(step, condition=self._condition(head, values, spec, where, field, node.line))
            if kind is StepKind.WAIT:
                step = replace(step, timeout=values.get("timeout", 300.0), poll=values.get("poll", 10.0))
            return step
        step = self._target(step, head, field, kind)
        if kind is StepKind.ROLLOUT:
            if "percent" not in spec:
                self.problem(node.line, f"{where}.percent", "required: the rollout percent 0-100")
            return replace(step, percent=values.get("percent"))
        if kind is StepKind.ROLLBACK:
            return replace(step, to_version=values.get("to_version"))
        if kind is StepKind.RESTORE:
            if "to_version" not in spec:
                self.problem(node.line, f"{where}.to_version", "required: the version to restore")
            return replace(step, to_version=values.get("to_version"))
        if kind is StepKind.PROGRESSIVE:
            return self._progressive(step, spec, values, where, node.line)
        return step

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
            return replace(step, selector=Selector(**sel))
        if head.value is None:
            self.problem(head.line, field, "expected a flag key or a selector mapping (owner, tag, kill_switch ...)")
            return step
        return replace(step, flag=self.value(head, ParamType.FLAG, field))

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
        return replace(
            step, percents=percents, guard=guard, hold=values.get("hold", 60.0), poll=values.get("poll", 10.0)
        )
