"""Starting and resuming runs: bind, validate against the backend, open the run log, hand to the Runner."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from flagops.errors import FlagOpsError, Refused
from flagops.ops import Ops
from flagops.runbooks.execute import Confirm, OnEvent, Runner
from flagops.runbooks.loader import load_file
from flagops.runbooks.params import bind
from flagops.runbooks.runlog import RunLog, RunStore, StepRecord, new_run_id
from flagops.runbooks.schema import Runbook
from flagops.runbooks.validate import validate_live


def file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def preflight(ops: Ops, reason: str) -> None:
    """The run-wide rules, checked before step 1 so a run never stops halfway for a missing reason."""
    preflight_rules(ops.readonly, ops.min_reason_length, reason)


def preflight_rules(readonly: bool, min_reason_length: int, reason: str) -> None:
    if readonly:
        raise Refused("Read-only: runbooks that change flags cannot run. Use a profile without `readonly: true`.")
    if len((reason or "").strip()) < min_reason_length:
        raise Refused(
            f"A reason for the run is required (at least {min_reason_length} characters), e.g. "
            '--reason "checkout errors since 14:02, INC-123". It goes into the audit log with each change.'
        )


async def prepare(ops: Ops, runbook: Runbook, given: dict[str, Any]) -> tuple[Runbook, dict[str, Any]]:
    """Bind params and validate against the live backend (raises ParamError / RunbookError)."""
    bound, values = bind(runbook, given)
    await validate_live(ops.backend, bound)
    return bound, values


async def start_run(
    ops: Ops,
    runbook: Runbook,
    given: dict[str, Any],
    *,
    reason: str,
    ticket: str | None = None,
    store: RunStore | None = None,
    confirm: Confirm | None = None,
    on_event: OnEvent | None = None,
    run_id: str | None = None,
) -> RunLog:
    store = store or RunStore()
    preflight(ops, reason)
    bound, values = await prepare(ops, runbook, given)
    log = RunLog(
        run_id=run_id or new_run_id(),
        runbook=runbook.id,
        runbook_path=runbook.path,
        runbook_sha256=file_digest(runbook.path),
        environment=str(bound.environment),
        params=values,
        reason=reason.strip(),
        ticket=ticket,
        steps=[StepRecord(s.index, s.kind.value, s.title()) for s in bound.steps],
    )
    store.save(log)
    return await Runner(ops, bound, log, store, confirm=confirm, on_event=on_event, attempt=log.attempts).run()


def resumable(log: RunLog) -> None:
    if log.status == "running" and not log.interrupted:
        raise FlagOpsError(f"run {log.run_id} is still running (pid {log.pid})")
    if log.status not in ("running", "failed", "stopped"):
        raise FlagOpsError(
            f"run {log.run_id} is {log.shown_status}; only an interrupted, failed or stopped run can be resumed"
        )


async def resume_run(
    ops: Ops,
    run_id: str,
    *,
    store: RunStore | None = None,
    confirm: Confirm | None = None,
    on_event: OnEvent | None = None,
) -> RunLog:
    """Continue from the first step not done (the failed one is tried again; an in-flight one reconciled)."""
    store = store or RunStore()
    log = store.load(run_id)
    resumable(log)
    preflight(ops, log.reason)
    runbook = load_file(Path(log.runbook_path))
    if log.runbook_sha256 and file_digest(log.runbook_path) != log.runbook_sha256:
        raise FlagOpsError(
            f"{log.runbook_path} changed since run {run_id} started; flagops will not resume a run "
            "under a different runbook. Undo it, or start a new run."
        )
    bound, _ = await prepare(ops, runbook, log.params)
    for record in log.steps:
        if record.status == "failed":
            record.status = "pending"
    log.pid = os.getpid()
    log.attempts += 1  # fresh idempotency keys for steps tried again
    return await Runner(ops, bound, log, store, confirm=confirm, on_event=on_event, attempt=log.attempts).run()
