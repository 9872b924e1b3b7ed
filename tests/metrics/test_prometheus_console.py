"""The console (Pilot) reading error rates through a real Prometheus: the detail screen splits the error
rate by variant and names treatment vs control; the dashboard says which window each number covers."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from flagops.config import Profile
from flagops.metrics.settings import MetricsSettings
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.app import FlagOpsApp
from flagops.tui.screens.dashboard_screen import DashboardScreen
from flagops.tui.screens.detail_screen import FlagDetailScreen
from flagops.tui.widgets.charts import ErrorRow

from .conftest import INCIDENT, Stack

pytestmark = pytest.mark.timeout(180)


def console(stack: Stack, prometheus_url: str | None = None, **metrics: Any) -> FlagOpsApp:
    settings = MetricsSettings(
        source="prometheus", url=prometheus_url or stack.prometheus.url, min_range=5, timeout=2, **metrics
    )
    profile = Profile(name="prom", url=stack.service.url, environment="prod", metrics=settings)
    return FlagOpsApp(profile, open_backend(profile, Secret(stack.service.admin_token)), environment="prod")


async def until(pilot: Pilot[Any], predicate: Any, timeout: float = 20.0, what: str = "") -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.1)


def text(app: Any, selector: str) -> str:
    found = app.screen.query(selector)
    return str(found.first().render()) if found else ""


async def test_detail_splits_the_error_rate_by_variant(stack: Stack) -> None:
    app = console(stack)
    async with app.run_test(size=(120, 45)) as pilot:
        await until(pilot, lambda: app.store.loaded, what="flags")
        app.open_flag(INCIDENT)
        await until(pilot, lambda: isinstance(app.screen, FlagDetailScreen) and app.screen.flag is not None)
        await until(
            pilot,
            lambda: len(app.screen.query(ErrorRow)) == 2 and "treatment" in text(app, "#chart-compare"),
            what="error rows per variant",
        )
        labels = [row.label for row in app.screen.query(ErrorRow)]
        assert labels == ["errors off", "errors on"]  # busiest first: at 25 % most traffic is off
        compare = text(app, "#chart-compare")
        assert compare.startswith("error rows share one scale") and "treatment on" in compare
        assert "vs control off" in compare and "points)" in compare
        await pilot.press("escape")
        # the table's error rates came from Prometheus too, in one batch
        await until(pilot, lambda: (m := app.store.metrics.get(INCIDENT)) is not None and m.error_rate, what="rates")


async def test_dashboard_labels_its_window_and_trend_scale(stack: Stack) -> None:
    app = console(stack)
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.store.loaded)
        app.push_screen(DashboardScreen())
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await until(pilot, lambda: "%" in text(app, "#top-errors"), what="top errors")
        assert "Highest error rate, last 5 min" in text(app, "#top-errors")
        assert "trend: one scale for every row" in text(app, "#top-errors")


async def test_unreachable_prometheus_is_said_on_screen(stack: Stack) -> None:
    from .prometheus_harness import free_port

    app = console(stack, prometheus_url=f"http://127.0.0.1:{free_port()}")
    async with app.run_test(size=(120, 45)) as pilot:
        await until(pilot, lambda: app.store.loaded)
        app.open_flag(INCIDENT)
        await until(pilot, lambda: isinstance(app.screen, FlagDetailScreen))
        await until(
            pilot,
            lambda: "metrics source unreachable since" in text(app, "#chart-summary"),
            what="the unreachable state",
        )
        assert "is unreachable" in text(app, "#chart-summary")
        await pilot.press("escape")
        app.push_screen(DashboardScreen())
        await until(pilot, lambda: "metrics source unreachable since" in text(app, "#top-errors"))
