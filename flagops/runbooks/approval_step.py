"""A runbook action whose change the policy holds for approval: open a change request, wait, apply it.

The step opens the change request (idempotency key per run, step and flag, so a resumed run finds the same
request instead of opening a second one), reports it, and reads it until someone else decides or
`waitForApproval.timeout` passes (default DEFAULT_APPROVAL_WAIT). Approved: applied through the ops core and
recorded like any change (undo sees it). Otherwise the step fails and says why: rejected (by whom, with their
comment), expired, cancelled, or "not approved within 30m" with the command that applies it later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flagops.approvals import approvals_phrase, describe_change
from flagops.governance import ApprovalRule, RequestStatus
from flagops.runbooks.runlog import ChangeRecord

if TYPE_CHECKING:
    from flagops.ops import PlannedChange
    from flagops.runbooks.execute import Runner
    from flagops.runbooks.schema import Step

DEFAULT_APPROVAL_WAIT = 30 * 60.0  # seconds a step waits for approval when it says nothing


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


async def apply_after_approval(
    runner: Runner, step: Step, plan: PlannedChange, rule: ApprovalRule, action: str, stage: str, automatic: bool
) -> ChangeRecord:
    from flagops.runbooks.execute import StepFailed

    approvals = runner.ops.approvals
    key, env = plan.flag.key, plan.environment.key
    wait = DEFAULT_APPROVAL_WAIT if step.approval_timeout is None else float(step.approval_timeout)
    request = await approvals.request_change(
        plan,
        reason=runner.log.reason,
        ticket=runner.log.ticket,
        idempotency_key=runner.idempotency_key(step, key, f"{stage}:change-request"),
    )
    rid = request.id
    runner.emit(
        "progress",
        step.index,
        f"{key} in {env} needs {approvals_phrase(rule.approvers)}: change request {rid} opened "
        f"({describe_change(request)}); waiting up to {_duration(wait)} for someone else to approve it",
    )
    request = await approvals.wait_for_decision(rid, wait)
    if request.status is RequestStatus.PENDING:
        raise StepFailed(
            f"{key} in {env} needs approval; change request {rid} opened, not approved within {_duration(wait)}; "
            f"nothing changed. Once approved: flagops apply {rid}"
        )
    if request.status is not RequestStatus.APPROVED:
        why = ""
        rejection = next((v for v in request.verdicts if not v.approve), None)
        if request.status is RequestStatus.REJECTED and rejection is not None:
            why = f" by {rejection.actor}: {rejection.comment}"
        raise StepFailed(f"{key} in {env}: change request {rid} was {request.status.value}{why}; nothing changed")
    runner.emit("progress", step.index, f"change request {rid} approved; applying it")
    done = await approvals.apply_request(rid, idempotency_key=runner.idempotency_key(step, key, f"{stage}:apply"))
    change = ChangeRecord(
        step.index,
        key,
        env,
        action,
        f"{plan.summary()} (change request {rid})",
        plan.before.version,
        done.state.version,
        idempotency_key=None,
        automatic=automatic,
    )
    runner.log.changes.append(change)
    runner.store.save(runner.log)
    confirmed = "" if done.confirmed else " (not yet confirmed as served)"
    runner.emit("change", step.index, f"{plan.summary()} via change request {rid}{confirmed}")
    return change
