"""The ops core for governance: four-eyes change requests and break-glass reviews, for every face alike.

`Ops.approvals` (an `Approvals`) is how the CLI, the console and runbooks reach it, so they all get the same
rules as the writes in ops.py (read-only refuses, reasons and comments of `min_reason_length`, idempotency
keys, confirmation that the new state is served):

- `needs_approval(plan)`: the policy rule that holds this plan for approval, or None. None also for a kill of a
  kill-switch flag (break-glass: applied at once, the service opens a review) and where the backend cannot
  enforce approvals (Unleash OSS: `policy().enforced` is False and faces say so).
- `submit(plan)`: apply the plan, or, when it needs approval, open a change request instead of writing; the
  `Submitted` result says which happened.
- `approve / reject / cancel / apply_request / requests / request`, `wait_for_decision` (runbooks), and
  `reviews / acknowledge` for break-glass reviews.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from flagops.backends.base import GovernanceBackend
from flagops.errors import ApprovalsUnsupported, Invalid, NotFound, RequestClosed, Unavailable
from flagops.governance import ApprovalPolicy, ApprovalRule, ChangeRequest, RequestStatus, Review
from flagops.model import ChangeOrigin, Flag, FlagState, StateChange

if TYPE_CHECKING:
    from flagops.ops import AppliedChange, Ops, PlannedChange

NOT_ENFORCED = "approvals are not enforced by the {backend} backend"
POLL_SECONDS = 2.0  # how often wait_for_decision reads the change request


def not_enforced_note(backend_name: str) -> str:
    """The one sentence every face shows where the platform cannot enforce approvals."""
    return NOT_ENFORCED.format(backend=backend_name.capitalize() if backend_name == "unleash" else backend_name)


def approvals_phrase(count: int) -> str:
    return f"{count} approval" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class Submitted:
    """What `Approvals.submit` did: applied the plan (`applied`) or opened a change request (`request`)."""

    applied: AppliedChange | None = None
    request: ChangeRequest | None = None
    rule: ApprovalRule | None = None  # the policy rule that held it, when a request was opened
    review_id: str | None = None  # the break-glass review the applied kill opened, if any

    @property
    def opened_request(self) -> bool:
        return self.request is not None


@dataclass(frozen=True)
class AppliedRequest:
    """An approved change request, applied, and (when confirmed) read back as served."""

    request: ChangeRequest
    flag: Flag
    state: FlagState
    time_to_effect: float | None
    confirmed: bool


class Approvals:
    def __init__(self, ops: Ops) -> None:
        self.ops = ops
        self._policy: ApprovalPolicy | None = None

    @property
    def backend_name(self) -> str:
        return str(getattr(self.ops.backend, "name", "this"))

    @property
    def supported(self) -> bool:
        """Whether the backend holds changes for approval at all (the governance half of the port)."""
        return bool(getattr(self.ops.backend.capabilities, "approvals", False)) and isinstance(
            self.ops.backend, GovernanceBackend
        )

    def check_supported(self, doing: str) -> None:
        """Raise ApprovalsUnsupported (saying so plainly) where the backend has no change requests."""
        self._governance(doing)

    def _governance(self, doing: str) -> GovernanceBackend:
        if not self.supported:
            raise ApprovalsUnsupported(
                f"Cannot {doing}: {not_enforced_note(self.backend_name)}; there are no change requests or reviews "
                "there. Changes are applied directly (flagops kill / rollout / rollback)."
            )
        return cast(GovernanceBackend, self.ops.backend)

    # --- policy -----------------------------------------------------------------------------

    async def policy(self) -> ApprovalPolicy:
        """The policy in force, read once per Ops (it is the service's configuration)."""
        if self._policy is None:
            reader = getattr(self.ops.backend, "policy", None)
            if self.supported:
                self._policy = await self._governance("read the approval policy").policy()
            elif reader is not None:
                self._policy = await reader()  # e.g. Unleash: ApprovalPolicy(enforced=False)
            else:
                self._policy = ApprovalPolicy(enforced=False)
        return self._policy

    async def enforced(self) -> bool:
        return (await self.policy()).enforced

    @staticmethod
    def is_break_glass(plan: PlannedChange) -> bool:
        """A kill of a kill-switch flag: never held for approval (the service opens a review instead)."""
        return plan.action == "kill" and plan.flag.kill_switch

    async def rule_for(self, plan: PlannedChange) -> ApprovalRule | None:
        """The policy rule matching the plan's flag and environment, break-glass or not."""
        policy = await self.policy()
        if not policy.enforced:
            return None
        return policy.rule_for(plan.environment.key, plan.flag.risk_level)

    async def needs_approval(self, plan: PlannedChange) -> ApprovalRule | None:
        if plan.noop or self.is_break_glass(plan):
            return None
        try:
            return await self.rule_for(plan)
        except (NotFound, Unavailable, Invalid):
            # a policy this client cannot read must never block a write: the service enforces its policy anyway
            # (a 409 that arrives as ApprovalRequired), so the write is sent and the service decides
            return None

    # --- writing: apply, or open a change request -------------------------------------------

    async def request_change(
        self,
        plan: PlannedChange,
        *,
        reason: str,
        ticket: str | None = None,
        idempotency_key: str | None = None,
    ) -> ChangeRequest:
        """Open a change request for `plan` (also allowed where no approval is needed: a voluntary review)."""
        self.ops.check(plan, reason)
        governance = self._governance(f"open a change request for {plan.flag.key}")
        rollback = plan.action == "rollback"
        return await governance.create_change_request(
            plan.flag.key,
            plan.environment.key,
            None if rollback else plan.change,
            plan.to_version if rollback else None,
            expected_version=plan.before.version,
            reason=reason.strip(),
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            ticket=ticket,
        )

    async def submit(
        self,
        plan: PlannedChange,
        *,
        reason: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
        idempotency_key: str | None = None,
        confirm: bool = True,
    ) -> Submitted:
        """Apply `plan`; when the policy holds it for approval, open a change request instead (nothing written)."""
        rule = await self.needs_approval(plan)
        if rule is not None:
            request = await self.request_change(plan, reason=reason, ticket=ticket, idempotency_key=idempotency_key)
            return Submitted(request=request, rule=rule)
        key = idempotency_key or str(uuid.uuid4())
        applied = await self.ops.apply(
            plan, reason=reason, ticket=ticket, origin=origin, idempotency_key=key, confirm=confirm
        )
        return Submitted(applied=applied, review_id=self.review_opened(applied))

    def review_opened(self, applied: AppliedChange) -> str | None:
        """The break-glass review an applied kill opened (the service names it in the write's response)."""
        if applied.noop or applied.idempotency_key is None or not self.supported:
            return None
        return cast(GovernanceBackend, self.ops.backend).review_opened_by(applied.idempotency_key)

    # --- change requests --------------------------------------------------------------------

    async def requests(
        self, environment: str | None = None, status: RequestStatus | None = None, flag: str | None = None
    ) -> list[ChangeRequest]:
        """Newest first; an empty list where approvals are not supported (faces add `not_enforced_note`)."""
        if not self.supported:
            return []
        return await self._governance("list change requests").change_requests(environment, status, flag)

    async def request(self, request_id: str) -> ChangeRequest:
        return await self._governance(f"read change request {request_id}").change_request(request_id)

    def _check_comment(self, action: str, what: str, comment: str) -> str:
        self.ops.check_writable(action, what)
        self.ops.check_reason(comment)
        return comment.strip()

    async def approve(self, request_id: str, comment: str) -> ChangeRequest:
        comment = self._check_comment("approve", request_id, comment)
        return await self._governance(f"approve {request_id}").approve(request_id, comment)

    async def reject(self, request_id: str, comment: str) -> ChangeRequest:
        comment = self._check_comment("reject", request_id, comment)
        return await self._governance(f"reject {request_id}").reject(request_id, comment)

    async def cancel(self, request_id: str, comment: str) -> ChangeRequest:
        comment = self._check_comment("cancel", request_id, comment)
        return await self._governance(f"cancel {request_id}").cancel(request_id, comment)

    async def apply_request(
        self,
        request_id: str,
        *,
        idempotency_key: str | None = None,
        confirm: bool = True,
        confirm_timeout: float = 10.0,
    ) -> AppliedRequest:
        """Apply an approved request (If-Match = its base version), then read back until it is served."""
        self.ops.check_writable("apply", request_id)
        governance = self._governance(f"apply {request_id}")
        request = await governance.change_request(request_id)
        key = idempotency_key or str(uuid.uuid4())
        sent = time.monotonic()
        try:
            request, flag = await governance.apply_change_request(
                request_id, expected_version=request.base_version, idempotency_key=key
            )
        except RequestClosed:
            again = await governance.change_request(request_id)
            if again.status is not RequestStatus.APPLIED or again.applied_version is None:
                raise
            request, flag = again, await self.ops.backend.get_flag(again.flag_key, again.environment)  # a retry
        written = flag.state(request.environment)
        if written is None:
            flag = await self.ops.backend.get_flag(request.flag_key, request.environment)
            written = flag.state(request.environment)
            assert written is not None
        if not confirm:
            return AppliedRequest(request, flag, written, None, confirmed=False)
        served, seen, elapsed = await self.ops.read_back(
            request.flag_key, request.environment, written, sent, confirm_timeout
        )
        return AppliedRequest(request, served or flag, seen or written, elapsed, confirmed=served is not None)

    async def wait_for_decision(
        self, request_id: str, wait_seconds: float, *, poll: float = POLL_SECONDS
    ) -> ChangeRequest:
        """Read the request until it is no longer pending or `wait_seconds` passed; returns the last read."""
        governance = self._governance(f"wait for {request_id}")
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                request = await governance.change_request(request_id)
            except Unavailable:  # a blip in the service must not fail a run that is waiting anyway
                if time.monotonic() + poll > deadline:
                    raise
                await asyncio.sleep(poll)
                continue
            if request.status is not RequestStatus.PENDING or time.monotonic() + poll > deadline:
                return request
            await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    # --- break-glass reviews ----------------------------------------------------------------

    async def reviews(self, environment: str | None = None, *, open_only: bool = True) -> list[Review]:
        if not self.supported:
            return []
        return await self._governance("list reviews").reviews(environment, open_only)

    async def acknowledge(self, review_id: str, comment: str) -> Review:
        comment = self._check_comment("acknowledge", review_id, comment)
        return await self._governance(f"acknowledge {review_id}").acknowledge_review(review_id, comment)


def describe_change(request: ChangeRequest) -> str:
    """What the request would do, in words ("off", "rollout 25%", "restore version 4")."""
    if request.restore_to_version is not None:
        return f"restore version {request.restore_to_version}"
    change = request.change or StateChange()
    parts = []
    if change.enabled is not None:
        parts.append("on" if change.enabled else "off")
    if change.rollout is not None:
        parts.append(f"rollout {change.rollout:g}%")
    if change.rules is not None:
        parts.append(f"{len(change.rules)} rules")
    if change.default_variant is not None:
        parts.append(f"default variant {change.default_variant}")
    return ", ".join(parts) or "no change"
