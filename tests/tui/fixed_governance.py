"""FixedBackend with approvals: fixed change requests and a break-glass review, for the approvals snapshot.

Same reason as fixed_backend.py: a picture needs the same data (and times) every run. Behaviour tests of
the approvals flow run against the real service (test_approvals.py).
"""

from __future__ import annotations

from datetime import timedelta

from fixed_backend import INCIDENT, NOW, FixedBackend, build_flags

from flagops.governance import ApprovalPolicy, ApprovalRule, ChangeRequest, RequestStatus, Review, Verdict
from flagops.model import BackendCapabilities, RiskLevel, StateChange

ROLLOUT_FLAG = "payments-fraud-score-rollout"
ROLLOUT_VERSION = next(f.states["prod"].version for f in build_flags() if f.key == ROLLOUT_FLAG)


def build_requests() -> list[ChangeRequest]:
    return [
        ChangeRequest(
            "cr-12",
            INCIDENT,
            "prod",
            7,
            StateChange(rollout=25.0),
            None,
            "halve the ramp while checkout errors are looked at, INC-2291",
            "INC-2291",
            "alice",
            NOW - timedelta(minutes=6),
            NOW + timedelta(hours=23, minutes=54),
            RequestStatus.PENDING,
            1,
        ),
        ChangeRequest(
            "cr-11",
            ROLLOUT_FLAG,
            "prod",
            ROLLOUT_VERSION,
            StateChange(rollout=50.0),
            None,
            "fraud score model v3 passed the shadow run",
            None,
            "bob",
            NOW - timedelta(hours=2),
            NOW + timedelta(hours=22),
            RequestStatus.APPROVED,
            1,
            (Verdict("carol", NOW - timedelta(minutes=40), "checked the shadow-run dashboard, fine", True),),
        ),
    ]


def build_reviews() -> list[Review]:
    return [
        Review(
            "rv-3",
            "checkout-coupon-stacking-killswitch",
            "prod",
            412,
            "dave",
            "coupon abuse spike, pulled the kill switch at 03:05",
            NOW - timedelta(minutes=7),
        )
    ]


class FixedApprovalsBackend(FixedBackend):
    def __init__(self, *, enforced: bool = True) -> None:
        super().__init__()
        self.capabilities = BackendCapabilities(approvals=True)
        self.enforced = enforced
        self.requests = build_requests()
        self.open_reviews = build_reviews()

    async def policy(self) -> ApprovalPolicy:
        rule = ApprovalRule("prod", (RiskLevel.HIGH, RiskLevel.CRITICAL), 1)
        return ApprovalPolicy((rule,) if self.enforced else (), enforced=self.enforced)

    async def change_requests(
        self, environment: str | None, status: RequestStatus | None = None, flag: str | None = None
    ) -> list[ChangeRequest]:
        return [
            cr
            for cr in self.requests
            if environment in (None, cr.environment)
            and (status is None or cr.status == status)
            and (flag is None or cr.flag_key == flag)
        ]

    async def reviews(self, environment: str | None, open_only: bool = True) -> list[Review]:
        return [r for r in self.open_reviews if environment in (None, r.environment) and (r.is_open or not open_only)]
