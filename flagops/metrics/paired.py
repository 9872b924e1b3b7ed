"""Pairing a backend with a metrics source, and finding the source of any backend.

`MeteredBackend` is a `FlagBackend` whose `metrics()` and `capabilities.error_metrics` come from a
`MetricsSource`, so Unleash + Prometheus (or the v1 service + Prometheus) reach every face through the
one backend object the faces already hold. `metrics_source(backend)` is what faces call for the batch
and health parts of the port: the paired source, the flagapi backend's own v1 source, or the backend's
`metrics()` wrapped (BackendMetrics).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from flagops.backends.base import FlagBackend
from flagops.metrics.backend_source import BackendMetrics
from flagops.metrics.base import MetricsSource
from flagops.model import (
    AuditEntry,
    AuditVerification,
    ChangeEvent,
    ChangeOrigin,
    Decision,
    Environment,
    EvaluationRequest,
    Flag,
    MetricSeries,
    StateChange,
)


class MeteredBackend:
    """`flags` for everything about flags, `source` for metrics. Adapter extras (the flagapi backend's
    `stream` status, Unleash's `api`) are reached through `__getattr__`."""

    def __init__(self, flags: FlagBackend, source: MetricsSource) -> None:
        self.flags = flags
        self.metrics_source = source
        self.name = flags.name
        self.capabilities = replace(flags.capabilities, error_metrics=source.has_errors)

    def __repr__(self) -> str:
        return f"MeteredBackend({self.flags!r}, {self.metrics_source!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("flags", "metrics_source"):  # not set yet (copy/pickle): no recursion
            raise AttributeError(name)
        return getattr(self.flags, name)

    async def environments(self) -> list[Environment]:
        return await self.flags.environments()

    async def list_flags(self, environment: str) -> list[Flag]:
        return await self.flags.list_flags(environment)

    async def get_flag(self, key: str, environment: str | None = None) -> Flag:
        return await self.flags.get_flag(key, environment)

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
        return await self.flags.update_state(
            key,
            environment,
            change,
            expected_version=expected_version,
            reason=reason,
            idempotency_key=idempotency_key,
            ticket=ticket,
            origin=origin,
        )

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
        return await self.flags.restore(
            key,
            environment,
            to_version,
            expected_version=expected_version,
            reason=reason,
            idempotency_key=idempotency_key,
            ticket=ticket,
            origin=origin,
        )

    async def audit(
        self,
        *,
        flag: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        return await self.flags.audit(flag=flag, environment=environment, since=since, limit=limit)

    async def verify_audit(self) -> AuditVerification:
        return await self.flags.verify_audit()

    async def metrics(
        self, key: str, environment: str, *, window_seconds: int = 300, step_seconds: int = 10
    ) -> MetricSeries:
        return await self.metrics_source.series(
            key, environment, window_seconds=window_seconds, step_seconds=step_seconds
        )

    async def evaluate(self, environment: str, requests: list[EvaluationRequest]) -> list[Decision]:
        return await self.flags.evaluate(environment, requests)

    def watch(self, environment: str, last_event_id: int | None = None) -> AsyncIterator[ChangeEvent]:
        return self.flags.watch(environment, last_event_id)

    async def aclose(self) -> None:
        try:
            await self.metrics_source.aclose()
        finally:
            await self.flags.aclose()


_wrapped: weakref.WeakKeyDictionary[object, BackendMetrics] = weakref.WeakKeyDictionary()


def metrics_source(backend: FlagBackend) -> MetricsSource:
    """The metrics source behind `backend` (one per backend, so its health is remembered)."""
    source = getattr(backend, "metrics_source", None)
    if isinstance(source, MetricsSource):
        return source
    try:
        return _wrapped[backend]
    except KeyError:
        wrapped = _wrapped[backend] = BackendMetrics(backend)
        return wrapped
    except TypeError:  # not weak-referenceable: a fresh wrapper (its health is not kept)
        return BackendMetrics(backend)
