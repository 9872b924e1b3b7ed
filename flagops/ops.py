"""The one place writes happen: kill, set rollout, rollback — planned, checked, applied, confirmed.

Every face (CLI, TUI, runbooks) goes through `Ops`, so all of them get the same rules:
1. plan: read the flag now, compute before -> after and the blast radius (evaluations per minute and
   error rate over the last 5 minutes for that flag and environment);
2. check: read-only refuses, a reason of at least `min_reason_length` characters is required;
3. apply: send with If-Match (the version the plan saw) and an Idempotency-Key made once per apply and
   reused by every retry, so a retry never applies twice and a stale plan never overwrites a newer change;
4. confirm: read back until the new state is served, and report the time to effect.
A kill of a flag that is already off is a success that says so, and writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flagops.approvals import Approvals
from flagops.backends.base import FlagBackend
from flagops.errors import Conflict, FlagOpsError, Invalid, NotFound, Refused, Unauthorized
from flagops.metrics.base import VariantRate, variant_rates
from flagops.metrics.paired import metrics_source
from flagops.model import ChangeOrigin, Environment, Flag, FlagState, StateChange
from flagops.v1 import wire

if TYPE_CHECKING:
    from flagops.governance import ApprovalRule
    from flagops.probe import Probe, ProbeResult

Action = Literal["kill", "rollout", "rollback"]
log = logging.getLogger("flagops.ops")  # faces decide where it goes (the CLI: the XDG state dir)
BLAST_WINDOW_SECONDS = 300
KILL_METRICS_WAIT = 0.5  # seconds a kill's plan gives the metrics source before saying "unknown"


@dataclass(frozen=True)
class BlastRadius:
    evaluations_per_minute: float
    error_rate: float | None  # None: the platform has no error source, or metrics could not be read
    window_seconds: int
    unknown: str | None = None  # why the numbers are missing, when they are
    by_variant: tuple[VariantRate, ...] = ()  # where the metrics source splits errors by variant

    def describe(self) -> str:
        if self.unknown:
            return f"blast radius unknown ({self.unknown})"
        minutes = self.window_seconds // 60
        rate = "no error source" if self.error_rate is None else f"error rate {self.error_rate:.1%}"
        split = ", ".join(f"{v.variant} {v.rate:.1%}" for v in self.by_variant if v.rate is not None)
        if split and len(self.by_variant) > 1:
            rate += f" ({split})"
        return f"{self.evaluations_per_minute:,.0f} evaluations/min, {rate} (last {minutes} min)"


def describe_state(state: FlagState) -> str:
    if not state.enabled:
        return "off"
    return f"on {state.rollout:g}%"


@dataclass(frozen=True)
class PlannedChange:
    action: Action
    flag: Flag
    environment: Environment
    before: FlagState
    after: FlagState
    blast: BlastRadius
    to_version: int | None  # rollback target
    noop: bool

    @property
    def change(self) -> StateChange:
        """The PATCH fields this plan sends (kill and rollout)."""
        if self.action == "kill":
            return StateChange(enabled=False)
        return StateChange(rollout=self.after.rollout)

    def summary(self) -> str:
        target = f"{self.flag.key} in {self.environment.key}"
        if self.noop:
            return f"{target}: already {describe_state(self.before)}, nothing to change"
        before, after = describe_state(self.before), describe_state(self.after)
        if self.action == "rollout" and not self.before.enabled:
            before, after = f"off (rollout {self.before.rollout:g}%)", f"off (rollout {self.after.rollout:g}%)"
        text = f"{target}: {before} -> {after}"
        if self.action == "rollback":
            text += f" (restore version {self.to_version})"
        return text


@dataclass(frozen=True)
class AppliedChange:
    plan: PlannedChange
    flag: Flag
    state: FlagState
    time_to_effect: float | None  # seconds from sending the write until the new state was read back
    confirmed: bool
    noop: bool
    idempotency_key: str | None = None
    sent_at: float | None = None  # time.monotonic() when the write was sent (the probe counts from there)


def refuse_if_readonly(readonly: bool, action: str, key: str) -> None:
    """The read-only rule alone (faces call it before reading anything, to fail fast)."""
    if readonly:
        raise Refused(
            f"Read-only: flagops will not {action} {key}. Use a profile without "
            "`readonly: true` (and without --readonly) to make changes."
        )


def refuse_bad_reason(reason: str | None, min_length: int) -> None:
    """The reason rule alone."""
    given = (reason or "").strip()
    if len(given) < min_length:
        what = "A reason is required" if not given else f"The reason {given!r} is too short"
        raise Refused(
            f"{what}: say why in at least {min_length} characters "
            '(e.g. --reason "errors on checkout since 14:02, INC-123"). It goes into the audit log.'
        )


def _same_effect(a: FlagState, b: FlagState) -> bool:
    return (a.enabled, a.rollout, a.rules, a.default_variant) == (b.enabled, b.rollout, b.rules, b.default_variant)


class Ops:
    def __init__(
        self, backend: FlagBackend, *, readonly: bool = False, min_reason_length: int = 8, probe: Probe | None = None
    ) -> None:
        self.backend = backend
        self.readonly = readonly
        self.min_reason_length = min_reason_length
        self.probe = probe  # the profile's propagation probe (flagops/probe/), if it has one
        self._environments: list[Environment] | None = None
        self._approvals: Approvals | None = None

    # --- reading what a plan needs ----------------------------------------------------------

    async def environments(self) -> list[Environment]:
        if self._environments is None:
            self._environments = await self.backend.environments()
        return list(self._environments)

    async def environment(self, key: str) -> Environment:
        for env in await self.environments():
            if env.key == key:
                return env
        known = ", ".join(e.key for e in await self.environments())
        raise NotFound(f"No environment {key!r}. Environments: {known}.")

    async def blast_radius(self, key: str, environment: str, *, timeout: float = 3.0) -> BlastRadius:
        """Best effort: a plan must not wait long for, or fail on, the metrics source; a source already
        known to be failing is not asked at all (`metrics source unreachable since ...`)."""
        source = metrics_source(self.backend)
        if (down := source.health.label()) is not None:
            return BlastRadius(0.0, None, BLAST_WINDOW_SECONDS, unknown=down)
        try:
            series = await asyncio.wait_for(
                self.backend.metrics(key, environment, window_seconds=BLAST_WINDOW_SECONDS), timeout=timeout
            )
        except (TimeoutError, FlagOpsError) as exc:
            if isinstance(exc, Unauthorized):
                raise
            why = f"metrics source slower than {timeout:g}s" if isinstance(exc, asyncio.TimeoutError) else exc.message
            return BlastRadius(0.0, None, BLAST_WINDOW_SECONDS, unknown=why)
        return BlastRadius(
            series.evaluations_per_minute(),
            series.error_rate,
            BLAST_WINDOW_SECONDS,
            by_variant=tuple(v for v in variant_rates(series) if v.evaluations > 0),
        )

    async def _read(
        self, key: str, environment: str, *, metrics_timeout: float = 3.0
    ) -> tuple[Flag, Environment, FlagState, BlastRadius]:
        flag, env, blast = await asyncio.gather(
            self.backend.get_flag(key, environment),
            self.environment(environment),
            self.blast_radius(key, environment, timeout=metrics_timeout),
        )
        state = flag.state(environment)
        if state is None:
            raise NotFound(f"{key} has no state in {environment}.")
        return flag, env, state, blast

    # --- plans ------------------------------------------------------------------------------

    async def plan_kill(self, key: str, environment: str) -> PlannedChange:
        # a kill never waits on metrics: the blast radius gets what the flag read takes, plus a moment
        flag, env, before, blast = await self._read(key, environment, metrics_timeout=KILL_METRICS_WAIT)
        after = before.with_changes(StateChange(enabled=False))
        return PlannedChange("kill", flag, env, before, after, blast, None, noop=not before.enabled)

    async def plan_rollout(self, key: str, environment: str, percent: float) -> PlannedChange:
        if not 0 <= percent <= 100:
            raise Invalid(f"Rollout must be a percentage from 0 to 100, not {percent:g}.")
        flag, env, before, blast = await self._read(key, environment)
        after = before.with_changes(StateChange(rollout=float(percent)))
        return PlannedChange("rollout", flag, env, before, after, blast, None, noop=before.rollout == percent)

    async def plan_rollback(self, key: str, environment: str, to_version: int | None = None) -> PlannedChange:
        """Restore `to_version`; by default the state before the last change (found in the audit log)."""
        flag, env, before, blast = await self._read(key, environment)
        entries = await self.backend.audit(flag=key, environment=environment, limit=500)
        snapshots: dict[int, FlagState] = {}
        previous_of: dict[int, int] = {}  # version -> version it replaced
        for entry in entries:
            for snapshot in (entry.before, entry.after):
                if isinstance(snapshot, dict) and isinstance(snapshot.get("version"), int):
                    try:
                        snapshots.setdefault(snapshot["version"], wire.state_from_json(environment, snapshot))
                    except ValueError:
                        continue
            if isinstance(entry.before, dict) and isinstance(entry.after, dict):
                b, a = entry.before.get("version"), entry.after.get("version")
                if isinstance(a, int) and isinstance(b, int):
                    previous_of.setdefault(a, b)
        if to_version is None:
            to_version = previous_of.get(before.version)
            if to_version is None:
                raise NotFound(
                    f"{key} in {environment}: the audit log has no earlier version to roll back to "
                    f"(current version {before.version}). Pass --to-version N."
                )
        if to_version > before.version or to_version < 1:  # a version that does not exist: not found
            raise NotFound(
                f"{key} in {environment}: there is no version {to_version} (current: {before.version}). "
                "Pick an earlier version from `flagops audit FLAG`."
            )
        if to_version == before.version:
            raise Invalid(
                f"{key} in {environment}: version {to_version} is the current version, not an earlier "
                "version; there is nothing to roll back to it."
            )
        target = snapshots.get(to_version)
        if target is None:
            raise NotFound(
                f"{key} in {environment}: version {to_version} is not in the audit log, so flagops "
                "cannot show what it would restore. Pick a version from `flagops audit FLAG`."
            )
        after = before.with_changes(
            StateChange(
                enabled=target.enabled,
                rollout=target.rollout,
                rules=target.rules,
                default_variant=target.default_variant,
            )
        )
        return PlannedChange("rollback", flag, env, before, after, blast, to_version, noop=_same_effect(before, after))

    # --- rules ------------------------------------------------------------------------------

    def check(self, plan: PlannedChange, reason: str) -> None:
        self.check_writable(plan.action, plan.flag.key)
        self.check_reason(reason)

    def check_writable(self, action: str, key: str) -> None:
        refuse_if_readonly(self.readonly, action, key)

    def check_reason(self, reason: str | None) -> None:
        refuse_bad_reason(reason, self.min_reason_length)

    def needs_typed_key(self, plan: PlannedChange) -> bool:
        return plan.environment.protected and not plan.noop

    # --- approvals (flagops/approvals.py: change requests, break-glass reviews) ---------------

    @property
    def approvals(self) -> Approvals:
        if self._approvals is None:
            self._approvals = Approvals(self)
        return self._approvals

    async def needs_approval(self, plan: PlannedChange) -> ApprovalRule | None:
        """The policy rule that holds `plan` for approval (applying it would open a change request), or None."""
        return await self.approvals.needs_approval(plan)

    # --- apply ------------------------------------------------------------------------------

    async def apply(
        self,
        plan: PlannedChange,
        *,
        reason: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
        idempotency_key: str | None = None,
        confirm: bool = True,
        confirm_timeout: float = 10.0,
    ) -> AppliedChange:
        self.check(plan, reason)
        if plan.noop:
            log.info("%s: noop, nothing written", plan.summary())
            return AppliedChange(plan, plan.flag, plan.before, time_to_effect=0.0, confirmed=True, noop=True)
        key = idempotency_key or str(uuid.uuid4())
        env = plan.environment.key
        sent = time.monotonic()
        try:
            if plan.action == "rollback":
                assert plan.to_version is not None
                flag = await self.backend.restore(
                    plan.flag.key,
                    env,
                    plan.to_version,
                    expected_version=plan.before.version,
                    reason=reason.strip(),
                    idempotency_key=key,
                    ticket=ticket,
                    origin=origin,
                )
            else:
                flag = await self.backend.update_state(
                    plan.flag.key,
                    env,
                    plan.change,
                    expected_version=plan.before.version,
                    reason=reason.strip(),
                    idempotency_key=key,
                    ticket=ticket,
                    origin=origin,
                )
        except Conflict as exc:
            log.warning("%s %s: conflict, not written: %s", plan.action, plan.summary(), exc.message)
            raise
        except FlagOpsError as exc:
            log.warning("%s %s: failed (%s): %s", plan.action, plan.summary(), type(exc).__name__, exc.message)
            raise
        written = flag.state(env)
        if written is None:
            flag = await self.backend.get_flag(plan.flag.key, env)
            written = flag.state(env)
            assert written is not None
        if not confirm:
            return AppliedChange(
                plan, flag, written, time_to_effect=None, confirmed=False, noop=False, idempotency_key=key, sent_at=sent
            )
        served, seen, elapsed = await self._confirm(plan, written, sent, confirm_timeout)
        log.info(
            "%s %s: version %d, idempotency key %s, reason %r, ticket %s, %s",
            plan.action,
            plan.summary(),
            written.version,
            key,
            reason.strip(),
            ticket or "-",
            f"served after {elapsed:.3f}s" if elapsed is not None else "NOT confirmed within the timeout",
        )
        return AppliedChange(
            plan,
            served or flag,
            seen or written,
            time_to_effect=elapsed,
            confirmed=served is not None,
            noop=False,
            idempotency_key=key,
            sent_at=sent,
        )

    def will_probe(self, applied: AppliedChange) -> bool:
        return self.probe is not None and not applied.noop and applied.plan.action == "kill"

    async def probe_effect(self, applied: AppliedChange) -> ProbeResult | None:
        """After a kill has been applied: when did a real client (the profile's probe) get it served off?

        Called by faces once the write is done, so a probe never delays a kill; bounded by the probe's
        timeout, and a failing probe is a result that says so, never an exception. None: nothing to probe
        (no probe configured, not a kill, or a kill that changed nothing)."""
        if self.probe is None or not self.will_probe(applied) or applied.sent_at is None:
            return None
        return await self.probe.watch_kill(applied.flag, applied.plan.environment.key, sent_at=applied.sent_at)

    async def _confirm(
        self, plan: PlannedChange, written: FlagState, sent: float, timeout: float
    ) -> tuple[Flag | None, FlagState | None, float | None]:
        return await self.read_back(plan.flag.key, plan.environment.key, written, sent, timeout)

    async def read_back(
        self, key: str, env: str, written: FlagState, sent: float, timeout: float
    ) -> tuple[Flag | None, FlagState | None, float | None]:
        """Read back until the written version (or a newer one with the same effect) is served."""
        delay = 0.02
        deadline = sent + timeout
        while True:
            try:
                flag = await self.backend.get_flag(key, env)
            except FlagOpsError:
                flag = None
            state = flag.state(env) if flag else None
            if state is not None and state.version >= written.version and _same_effect(state, written):
                return flag, state, time.monotonic() - sent
            if time.monotonic() + delay > deadline:
                return None, state, None
            await asyncio.sleep(delay)
            delay = min(0.5, delay * 2)
