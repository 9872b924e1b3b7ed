"""The v1 Flag API's own metrics (GET /v1/metrics/flags[/{key}]) as a `MetricsSource`.

Used by the flagapi backend (its `metrics()` is this source) and by any other backend whose profile says
`metrics: {source: v1, url: ...}`. The service keeps 10-second buckets for an hour, so steps are rounded
up to whole buckets; a batch is one request per `BATCH_FLAGS` flags (the service takes up to 1,000, a
URL of that many keys is what limits us).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from flagops.backends.http import ResilientClient
from flagops.errors import FlagOpsError, Invalid, NotFound, Unauthorized, Unavailable
from flagops.metrics.base import HealthTracker, MetricsUnavailable, SourceHealth
from flagops.model import MetricSeries
from flagops.v1 import wire

BUCKET = 10
BATCH_FLAGS = 150  # keys per request: ~6 kB of query string for typical keys


def _bucketed(seconds: int) -> int:
    return max(BUCKET, -(-int(seconds) // BUCKET) * BUCKET)


class V1Metrics:
    name = "v1"
    has_errors = True

    def __init__(self, client: ResilientClient, *, owns_client: bool = False) -> None:
        self._client = client
        self._owns_client = owns_client
        self._health = HealthTracker()

    @property
    def health(self) -> SourceHealth:
        return self._health.health

    async def _get(self, path: str, what: str, params: Mapping[str, Any]) -> Any:
        try:
            response = await self._client.request("GET", path, what=what, params=params)
            data = response.json()
        except (NotFound, Unauthorized):
            self._health.ok()  # the service answered; the question was wrong
            raise
        except ValueError:
            self._health.failed("the service did not answer with JSON", unreachable=False)
            raise MetricsUnavailable(f"{what}: the service did not answer with JSON") from None
        except FlagOpsError as exc:
            self._health.failed(exc.message, unreachable=isinstance(exc, Unavailable))
            raise
        self._health.ok()
        return data

    async def series(
        self,
        key: str,
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 10,
        variants: Sequence[str] = (),
    ) -> MetricSeries:
        what = f"read metrics of {key} in {environment}"
        step = _bucketed(step_seconds)
        data = await self._get(
            f"/v1/metrics/flags/{quote(key, safe='')}",
            what,
            {"environment": environment, "window": max(step, window_seconds), "step": step},
        )
        return _parse(what, data)

    async def series_many(
        self,
        keys: Sequence[str],
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 30,
        variants: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, MetricSeries]:
        step = _bucketed(step_seconds)
        found: dict[str, MetricSeries] = {}
        for start in range(0, len(keys), BATCH_FLAGS):
            chunk = list(keys[start : start + BATCH_FLAGS])
            what = f"read metrics of {len(chunk)} flags in {environment}"
            try:
                data = await self._get(
                    "/v1/metrics/flags",
                    what,
                    {"environment": environment, "flag": chunk, "window": max(step, window_seconds), "step": step},
                )
            except NotFound:  # a flag of the batch was archived meanwhile: ask one by one
                for key in chunk:
                    try:
                        found[key] = await self.series(
                            key, environment, window_seconds=window_seconds, step_seconds=step
                        )
                    except NotFound:
                        continue
                continue
            try:
                items = data["series"]
            except (TypeError, KeyError):
                raise Invalid(f"{what}: the service sent data flagops cannot read (no series)") from None
            for item in items:
                series = _parse(what, item)
                found[series.flag_key] = series
        return found

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _parse(what: str, data: Any) -> MetricSeries:
    try:
        return wire.metrics_from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Invalid(
            f"{what}: the service sent data flagops cannot read ({exc}). "
            "Is the URL a v1 Flag API, and are both sides up to date?"
        ) from None
