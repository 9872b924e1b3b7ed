"""Detail screen and dashboard: the pure parts here, the screens driven against the real service below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flagops.model import AuditEntry, MetricPoint, MetricSeries
from flagops.tui.safe_text import plain
from flagops.tui.screens.dashboard_screen import rose_after_change
from flagops.tui.widgets.audit_view import change_summary, describe_state
from flagops.tui.widgets.charts import error_rates, scaled_sparkline, trend_sparkline, variant_counts

T0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def series(points: list[tuple[int, int, int]], has_errors: bool = True) -> MetricSeries:
    """(seconds after T0, evaluations, errors) per point."""
    return MetricSeries(
        "f",
        "prod",
        10,
        tuple(MetricPoint(T0 + timedelta(seconds=s), {"on": n}, e) for s, n, e in points),
        has_errors=has_errors,
    )


def test_rise_after_change_is_called_out() -> None:
    s = series([(0, 100, 1), (10, 100, 1), (20, 100, 9), (30, 100, 12)])
    rose = rose_after_change(s, T0 + timedelta(seconds=15))
    assert rose is not None
    before, after = rose
    assert before == 0.01 and after == 0.105


def test_no_rise_when_flat_noisy_or_unknown() -> None:
    flat = series([(0, 100, 2), (10, 100, 2), (20, 100, 2), (30, 100, 3)])
    assert rose_after_change(flat, T0 + timedelta(seconds=15)) is None
    too_little_traffic = series([(0, 5, 0), (20, 5, 5)])
    assert rose_after_change(too_little_traffic, T0 + timedelta(seconds=15)) is None
    no_source = series([(0, 100, 0), (20, 100, 50)], has_errors=False)
    assert rose_after_change(no_source, T0 + timedelta(seconds=15)) is None
    a_fall = series([(0, 100, 20), (20, 100, 1)])
    assert rose_after_change(a_fall, T0 + timedelta(seconds=15)) is None


def test_chart_helpers() -> None:
    assert scaled_sparkline([0, 1, 2, 4], 4, 4) == "▁▃▅█"
    assert scaled_sparkline([0, 0], 4, 4) == "▁▁"
    assert scaled_sparkline([], 4, 4) == ""
    # the trend cells share one scale: 0.3 % and 5 % never look alike, whatever the row's own maximum
    assert trend_sparkline([0.003] * 3, 3) == "▃▃▃" and trend_sparkline([0.05] * 3, 3) == "▇▇▇"
    assert trend_sparkline([0.0, 0.0005, 0.001, 0.2], 4) == "▁▁▂█"
    s = MetricSeries(
        "f",
        "prod",
        10,
        (
            MetricPoint(T0, {"on": 3, "off": 1}, 2),
            MetricPoint(T0, {"on": 0, "blue": 5}, 0),
            MetricPoint(T0, {}, 0),
        ),
    )
    assert variant_counts(s) == {"on": [3, 0, 0], "off": [1, 0, 0], "blue": [0, 5, 0]}
    assert error_rates(s) == [0.5, 0.0, 0.0]


def test_change_summary_before_after() -> None:
    def entry(before: object, after: object, action: str = "flag.updated") -> AuditEntry:
        return AuditEntry(1, T0, "alice", action, "f", "prod", "why not", before=before, after=after)

    assert change_summary(entry({"enabled": True, "rollout": 25}, {"enabled": False, "rollout": 25})) == "on 25% -> off"
    assert change_summary(entry(None, {"enabled": True, "rollout": 100})) == "created: on 100%"
    assert change_summary(entry(None, None, "flag.archived")) == "archived"
    same = entry({"enabled": True, "rollout": 5, "offVariant": "a"}, {"enabled": True, "rollout": 5, "offVariant": "b"})
    assert change_summary(same) == "on 5% (changed: offVariant)"
    assert describe_state({"enabled": True, "rollout": 5, "rules": [{}, {}]}) == "on 5% +2 rules"
    assert describe_state("garbage") == "—"


def test_plain_makes_terminal_controls_visible() -> None:
    assert plain("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert plain("a\u202eb") == "a\\u202eb"  # bidi override would reorder what is shown
    assert plain("שלום [bold]") == "שלום [bold]"  # RTL text and brackets stay as they are
    assert plain("x" * 5000, 10) == "x" * 10 + "… (5,000 chars)"
    assert plain("x" * 5000, 10, note=False) == "x" * 9 + "…"
    assert plain(None) == ""


# -- the screens, driven in the real console against the real service ---------------------------------

import secrets  # noqa: E402
from collections.abc import AsyncIterator, Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402
from conftest import RunningService, start_service  # noqa: E402
from textual.command import CommandPalette  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from tui_helpers import no_approvals  # noqa: E402

from flagops.config import Profile  # noqa: E402
from flagops.session import open_backend  # noqa: E402
from flagops.tui.app import FlagOpsApp  # noqa: E402
from flagops.tui.screens.dashboard_screen import DashboardScreen  # noqa: E402
from flagops.tui.screens.detail_screen import FlagDetailScreen  # noqa: E402
from flagops.tui.screens.help_screen import HelpScreen  # noqa: E402


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    workdir = tmp_path_factory.mktemp("detail")
    svc = start_service(workdir, demo=True, traffic=True, extra_args=no_approvals(workdir))
    yield svc
    svc.stop()


def new_flag(svc: RunningService, rollout: float = 40) -> str:
    key = f"detail-{secrets.token_hex(3)}"
    with svc.client() as http:
        response = http.post(
            "/v1/flags",
            json={
                "key": key,
                "name": f"{key} for the detail tests",
                "owner": "team-detail",
                "tags": ["detail"],
                "riskLevel": "high",
                "killSwitch": True,
                "ticket": "DET-1",
                "environments": {env: {"enabled": True, "rollout": rollout} for env in ("dev", "staging", "prod")},
                "changeReason": "created by the detail tests",
            },
        )
        assert response.status_code == 201, response.text
    return key


def patch(svc: RunningService, key: str, env: str, reason: str, **change: Any) -> None:
    with svc.client() as http:
        etag = http.get(f"/v1/flags/{key}", params={"environment": env}).headers["ETag"]
        response = http.patch(
            f"/v1/flags/{key}",
            params={"environment": env},
            headers={"If-Match": etag},
            json={**change, "changeReason": reason},
        )
        assert response.status_code == 200, response.text


@pytest.fixture
async def make_console(live_service: RunningService) -> AsyncIterator[Callable[..., FlagOpsApp]]:
    apps: list[FlagOpsApp] = []

    def make(*, readonly: bool = False, keys: dict[str, str] | None = None, environment: str = "dev") -> FlagOpsApp:
        profile = Profile(
            name="detail", url=live_service.url, environment=environment, readonly=readonly, keys=keys or {}
        )
        app = FlagOpsApp(profile, open_backend(profile, live_service.admin_token))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.backend.aclose()


async def until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def text_of(app: Any, selector: str) -> str:
    """The rendered text of a widget on the current screen ("" until it is mounted)."""
    found = app.screen.query(selector)
    return str(found.first().render()) if found else ""


async def open_detail(pilot: Pilot[Any], app: Any, key: str) -> FlagDetailScreen:
    await until(pilot, lambda: app.store.loaded)
    app.open_flag(key)
    await until(pilot, lambda: isinstance(app.screen, FlagDetailScreen) and app.screen.flag is not None)
    return app.screen  # type: ignore[no-any-return]


async def test_detail_shows_everything_and_follows_changes(
    live_service: RunningService, make_console: Callable[..., FlagOpsApp]
) -> None:
    key = new_flag(live_service)
    patch(live_service, key, "prod", "ramping down before the load test", rollout=15)
    app = make_console(environment="prod")  # the traffic simulator's evaluations are mostly in prod

    def prod_line() -> str:
        return next(line for line in text_of(app, "#detail-envs").splitlines() if "prod" in line)

    async with app.run_test(size=(120, 50)) as pilot:
        await open_detail(pilot, app, key)
        await until(pilot, lambda: "ramping down" in text_of(app, "#detail-audit"))
        envs = text_of(app, "#detail-envs")
        assert "dev" in envs and "staging" in envs and "PROT" in prod_line()
        assert "on 15%" in prod_line() and "on 40%" in envs
        assert "team-detail" in text_of(app, "#detail-summary") and "risk high" in text_of(app, "#detail-summary")
        assert "15% get on" in text_of(app, "#detail-rules")
        audit = text_of(app, "#detail-audit")
        assert "on 40% -> on 15%" in audit and "alice-admin" in audit and "prod" in audit
        # live charts: the traffic simulator's evaluations by variant, with an error rate
        await until(pilot, lambda: len(app.screen.query("#chart-variants ChartRow")) >= 1, timeout=15)
        assert "evaluations" in text_of(app, "#chart-summary")
        # the service splits errors by variant: one error row per variant with traffic, on one scale
        await until(pilot, lambda: len(app.screen.query("#chart-errors ErrorRow")) >= 1, timeout=15)
        labels = [str(w.render()) for w in app.screen.query("#chart-errors ErrorRow .chart-label")]
        assert labels and all(label.startswith("errors ") for label in labels), labels
        # another client changes the flag: the screen shows it by the next refresh
        patch(live_service, key, "prod", "incident 77: turning it off", enabled=False)
        await until(pilot, lambda: "incident 77" in text_of(app, "#detail-audit"), timeout=10)
        await until(pilot, lambda: "off" in prod_line())
        # e switches the charts' environment
        await pilot.press("e")
        assert "dev" in text_of(app, "#detail-charts-title")
        await pilot.press("escape")
        assert not isinstance(app.screen, FlagDetailScreen)


async def test_detail_write_keys_open_the_action_flow_and_vanish_when_read_only(
    live_service: RunningService, make_console: Callable[..., FlagOpsApp]
) -> None:
    key = new_flag(live_service)
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_detail(pilot, app, key)
        await pilot.press("k")
        await until(pilot, lambda: type(app.screen).__name__ == "ActionModal")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FlagDetailScreen))

    ro = make_console(readonly=True)
    async with ro.run_test(size=(100, 30)) as pilot:
        screen = await open_detail(pilot, ro, key)
        actions = {b.binding.action for b in screen.active_bindings.values()}
        assert not any(a.startswith("write") for a in actions)
        await pilot.press("k", "u", "percent_sign")
        await pilot.pause(0.3)
        assert ro.screen is screen  # nothing opened
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(ro.screen, HelpScreen))
        keys = text_of(ro, "#help-keys")
        assert "Kill" not in keys and "Rollback" not in keys and "Refresh" in keys


async def test_help_shows_remapped_keys(live_service: RunningService, make_console: Callable[..., FlagOpsApp]) -> None:
    key = new_flag(live_service)
    app = make_console(keys={"kill": "K", "detail.refresh": "f5"})
    async with app.run_test(size=(100, 40)) as pilot:
        await open_detail(pilot, app, key)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        lines = text_of(app, "#help-keys").splitlines()
        assert any("K" in line.split() and "Kill" in line and "[kill]" in line for line in lines), lines
        assert any("f5" in line and "Refresh" in line for line in lines), lines


async def test_dashboard_feed_and_rankings(
    live_service: RunningService, make_console: Callable[..., FlagOpsApp]
) -> None:
    key = new_flag(live_service)
    app = make_console(environment="dev")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.store.loaded)
        app.push_screen(DashboardScreen())
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        patch(live_service, key, "dev", "dashboard feed check", rollout=5)
        await until(pilot, lambda: "dashboard feed check" in text_of(app, "#feed"), timeout=10)
        assert key in text_of(app, "#feed")
        await until(pilot, lambda: key in text_of(app, "#recent"), timeout=10)
        await until(pilot, lambda: "%" in text_of(app, "#top-errors"), timeout=20)
        await pilot.press("escape")


async def test_dashboard_calls_out_a_rise_after_a_change(
    tmp_path: Path, make_console: Callable[..., FlagOpsApp]
) -> None:
    """Metrics reported to the real service: 0.5% errors before a rollout change, 10% after it."""
    import time
    from datetime import datetime, timedelta

    svc = start_service(tmp_path / "rise", demo=True, traffic=False, extra_args=no_approvals(tmp_path))
    try:
        key = new_flag(svc, rollout=10)
        now = datetime.now(UTC)
        with httpx.Client(base_url=svc.url, headers=svc.headers(svc.metrics_token), timeout=10) as metrics:
            for seconds in range(300, 20, -10):
                body = {
                    "environment": "prod",
                    "at": (now - timedelta(seconds=seconds)).isoformat(),
                    "counts": [{"flag": key, "evaluations": {"on": 20, "off": 180}, "errors": 1}],
                }
                assert metrics.post("/v1/metrics", json=body).status_code == 202
            patch(svc, key, "prod", "ramping to half of prod", rollout=50)
            changed = time.time()
            time.sleep(10 - changed % 10 + 0.5)  # into the next 10 s step: the change's own step is mixed
            body = {
                "environment": "prod",
                "counts": [{"flag": key, "evaluations": {"on": 100, "off": 100}, "errors": 20}],
            }
            assert metrics.post("/v1/metrics", json=body).status_code == 202
        profile = Profile(name="rise", url=svc.url, environment="prod")
        app = FlagOpsApp(profile, open_backend(profile, svc.admin_token))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.store.loaded)
            app.push_screen(DashboardScreen())
            await until(pilot, lambda: key in getattr(app.screen, "rises", {}), timeout=15)
            rise = app.screen.rises[key]  # type: ignore[attr-defined]
            assert rise.before == pytest.approx(0.005, abs=0.002) and rise.after == pytest.approx(0.1, abs=0.02)
            await until(pilot, lambda: key in text_of(app, "#suspects"))
            assert "on 10% -> on 50%" in text_of(app, "#suspects")
        await app.backend.aclose()
    finally:
        svc.stop()


async def test_palette_context_actions_and_theme_switch(
    live_service: RunningService, make_console: Callable[..., FlagOpsApp]
) -> None:
    key = new_flag(live_service)
    app = make_console()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_detail(pilot, app, key)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*f"kill {key}")
        await until(
            pilot, lambda: f"kill {key}" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
        )
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ActionModal")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FlagDetailScreen))
        # theme switch through the palette
        await pilot.press("ctrl+p")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*"theme: high-contrast")
        await until(
            pilot, lambda: "high-contrast" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
        )
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == "high-contrast")
        assert isinstance(app.screen, FlagDetailScreen)


def test_service_is_real(live_service: RunningService) -> None:
    """Guard: these tests talk HTTP to a separate process."""
    assert httpx.get(f"{live_service.url}/healthz").status_code == 200


def test_chart_spans_read_naturally() -> None:
    from flagops.tui.widgets.charts import format_span

    assert format_span(300) == "5 min" and format_span(10, short=True) == "10s"
    assert format_span(3600, short=True) == "1 h" and format_span(86400) == "24 h"  # Unleash: hourly points


async def test_metrics_panel_says_no_traffic_and_no_error_source() -> None:
    from textual.app import App, ComposeResult

    from flagops.tui.widgets.charts import MetricsPanel

    class PanelApp(App[None]):
        def compose(self) -> ComposeResult:
            yield MetricsPanel()

    quiet = MetricSeries("f", "prod", 10, tuple(MetricPoint(T0, {}, 0) for _ in range(30)))
    busy = series([(0, 100, 1), (10, 100, 3)])
    app = PanelApp()
    async with app.run_test() as pilot:
        panel = app.query_one(MetricsPanel)
        panel.show(quiet)
        await pilot.pause()
        assert "no evaluations in this window" in str(panel.query_one("#chart-variants Static").render())
        assert "no traffic" in str(panel.query_one("#chart-errors .chart-stats").render())
        panel.show(busy)
        await pilot.pause()
        assert "now 3.0% avg 2.0%" in str(panel.query_one("#chart-errors .chart-stats").render())
        panel.show(busy, error_source=False)
        await pilot.pause()
        assert "no error source configured" in str(panel.query_one("#chart-errors Static").render())
