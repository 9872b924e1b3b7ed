"""Governance in the domain model: approval policy, change requests (four eyes), break-glass reviews, segments.

Shared by every face and adapter; the v1 JSON for these lives in flagops/v1/governance.py. Why these shapes:

- A change request carries the change and the version it was written against (`base_version`). Approving or
  applying it once the flag has moved on is refused (412): the approvers signed off on a diff from one state,
  not on whatever the flag has become since.
- The author never counts as an approver, whatever their scopes: four eyes means two different people.
- A kill of a kill-switch flag is never held for approval (the panic button must work at 3 a.m.). It is applied
  at once and opens a `Review` that stays open until someone other than the person who pulled it acknowledges.
- A segment is a saved predicate (all its conditions must hold); flag rules reference it by key, so the
  decision that a rule made can name the segment that matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from flagops.model import RiskLevel, StateChange


class RequestStatus(str, Enum):
    PENDING = "pending"  # waiting for approvals
    APPROVED = "approved"  # enough approvals; may be applied
    REJECTED = "rejected"  # one rejection ends it
    APPLIED = "applied"
    EXPIRED = "expired"  # not applied before expires_at
    CANCELLED = "cancelled"  # withdrawn by its author

    @property
    def is_open(self) -> bool:
        return self in (RequestStatus.PENDING, RequestStatus.APPROVED)


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """One rule of an environment's policy: changes to flags of these risk levels need `approvers` approvals
    from principals holding `approver_scope` (never the author)."""

    environment: str
    risk_levels: tuple[RiskLevel, ...]  # empty: every risk level
    approvers: int = 1
    approver_scope: str = "flags:approve"
    expires_after_seconds: int = 24 * 3600

    def applies_to(self, environment: str, risk_level: RiskLevel) -> bool:
        return environment == self.environment and (not self.risk_levels or risk_level in self.risk_levels)


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    rules: tuple[ApprovalRule, ...] = ()
    enforced: bool = True  # False where the platform cannot enforce approvals (Unleash OSS)

    def rule_for(self, environment: str, risk_level: RiskLevel) -> ApprovalRule | None:
        return next((r for r in self.rules if r.applies_to(environment, risk_level)), None)


@dataclass(frozen=True, slots=True)
class Verdict:
    """An approval or a rejection, with the reviewer's comment."""

    actor: str
    at: datetime
    comment: str
    approve: bool


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    id: str
    flag_key: str
    environment: str
    base_version: int  # the flag state version the change was written against
    change: StateChange | None  # a state change, or None with `restore_to_version` set
    restore_to_version: int | None
    reason: str
    ticket: str | None
    author: str
    created_at: datetime
    expires_at: datetime
    status: RequestStatus
    required_approvals: int
    verdicts: tuple[Verdict, ...] = ()
    applied_by: str | None = None
    applied_at: datetime | None = None
    applied_version: int | None = None  # the flag state version the apply produced

    @property
    def approvals(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.approve)


@dataclass(frozen=True, slots=True)
class Review:
    """The post-hoc review a break-glass kill opened; open until someone other than `actor` acknowledges."""

    id: str
    flag_key: str
    environment: str
    sequence: int  # the audit sequence of the kill
    actor: str
    reason: str
    at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    comment: str | None = None

    @property
    def is_open(self) -> bool:
        return self.acknowledged_by is None


@dataclass(frozen=True, slots=True)
class SegmentCondition:
    attribute: str
    op: str  # the rule operators of flagops.model.Rule: in, not_in, ...
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    name: str
    description: str
    conditions: tuple[SegmentCondition, ...]  # all must hold
    version: int
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
