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
