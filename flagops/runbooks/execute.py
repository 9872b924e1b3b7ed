"""Running a bound runbook step by step, every change through `Ops.apply`, with a run log on disk.

The runner stops at the first failed step. Before each write the step is marked running in the log; after
it the change (versions before and after) is recorded. A run that was killed is resumed from its log: the
step that was in flight is reconciled against the audit log (entries carrying this run id and step), so
a write that did land is never sent twice. Faces (CLI, TUI) pass a `confirm` callback and an `on_event`
callback for live progress; neither is called from anywhere but the runner's own task.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flagops.errors import Conflict, FlagOpsError, Refused
from flagops.model import ChangeOrigin
from flagops.ops import Ops, PlannedChange, describe_state
from flagops.runbooks import conditions
from flagops.runbooks.approval_step import apply_after_approval
from flagops.runbooks.runlog import ChangeRecord, RunLog, RunStore, now_iso
from flagops.runbooks.schema import Runbook, Step, StepKind
from flagops.runbooks.targets import resolve, step_environment


@dataclass(frozen=True)
class RunEvent:
    kind: str  # run-start | step-start | progress | change | step-done | step-failed | run-done
    step: int | None
    message: str
    value: float | None = None  # the watched metric (error rate in percent), for waits and guards


Confirm = Callable[[Step, list[PlannedChange]], Awaitable[bool]]
OnEvent = Callable[[RunEvent], None]


class StepFailed(Exception):
    def __init__(self, message: str, *, stopped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.stopped = stopped  # the operator said no, rather than something failing


async def _always(step: Step, plans: list[PlannedChange]) -> bool:
    return True


class Runner:
    def __init__(
        self,
        ops: Ops,
        runbook: Runbook,
        log: RunLog,
        store: RunStore,
        *,
        confirm: Confirm | None = None,
        on_event: OnEvent | None = None,
        attempt: int = 0,
    ) -> None:
        self.ops = ops
        self.backend = ops.backend
        self.runbook = runbook
        self.log = log
        self.store = store
        self.confirm = confirm or _always
        self.on_event = on_event or (lambda event: None)
        self.attempt = attempt  # part of idempotency keys: a retried step must not replay a failed write

    def emit(self, kind: str, step: int | None, message: str, value: float | None = None) -> None:
        self.on_event(RunEvent(kind, step, message, value))

    def origin(self, step: Step) -> ChangeOrigin:
        return ChangeOrigin(runbook=self.runbook.id, run_id=self.log.run_id, step=step.index)

    def idempotency_key(self, step: Step, flag: str, stage: str = "") -> str:
        name = f"flagops:{self.log.run_id}:{self.attempt}:{step.index}:{flag}:{stage}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))

    async def run(self) -> RunLog:
        log = self.log
        log.status, log.finished_at, log.message, log.error_code = "running", None, "", None
        self.store.save(log)
        self.emit("run-start", None, log.run_id)
        for step in self.runbook.steps:
            record = log.step(step.index)
            if record.status in ("done", "skipped"):
                continue
            resuming = record.status == "running"
            record.status, record.started_at, record.message = "running", now_iso(), ""
            self.store.save(log)
            self.emit("step-start", step.index, step.title())
            try:
                message = await self._step(step, resuming)
            except (StepFailed, FlagOpsError, Exception) as exc:
                stopped = isinstance(exc, StepFailed) and exc.stopped
                if isinstance(exc, (StepFailed, FlagOpsError)):
                    text = exc.message
                else:  # a bug or an untyped failure: say so plainly; the log keeps the run resumable
                    text = f"unexpected {type(exc).__name__}: {str(exc)[:200]}"
                record.status, record.message, record.finished_at = "failed", text, now_iso()
                log.status = "stopped" if stopped else "failed"
                log.error_code = exc.exit_code if isinstance(exc, FlagOpsError) else None
                log.message = f"step {step.index} ({step.title()}): {text}"
                log.finished_at = now_iso()
                self.store.save(log)
                self.emit("step-failed", step.index, text)
                self.emit("run-done", None, log.message)
                return log
            record.status, record.message, record.finished_at = "done", message, now_iso()
            self.store.save(log)
            self.emit("step-done", step.index, message)
        log.status, log.finished_at = "done", now_iso()
        log.message = f"all {len(self.runbook.steps)} steps done"
        self.store.save(log)
        self.emit("run-done", None, log.message)
        return log

    async def _step(self, step: Step, resuming: bool) -> str:
        env = step_environment(self.runbook, step)
        if step.kind is StepKind.NOTE:
            self.emit("progress", step.index, str(step.text).strip())
            return ""
        if step.kind is StepKind.CHECK:
            assert step.condition is not None
            reading = await conditions.read(self.backend, step.condition, env)
            if not reading.holds:
                raise StepFailed(f"check failed: wanted {step.condition.describe()}; saw {reading.text}")
            return f"ok: {reading.text}"
        if step.kind is StepKind.WAIT:
            return await self._wait(step, env)
        if step.kind is StepKind.PROGRESSIVE:
            return await self._progressive(step, env, resuming)
        return await self._action(step, env, resuming)

    async def _wait(self, step: Step, env: str) -> str:
        cond = step.condition
        assert cond is not None
        timeout, poll = float(step.timeout), max(0.05, float(step.poll))
        deadline = time.monotonic() + timeout
        seen = "no reading yet"
        while True:
            try:
                reading = await conditions.read(self.backend, cond, env)
            except FlagOpsError as exc:  # a metrics hiccup is not the end of a wait
                seen = f"cannot read: {exc.message}"
                self.emit("progress", step.index, seen)
            else:
                seen = reading.text
                self.emit("progress", step.index, f"watching {cond.describe()}: {seen}", reading.error_rate)
                if reading.holds:
                    return f"ok: {seen}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StepFailed(f"timed out after {timeout:g}s waiting for {cond.describe()}; last: {seen}")
            await asyncio.sleep(min(poll, remaining))

    async def _plan(self, step: Step, key: str, env: str) -> PlannedChange:
        if step.kind is StepKind.KILL:
            return await self.ops.plan_kill(key, env)
        if step.kind is StepKind.ROLLOUT:
            return await self.ops.plan_rollout(key, env, float(step.percent))
        to_version = None if step.to_version is None else int(step.to_version)
        return await self.ops.plan_rollback(key, env, to_version)

    async def _reconcile(self, step: Step, env: str, keys: list[str]) -> set[str]:
        """Flags this step already changed in an earlier, interrupted attempt (found in the audit log).

        A selector is read from the environment's whole recent audit: a flag the step already changed may
        no longer match it (a freeze's partial rollouts are off now) and must still be recorded for undo.
        """
        done: set[str] = set()
        recorded = {(c.flag, c.after_version) for c in self.log.changes if c.step == step.index}
        if step.selector is not None:
            batches = [await self.backend.audit(environment=env, limit=1000)]
        else:
            batches = [await self.backend.audit(flag=key, environment=env, limit=100) for key in keys]
        for entries in batches:
            for entry in reversed(entries):  # oldest first, so undo sees the changes in order
                key = entry.flag_key
                origin = entry.origin
                if origin is None or origin.run_id != self.log.run_id or origin.step != step.index:
                    continue
                before = entry.before.get("version") if isinstance(entry.before, dict) else None
                after = entry.after.get("version") if isinstance(entry.after, dict) else None
                if isinstance(before, int) and isinstance(after, int) and (key, after) not in recorded:
                    self.log.changes.append(
                        ChangeRecord(
                            step.index,
                            key,
                            env,
                            entry.action.removeprefix("flag."),
                            f"{key} in {env}: recorded by the audit log (resumed)",
                            before,
                            after,
                            idempotency_key=entry.idempotency_key,
                        )
                    )
                    recorded.add((key, after))
                done.add(key)
        self.store.save(self.log)
        return done

    async def _apply(
        self,
        step: Step,
        plan: PlannedChange,
        action: str,
        stage: str = "",
        reason: str | None = None,
        automatic: bool = False,
    ) -> ChangeRecord:
        key, env = plan.flag.key, plan.environment.key
        rule = await self.ops.needs_approval(plan)
        if rule is not None:  # held for four eyes: a change request, waited for (runbooks/approval_step.py)
            return await apply_after_approval(self, step, plan, rule, action, stage, automatic)
        try:
            applied = await self.ops.apply(
                plan,
                reason=reason or self.log.reason,
                ticket=self.log.ticket,
                origin=self.origin(step),
                idempotency_key=self.idempotency_key(step, key, stage),
            )
        except Conflict as exc:
            fresh = exc.fresh.state(env) if exc.fresh else None
            now = (
                f" (now {describe_state(fresh)}, version {fresh.version} by {fresh.updated_by or '?'})" if fresh else ""
            )
            raise StepFailed(f"{key} in {env} changed after it was read{now}; nothing sent for it") from None
        change = ChangeRecord(
            step.index,
            key,
            env,
            action,
            plan.summary(),
            plan.before.version,
            applied.state.version,
            idempotency_key=applied.idempotency_key,
            automatic=automatic,
        )
        self.log.changes.append(change)
        self.store.save(self.log)
        confirmed = "" if applied.confirmed else " (not yet confirmed as served)"
        self.emit("change", step.index, plan.summary() + confirmed)
        return change

    async def _action(self, step: Step, env: str, resuming: bool) -> str:
        keys = await resolve(self.backend, self.runbook, step)
        if not keys:
            return f"no flags match {step.selector.describe() if step.selector else '?'} in {env}: nothing to do"
        already = await self._reconcile(step, env, keys) if resuming else set()
        plans = [await self._plan(step, key, env) for key in keys if key not in already]
        to_change = [p for p in plans if not p.noop]
        for plan in plans:
            self.ops.check(plan, self.log.reason)
        if to_change and not await self.confirm(step, to_change):
            raise StepFailed("not confirmed; stopped before this step changed anything", stopped=True)
        record = self.log.step(step.index)
        for plan in to_change:
            record.baseline.setdefault(plan.flag.key, plan.before.version)
        self.store.save(self.log)
        for plan in to_change:
            await self._apply(step, plan, step.kind.value)
        # the changes themselves were reported as they landed; say what else there is to know
        lines = [f"{len(to_change)} flag(s) changed"] if to_change else []
        lines += [p.summary() for p in plans if p.noop]
        lines += [f"{k} in {env}: already done before the interruption" for k in sorted(already)]
        return "; ".join(lines) or "nothing to change"

    async def _progressive(self, step: Step, env: str, resuming: bool) -> str:
        key = str(step.flag)
        assert step.guard is not None
        guard = step.guard
        limit = float(guard.error_rate_above) if guard.error_rate_above is not None else None
        gap_limit = float(guard.treatment_above_control_by) if guard.treatment_above_control_by is not None else None
        hold = float(step.hold)
        window = float(step.guard.window) if step.guard.window is not None else max(hold, 1.0)
        record = self.log.step(step.index)
        if resuming:
            await self._reconcile(step, env, [key])
        flag = await self.backend.get_flag(key, env)
        state = flag.state(env)
        if state is None:
            raise StepFailed(f"{key} has no state in {env}")
        if not state.enabled:
            raise StepFailed(
                f"{key} is off in {env}: a progressive rollout raises the rollout of a flag that is on; nothing changed"
            )
        baseline = record.baseline.setdefault(key, state.version)
        self.store.save(self.log)
        stages = [float(p) for p in step.percents if float(p) > state.rollout]
        if not stages:
            return f"{key} is already at {state.rollout:g}%, at or above every stage; nothing to do"
        first = await self.ops.plan_rollout(key, env, stages[0])
        self.ops.check(first, self.log.reason)
        if not await self.confirm(step, [first]):
            raise StepFailed("not confirmed; stopped before this step changed anything", stopped=True)
        worst = 0.0
        for pct in stages:
            plan = first if pct == stages[0] else await self.ops.plan_rollout(key, env, pct)
            await self._apply(step, plan, "rollout", stage=f"{pct:g}")
            breach, rate = await self._guard(step, key, env, pct, limit, gap_limit, hold, window)
            worst = max(worst, rate)
            if breach is not None:
                back = await self.ops.plan_rollback(key, env, baseline)
                why = f"automatic rollback: runbook guard breached ({breach}); run reason: {self.log.reason}"
                if not back.noop:
                    await self._apply(step, back, "guard-rollback", stage="rollback", reason=why, automatic=True)
                raise StepFailed(
                    f"guard breached at {pct:g}%: {breach}; rolled back to version {baseline} "
                    f"({describe_state(back.after)})"
                )
        return f"{key} reached {stages[-1]:g}%; error rate stayed at or below {conditions.percent(worst)}"

    async def _guard(
        self,
        step: Step,
        key: str,
        env: str,
        pct: float,
        limit: float | None,
        gap_limit: float | None,
        hold: float,
        window: float,
    ) -> tuple[str | None, float]:
        """Watch the error rate (and/or treatment vs control) for `hold` seconds; (breach or None, worst rate)."""
        deadline = time.monotonic() + hold
        poll = max(0.05, float(step.poll))
        worst = 0.0
        while True:
            breach = None
            try:
                if limit is not None:
                    breach, worst = await self._guard_absolute(step, key, env, pct, limit, window, worst)
                if breach is None and gap_limit is not None:
                    breach, worst = await self._guard_arms(step, key, env, pct, gap_limit, window, worst)
            except FlagOpsError as exc:
                if isinstance(exc, Refused):
                    raise
                self.emit("progress", step.index, f"at {pct:g}%: cannot read the error rate: {exc.message}")
            if breach is not None:
                return breach, worst
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, worst
            await asyncio.sleep(min(poll, remaining))

    async def _guard_absolute(
        self, step: Step, key: str, env: str, pct: float, limit: float, window: float, worst: float
    ) -> tuple[str | None, float]:
        rate, evaluations = await conditions.error_rate(self.backend, key, env, window)
        if rate is None:
            raise Refused(f"{self.backend.name} has no error-rate source; the guard cannot watch {key}")
        worst = max(worst, rate)
        shown = conditions.percent(rate)
        self.emit(
            "progress",
            step.index,
            f"at {pct:g}%: error rate {shown} (guard {conditions.percent(limit)}, {evaluations:,.0f} evaluations)",
            rate,
        )
        return (f"error rate {shown} > {conditions.percent(limit)}" if rate > limit else None), worst

    async def _guard_arms(
        self, step: Step, key: str, env: str, pct: float, gap_limit: float, window: float, worst: float
    ) -> tuple[str | None, float]:
        reading = await conditions.arm_rates(self.backend, key, env, window)
        if reading.treatment_rate is not None:
            worst = max(worst, reading.treatment_rate)
        self.emit(
            "progress",
            step.index,
            f"at {pct:g}%: {reading.text()} (guard: treatment > control + {gap_limit:g} points)",
            reading.treatment_rate,
        )
        if reading.gap is not None and reading.gap > gap_limit:
            return f"{reading.text()}, more than {gap_limit:g} points above control", worst
        return None, worst
