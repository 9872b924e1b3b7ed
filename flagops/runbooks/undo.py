"""Undoing a run: restore each flag it changed to the version it had before the run, newest first.

Per flag (and environment) the run's changes collapse into one restore: from the version the run left
to the version the flag had before the run's first change to it. Each restore is sent with If-Match on
the version the run left, so a flag someone else changed since is refused, by name, with who changed it,
rather than overwritten; the other flags are still undone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flagops.errors import Conflict, FlagOpsError, NotFound
from flagops.model import ChangeOrigin
from flagops.ops import Ops, PlannedChange, describe_state
from flagops.runbooks.runlog import RunLog, RunStore, UndoRecord, now_iso

ConfirmUndo = Callable[[list[PlannedChange]], Awaitable[bool]]


@dataclass(frozen=True)
class FlagChanges:
    flag: str
    environment: str
    first_before: int  # the version before the run touched it
    last_after: int  # the version the run left


def collapse(log: RunLog) -> list[FlagChanges]:
    """One entry per flag the run changed, ordered by its last change, newest first."""
    order: list[tuple[str, str]] = []
    first: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for change in log.changes:
        ident = (change.flag, change.environment)
        first.setdefault(ident, change.before_version)
        last[ident] = change.after_version
        if ident in order:
            order.remove(ident)
        order.append(ident)
    return [FlagChanges(f, e, first[(f, e)], last[(f, e)]) for f, e in reversed(order)]


async def undo_run(
    ops: Ops, log: RunLog, store: RunStore, *, reason: str, confirm: ConfirmUndo | None = None
) -> list[UndoRecord]:
    """Undo what can be undone; returns one record per flag (also stored in the run log)."""
    if log.status == "running" and not log.interrupted:
        raise FlagOpsError(f"run {log.run_id} is still running (pid {log.pid}); stop it before undoing it")
    if log.status == "undone":
        raise FlagOpsError(f"run {log.run_id} was already undone")
    settled = {(u.flag, u.environment) for u in log.undo if u.status in ("undone", "unchanged")}
    results: list[UndoRecord] = []
    plans: list[tuple[FlagChanges, PlannedChange]] = []
    for item in collapse(log):
        if (item.flag, item.environment) in settled:
            continue
        try:
            flag = await ops.backend.get_flag(item.flag, item.environment)
        except NotFound:
            results.append(UndoRecord(item.flag, item.environment, "refused", "the flag no longer exists"))
            continue
        state = flag.state(item.environment)
        if state is None:
            results.append(UndoRecord(item.flag, item.environment, "refused", "the flag has no state there"))
            continue
        if state.version != item.last_after:
            by = f" by {state.updated_by}" if state.updated_by else ""
            when = f" at {state.updated_at:%Y-%m-%d %H:%M:%S}" if state.updated_at else ""
            results.append(
                UndoRecord(
                    item.flag,
                    item.environment,
                    "refused",
                    f"changed since this run{by}{when} (version {item.last_after} -> "
                    f"{state.version}, now {describe_state(state)}); not undone, decide by hand",
                )
            )
            continue
        plan = await ops.plan_rollback(item.flag, item.environment, item.first_before)
        if plan.noop:
            results.append(
                UndoRecord(
                    item.flag,
                    item.environment,
                    "unchanged",
                    f"already as before the run ({describe_state(plan.before)})",
                    to_version=item.first_before,
                )
            )
            continue
        ops.check(plan, reason)
        plans.append((item, plan))
    if plans and confirm is not None and not await confirm([p for _, p in plans]):
        raise FlagOpsError("undo not confirmed; nothing was changed")
    origin = ChangeOrigin(runbook=log.runbook, run_id=log.run_id, step=None, tool="flagops undo")
    for item, plan in plans:
        try:
            applied = await ops.apply(plan, reason=reason, ticket=log.ticket, origin=origin)
        except Conflict as exc:
            fresh = exc.fresh.state(item.environment) if exc.fresh else None
            who = f" by {fresh.updated_by}" if fresh and fresh.updated_by else ""
            results.append(
                UndoRecord(
                    item.flag, item.environment, "refused", f"changed by someone else{who} while undoing; not undone"
                )
            )
            continue
        except FlagOpsError as exc:
            results.append(UndoRecord(item.flag, item.environment, "failed", exc.message))
            continue
        results.append(
            UndoRecord(
                item.flag,
                item.environment,
                "undone",
                f"{describe_state(plan.before)} -> {describe_state(applied.state)} "
                f"(as version {item.first_before}, now version {applied.state.version})",
                to_version=item.first_before,
                new_version=applied.state.version,
            )
        )
    log.undo.extend(results)
    undone = [r for r in results if r.status in ("undone", "unchanged")]
    log.status = "undone" if len(undone) == len(results) else "undo-partial"
    log.finished_at = log.finished_at or now_iso()
    store.save(log)
    return results
