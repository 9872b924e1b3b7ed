"""The metrics-source port: evaluations and errors per variant, as time series, per flag and environment.

A `MetricsSource` sits beside the backend port (`flagops.backends.base.FlagBackend`): the backend says
what the flags are, the source says how they behave. Any backend can be paired with any source (see
`flagops.metrics.paired`). Adapters: `v1` (the Flag API's own metrics), `prometheus` (PromQL templates
over the HTTP API), `backend_source` (whatever a backend's own `metrics()` returns, e.g. Unleash usage).

Every adapter raises `MetricsUnavailable` (a `FlagOpsError`) for anything that keeps it from answering,
and keeps a `SourceHealth`, so every face can say "metrics source unreachable since 03:12:09" the same way.
No I/O here, no Textual.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from flagops.errors import Unavailable
from flagops.model import FlagState, MetricPoint, MetricSeries


class MetricsUnavailable(Unavailable):
    """The metrics source could not answer: unreachable, slow, a rejected query, data it cannot use."""


@dataclass(frozen=True)
class SourceHealth:
    """How the metrics source is doing, for a face that must say so instead of showing old numbers as new."""

    ok: bool = True
    failing_since: datetime | None = None  # first failure of the current run of failures
    last_error: str | None = None
    last_ok: datetime | None = None
    unreachable: bool = True  # False: it answers, but not usefully (a rejected query, data it cannot use)

    def label(self) -> str | None:
        """'metrics source unreachable since 03:12:09 (connection refused)', or None while it is fine."""
        if self.ok or self.failing_since is None:
            return None
        since = self.failing_since.astimezone()
        at = (
            since.strftime("%H:%M:%S")
            if since.date() == datetime.now().astimezone().date()
            else since.strftime("%Y-%m-%d %H:%M:%S")
        )
        how = "unreachable" if self.unreachable else "failing"
        return f"metrics source {how} since {at}" + (f" ({self.last_error})" if self.last_error else "")


class HealthTracker:
    """One place that turns successes and failures into a `SourceHealth`."""

    def __init__(self) -> None:
        self.health = SourceHealth()

    def ok(self) -> None:
        self.health = SourceHealth(ok=True, last_ok=datetime.now(UTC))

    def failed(self, message: str, *, unreachable: bool = True) -> None:
        since = self.health.failing_since if not self.health.ok else None
        self.health = SourceHealth(
            ok=False,
            failing_since=since or datetime.now(UTC),
            last_error=message,
            last_ok=self.health.last_ok,
            unreachable=unreachable,
        )


@runtime_checkable
class MetricsSource(Protocol):
    name: str  # "v1", "prometheus", "unleash usage" ... shown to people
    has_errors: bool  # False: evaluations only (error rates are "no error source", never 0 %)

    @property
    def health(self) -> SourceHealth: ...

    async def series(
        self,
        key: str,
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 10,
        variants: Sequence[str] = (),
    ) -> MetricSeries:
        """One flag. `variants`: the flag's variant keys (needed by templates that name a variant)."""
        ...

    async def series_many(
        self,
        keys: Sequence[str],
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 30,
        variants: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, MetricSeries]:
        """Many flags in as few queries as the source allows (a dashboard's worth). Flags without data
        get an empty series; the source failing raises MetricsUnavailable for the whole batch."""
        ...

    async def aclose(self) -> None: ...


# --- per-variant arithmetic (what every face shows) --------------------------------------------


@dataclass(frozen=True)
class VariantRate:
    variant: str
    evaluations: float
    errors: float

    @property
    def rate(self) -> float | None:
        """None when the variant had no traffic: 0 errors of 0 is not a 0 % error rate."""
        return self.errors / self.evaluations if self.evaluations > 0 else None


def variant_rates(series: MetricSeries, points: Sequence[MetricPoint] | None = None) -> list[VariantRate]:
    """Evaluations and errors per variant over `points` (default: the whole series), busiest first.

    Empty when the source does not attribute errors to variants."""
    if not series.split_by_variant:
        return []
    chosen = series.points if points is None else points
    evaluations: dict[str, float] = {}
    errors: dict[str, float] = {}
    for p in chosen:
        for name, n in p.evaluations.items():
            evaluations[name] = evaluations.get(name, 0.0) + n
        for name, n in p.errors_by_variant.items():
            errors[name] = errors.get(name, 0.0) + n
    names = sorted(set(evaluations) | set(errors), key=lambda v: (-evaluations.get(v, 0.0), v))
    return [VariantRate(v, evaluations.get(v, 0.0), errors.get(v, 0.0)) for v in names]


@dataclass(frozen=True)
class Arms:
    """Treatment (what the rollout serves: the default variant) against control (the off variant)."""

    treatment: VariantRate
    control: VariantRate

    @property
    def difference(self) -> float | None:
        """Treatment's error rate minus control's (fractions); None when either had no traffic."""
        t, c = self.treatment.rate, self.control.rate
        return None if t is None or c is None else t - c


def arms(series: MetricSeries, state: FlagState) -> Arms | None:
    """Treatment vs control for `state`'s variants; None when errors are not split by variant or the two
    arms are the same variant (nothing to compare)."""
    if not series.split_by_variant or state.default_variant == state.off_variant:
        return None
    rates = {r.variant: r for r in variant_rates(series)}
    return Arms(
        rates.get(state.default_variant, VariantRate(state.default_variant, 0.0, 0.0)),
        rates.get(state.off_variant, VariantRate(state.off_variant, 0.0, 0.0)),
    )


def finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
