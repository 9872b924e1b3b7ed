"""The dry run: every step of a bound runbook with what it would do now, before -> after, writing nothing.

Action steps are planned through `Ops` (the same plans `run` applies). A flag an earlier step of the same
runbook already changes is shown from the state that step leaves (simulated), so a kill followed by a
rollout reads as it will happen. Checks and waits show the value they would see right now.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flagops.errors import FlagOpsError
from flagops.model import FlagState, StateChange
from flagops.ops import Ops, PlannedChange, describe_state
from flagops.runbooks import conditions
from flagops.runbooks.schema import Runbook, Step, StepKind
from flagops.runbooks.targets import resolve, step_environment


@dataclass
class StepPlan:
    step: Step
    environment: str
    lines: list[str] = field(default_factory=list)  # plain text, one fact each
    changes: list[PlannedChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Planner:
    def __init__(self, ops: Ops, runbook: Runbook) -> None:
        self.ops = ops
        self.runbook = runbook
        self.simulated: dict[tuple[str, str], FlagState] = {}  # state an earlier step leaves

    async def step(self, step: Step) -> StepPlan:
        env = step_environment(self.runbook, step)
        out = StepPlan(step, env)
        if step.kind is StepKind.NOTE:
            out.lines.append(str(step.text).strip())
        elif step.kind in (StepKind.CHECK, StepKind.WAIT):
            await self._condition(step, env, out)
        elif step.kind is StepKind.PROGRESSIVE:
            await self._progressive(step, env, out)
        else:
            await self._action(step, env, out)
        return out

    async def _condition(self, step: Step, env: str, out: StepPlan) -> None:
        assert step.condition is not None
        try:
            reading = await conditions.read(self.ops.backend, step.condition, env)
        except FlagOpsError as exc:
            out.warnings.append(f"cannot read it now: {exc.message}")
            return
        if step.kind is StepKind.CHECK:
            verdict = "would pass" if reading.holds else "would FAIL now and stop the run"
        else:
            verdict = "holds already" if reading.holds else f"does not hold yet; waits up to {float(step.timeout):g}s"
        out.lines.append(f"now: {reading.text}: {verdict}")
        if step.kind is StepKind.CHECK and not reading.holds:
            out.warnings.append("this check fails against the current data")

    async def _action(self, step: Step, env: str, out: StepPlan) -> None:
        keys = await resolve(self.ops.backend, self.runbook, step)
        if not keys:
            out.lines.append(f"no flags match {step.selector.describe() if step.selector else '?'}: nothing to do")
            return
        for key in keys:
            sim = self.simulated.get((key, env))
            if step.kind is StepKind.KILL:
                plan = await self.ops.plan_kill(key, env)
                plan = self._from_simulated(plan, sim, StateChange(enabled=False))
            elif step.kind is StepKind.ROLLOUT:
                plan = await self.ops.plan_rollout(key, env, float(step.percent))
                plan = self._from_simulated(plan, sim, StateChange(rollout=float(step.percent)))
            else:
                if sim is not None:
                    out.lines.append(
                        f"{key} in {env}: roll back the change an earlier step makes "
                        "(target version decided at run time)"
                    )
                    continue
                to_version = None if step.to_version is None else int(step.to_version)
                try:
                    plan = await self.ops.plan_rollback(key, env, to_version)
                except FlagOpsError as exc:
                    out.warnings.append(f"{key}: {exc.message}")
                    continue
            out.changes.append(plan)
            out.lines.append(plan.summary())
            self.simulated[(key, env)] = plan.after

    @staticmethod
    def _from_simulated(plan: PlannedChange, sim: FlagState | None, change: StateChange) -> PlannedChange:
        if sim is None:
            return plan
        after = sim.with_changes(change)
        same = (after.enabled, after.rollout) == (sim.enabled, sim.rollout)
        return replace(plan, before=sim, after=after, noop=same)

    async def _progressive(self, step: Step, env: str, out: StepPlan) -> None:
        key = str(step.flag)
        assert step.guard is not None
        state = self.simulated.get((key, env))
        if state is None:
            try:
                flag = await self.ops.backend.get_flag(key, env)
            except FlagOpsError as exc:
                out.warnings.append(exc.message)
                return
            state = flag.state(env)
        if state is None:
            out.warnings.append(f"{key} has no state in {env}")
            return
        if not state.enabled:
            out.warnings.append(f"{key} is off in {env}: this step would stop the run without changing anything")
            return
        stages = [float(p) for p in step.percents if float(p) > state.rollout]
        if not stages:
            out.lines.append(f"{key} is already at {state.rollout:g}%: nothing to do")
            return
        first = await self.ops.plan_rollout(key, env, stages[0])
        out.changes.append(first)
        window = step.guard.window if step.guard.window is not None else step.hold
        out.lines.append(f"{key} in {env}: {describe_state(state)} -> " + " -> ".join(f"on {p:g}%" for p in stages))
        out.lines.append(
            f"at each stage, watch for {float(step.hold):g}s: if over "
            f"{conditions.window_seconds(float(window))}s the {step.guard.describe()}, "
            f"roll back to version {state.version} ({describe_state(state)}) and stop"
        )
        self.simulated[(key, env)] = state.with_changes(StateChange(rollout=stages[-1]))


async def plan_runbook(ops: Ops, runbook: Runbook) -> list[StepPlan]:
    """Plan every step of a bound runbook, in order."""
    planner = _Planner(ops, runbook)
    return [await planner.step(step) for step in runbook.steps]
