"""Unleash + Prometheus: flags from a real Unleash, error rates from a real Prometheus, in one profile.

The application is a loopback stand-in (tests/metrics/exposition.py) exporting the README's example
counter, `http_requests_total{feature_flag, feature_flag_variant, env, code}`, at fixed rates: the `on`
path fails 8 % of its requests, `off` 0.5 %. Prometheus scrapes it every second; the profile uses the
README's http_requests_total templates. The numbers must come out within 1.5 points of those rates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from flagops.config import Profile
from flagops.metrics.base import variant_rates
from flagops.metrics.settings import MetricsSettings
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.app import FlagOpsApp
from flagops.tui.screens.detail_screen import FlagDetailScreen
from flagops.tui.widgets.charts import ErrorRow
from tests.metrics.exposition import CounterApp
from tests.metrics.prometheus_harness import RunningPrometheus, start_prometheus

from .unleash_harness import UnleashServer

pytestmark = pytest.mark.timeout(180)
EVALUATIONS = (
    "sum by (feature_flag, feature_flag_variant) "
    '(rate(http_requests_total{env="{environment}", feature_flag=~"{flag}"}[{range}]))'
)
ERRORS = (
    "sum by (feature_flag, feature_flag_variant) "
    '(rate(http_requests_total{env="{environment}", feature_flag=~"{flag}", code=~"5.."}[{range}]))'
)


@pytest.fixture
def scraped(make_feature: Callable[..., str], tmp_path: Path) -> Iterator[tuple[str, RunningPrometheus]]:
    key = make_feature("prom", prod_rollout=25)
    counters = []
    for variant, rps, failing in (("on", 100.0, 0.08), ("off", 300.0, 0.005)):
        labels = {"feature_flag": key, "feature_flag_variant": variant, "env": "production"}
        counters.append(("http_requests_total", {**labels, "code": "200"}, rps * (1 - failing)))
        counters.append(("http_requests_total", {**labels, "code": "503"}, rps * failing))
    app = CounterApp(counters)
    prometheus = start_prometheus(tmp_path / "prom", [(app.url, "unused")])
    try:
        prometheus.wait_for_series(f'http_requests_total{{feature_flag="{key}"}}')
        time.sleep(8)
        yield key, prometheus
    finally:
        prometheus.stop()
        app.stop()


def profile(unleash: UnleashServer, prometheus: RunningPrometheus) -> Profile:
    return Profile(
        name="unleash-prom",
        url=unleash.url,
        backend="unleash",
        environment="production",
        metrics=MetricsSettings(
            source="prometheus",
            url=prometheus.url,
            evaluations=EVALUATIONS,
            errors=ERRORS,
            flag_label="feature_flag",
            variant_label="feature_flag_variant",
            min_range=5,
        ),
    )


async def test_the_unleash_profile_shows_real_error_rates(
    unleash: UnleashServer, scraped: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLAGOPS_STATE_DIR", str(tmp_path / "state"))
    key, prometheus = scraped
    backend = open_backend(profile(unleash, prometheus), Secret(unleash.admin_token))
    assert backend.capabilities.error_metrics  # Unleash alone has none; Prometheus brings them
    series = await backend.metrics(key, "production", window_seconds=30, step_seconds=10)
    rates = {v.variant: v.rate for v in variant_rates(series)}
    assert abs((rates["on"] or 0) - 0.08) < 0.015 and abs((rates["off"] or 0) - 0.005) < 0.015, rates
    app = FlagOpsApp(profile(unleash, prometheus), backend, environment="production")
    async with app.run_test(size=(120, 45)) as pilot:
        await until(pilot, lambda: (m := app.store.metrics.get(key)) is not None and m.error_rate, "the table's rate")
        app.open_flag(key)
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, FlagDetailScreen)
                and len(app.screen.query(ErrorRow)) == 2
                and "treatment" in str(app.screen.query_one("#chart-compare").render())
            ),
            "error rows per variant, and treatment vs control once the flag is in",
        )
        compare = str(app.screen.query_one("#chart-compare").render())
        assert "treatment on" in compare and "vs control off" in compare, compare


async def until(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.1)
