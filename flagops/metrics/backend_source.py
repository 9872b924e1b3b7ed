"""A backend's own `metrics()` as a `MetricsSource`: Unleash usage counts, or any FlagBackend in tests.

Batches are one call per flag (at most `CONCURRENCY` at a time): the backend port has no batch call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flagops.errors import FlagOpsError, NotFound, Unauthorized, Unavailable
from flagops.metrics.base import HealthTracker, SourceHealth
from flagops.model import MetricSeries

if TYPE_CHECKING:
    from flagops.backends.base import FlagBackend

CONCURRENCY = 4


class BackendMetrics:
    def __init__(self, backend: FlagBackend) -> None:
        self.backend = backend
        self.name = f"{backend.name} metrics"
        self.has_errors = backend.capabilities.error_metrics
        self._health = HealthTracker()

    @property
    def health(self) -> SourceHealth:
        return self._health.health

    async def series(
        self,
        key: str,
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 10,
        variants: Sequence[str] = (),
    ) -> MetricSeries:
        try:
            series = await self.backend.metrics(
                key, environment, window_seconds=window_seconds, step_seconds=step_seconds
            )
        except (NotFound, Unauthorized):
            raise
        except FlagOpsError as exc:
            self._health.failed(exc.message, unreachable=isinstance(exc, Unavailable))
            raise
        self._health.ok()
        return series

    async def series_many(
        self,
        keys: Sequence[str],
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 30,
        variants: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, MetricSeries]:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(key: str) -> MetricSeries | None:
            async with limit:
                try:
                    return await self.series(key, environment, window_seconds=window_seconds, step_seconds=step_seconds)
                except NotFound:
                    return None

        results = await asyncio.gather(*(one(k) for k in keys))
        return {k: s for k, s in zip(keys, results, strict=True) if s is not None}

    async def aclose(self) -> None:
        return None
