"""The backend port: what ops, the CLI and the TUI need from any flag platform.

Adapters (flagapi.py for the v1 Flag API, unleash.py for Unleash) implement `FlagBackend`. Every method
raises the typed errors of `flagops.errors`, never a transport exception. Writes take the version the
caller last saw (`expected_version`, sent as If-Match where the platform supports it) and an idempotency
key, so a retry never applies twice and a stale view never overwrites someone else's change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol, runtime_checkable

from flagops.governance import ApprovalPolicy, ChangeRequest, RequestStatus, Review, Segment
from flagops.model import (
    AuditEntry,
    AuditVerification,
    BackendCapabilities,
    ChangeEvent,
    ChangeOrigin,
    Decision,
    Environment,
    EvaluationRequest,
    Flag,
    MetricSeries,
    StateChange,
)


@runtime_checkable
class FlagBackend(Protocol):
    name: str
    capabilities: BackendCapabilities

    async def environments(self) -> list[Environment]: ...

    async def list_flags(self, environment: str) -> list[Flag]:
        """Every live flag with `environment`'s state in `Flag.states` (cached by ETag where possible)."""
        ...

    async def get_flag(self, key: str, environment: str | None = None) -> Flag:
        """One flag; with `environment=None`, its state in every environment."""
        ...

    async def update_state(
        self,
        key: str,
        environment: str,
        change: StateChange,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        """Apply `change`; raises Conflict (with the fresh flag) when `expected_version` is stale."""
        ...

    async def restore(
        self,
        key: str,
        environment: str,
        to_version: int,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        """Make a new version equal to `to_version` (the rollback)."""
        ...

    async def audit(
        self,
        *,
        flag: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Newest first."""
        ...

    async def verify_audit(self) -> AuditVerification: ...

    async def metrics(
        self, key: str, environment: str, *, window_seconds: int = 300, step_seconds: int = 10
    ) -> MetricSeries:
        """Evaluations by variant and errors over the window. `has_errors=False` where there is no source."""
        ...

    async def evaluate(self, environment: str, requests: list[EvaluationRequest]) -> list[Decision]: ...

    def watch(self, environment: str, last_event_id: int | None = None) -> AsyncIterator[ChangeEvent]:
        """Live changes; reconnects by itself (resuming after the last event id) until cancelled."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class GovernanceBackend(Protocol):
    """The optional governance half of the port (`capabilities.approvals` / `.segments`): approval policy, change
    requests, break-glass reviews, segments. A backend without it is asked only for `policy()` when it has one;
    `flagops.approvals.governance_of` answers "not enforced" for the rest.

    Comments and reasons are stored and returned verbatim; faces render them inert."""

    async def policy(self) -> ApprovalPolicy:
        """The approval policy in force (`ApprovalPolicy(enforced=False)` where the platform cannot enforce one)."""
        ...

    async def change_requests(
        self, environment: str | None, status: RequestStatus | None = None, flag: str | None = None
    ) -> list[ChangeRequest]:
        """Newest first."""
        ...

    async def change_request(self, request_id: str) -> ChangeRequest: ...

    async def create_change_request(
        self,
        key: str,
        environment: str,
        change: StateChange | None,
        restore_to_version: int | None,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
    ) -> ChangeRequest:
        """Exactly one of `change` / `restore_to_version`. Conflict when `expected_version` is stale."""
        ...

    async def approve(self, request_id: str, comment: str) -> ChangeRequest:
        """SelfApproval for the author; Conflict when the flag moved since; RequestClosed when not open."""
        ...

    async def reject(self, request_id: str, comment: str) -> ChangeRequest: ...

    async def cancel(self, request_id: str, comment: str) -> ChangeRequest: ...

    async def apply_change_request(
        self, request_id: str, *, expected_version: int, idempotency_key: str
    ) -> tuple[ChangeRequest, Flag]:
        """Apply an approved request through the normal write path; RequestClosed unless approved."""
        ...

    async def reviews(self, environment: str | None, open_only: bool = True) -> list[Review]:
        """Break-glass reviews, newest first."""
        ...

    async def acknowledge_review(self, review_id: str, comment: str) -> Review:
        """SelfReview for the person who pulled the kill; RequestClosed when already acknowledged."""
        ...

    def review_opened_by(self, idempotency_key: str) -> str | None:
        """The review id a write sent with this idempotency key opened (break-glass), if it opened one."""
        ...

    async def segments(self) -> list[Segment]: ...
