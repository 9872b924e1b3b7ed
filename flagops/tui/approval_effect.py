"""What the approval policy does with a planned change, in the confirm dialog's words (action_modal.py).

Decided by the ops core (flagops/approvals.py), never here: `needs_approval(plan)` holds a change for a
change request; a kill of a kill-switch flag in an environment with a rule is break-glass (applied at once,
the service opens a post-hoc review); a backend that cannot enforce approvals says so instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from flagops.approvals import approvals_phrase, not_enforced_note
from flagops.errors import FlagOpsError
from flagops.governance import ChangeRequest
from flagops.ops import Ops, PlannedChange
from flagops.tui.safe_text import plain


@dataclass(frozen=True)
class ApprovalEffect:
    text: str  # the dialog's "Approval" line
    holds: bool  # True: applying opens a change request and writes nothing


async def approval_effect(ops: Ops, plan: PlannedChange) -> ApprovalEffect | None:
    """None where the policy has nothing to say (no rule matches, or approvals do not exist there)."""
    approvals = ops.approvals
    if plan.noop:
        return None
    try:
        policy = await approvals.policy()
        rule = await approvals.needs_approval(plan)
        break_glass = rule is None and approvals.is_break_glass(plan) and await approvals.rule_for(plan) is not None
    except FlagOpsError:
        return None  # the service enforces its own policy either way (a 409 says so when it holds the change)
    if not policy.enforced:
        if getattr(ops.backend, "policy", None) is None:
            return None  # a port without governance at all: nothing to say about approvals
        return ApprovalEffect(f"{not_enforced_note(approvals.backend_name)}: applied at once", False)
    if rule is not None:
        return ApprovalEffect(f"this will open a change request (needs {approvals_phrase(rule.approvers)})", True)
    if break_glass:
        return ApprovalEffect("break-glass kill: applied now; opens a post-hoc review", False)
    return None


def request_opened_text(request: ChangeRequest) -> str:
    return (
        f"Change request {plain(request.id, 40)} opened: needs {approvals_phrase(request.required_approvals)} "
        "from someone else. Nothing is changed until it is approved and applied (approvals screen: c)."
    )


def review_opened_text(review_id: str) -> str:
    return f"Break-glass: review {plain(review_id, 40)} opened; it stays open until someone else acknowledges it."
