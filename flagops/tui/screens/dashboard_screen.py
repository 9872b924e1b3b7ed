"""Live rollout and error overview for the current environment.

Four panels: flags ranked by error rate, flags ranked by most recent change, flags whose error rate rose
after a change (the incident suspects, called out first), and a feed of changes as they come in.

Data: the app's LiveFlags store supplies flags and per-flag error rates (kept current by SSE and the
metrics sweep); the feed is the environment's audit log, polled every couple of seconds for entries newer
than the last one seen; for each flag changed in the last `SUSPECT_WINDOW` a metrics window spanning the
change is fetched and the error rate before and after it compared (`rose_after_change`).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from flagops.errors import FlagOpsError
from flagops.metrics.base import VariantRate, variant_rates
from flagops.metrics.paired import metrics_source
from flagops.model import AuditEntry, Flag, MetricSeries
from flagops.tui import clock
from flagops.tui.live.store import FlagMetrics
from flagops.tui.safe_text import plain
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.widgets.audit_view import change_summary
from flagops.tui.widgets.charts import TREND_LEGEND, format_rate, format_span, trend_sparkline

FEED_SECONDS = 2.0
SUSPECT_SECONDS = 10.0
SUSPECT_WINDOW = timedelta(minutes=15)
MAX_SUSPECT_CHECKS = 8
TOP_N = 10
FEED_MAX = 40
# "rose": at least this much higher after the change, in absolute terms and relative to before
RISE_ABSOLUTE = 0.005  # half a percentage point
RISE_RELATIVE = 1.5
MIN_EVALUATIONS = 20  # on each side of the change; fewer is noise
METRICS_STEP = 10  # the v1 API's metric resolution: steps are multiples of it


def utcnow() -> datetime:
    """The dashboard's clock (one place, so snapshot tests can pin it)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Rise:
    flag_key: str
    before: float
    after: float
    change: AuditEntry
    after_seconds: int = 0  # how long "after" is: from the change to now
    by_variant: tuple[VariantRate, ...] = ()  # after the change, where errors are split by variant


def rose_after_change(series: MetricSeries, at: datetime) -> tuple[float, float] | None:
    """(error rate before, after) when it rose meaningfully after `at`; None otherwise or when unknown."""
    if not series.has_errors:
        return None
    step = timedelta(seconds=series.step_seconds)
    # the step the change fell into is mixed: leave it out of both sides
    before = [p for p in series.points if p.at + step <= at]
    after = [p for p in series.points if p.at >= at]
    n_before, n_after = sum(p.total for p in before), sum(p.total for p in after)
    if n_before < MIN_EVALUATIONS or n_after < MIN_EVALUATIONS:
        return None
    rate_before = sum(p.errors for p in before) / n_before
    rate_after = sum(p.errors for p in after) / n_after
    if rate_after - rate_before >= RISE_ABSOLUTE and rate_after >= rate_before * RISE_RELATIVE:
        return rate_before, rate_after
    return None


def after_by_variant(series: MetricSeries, at: datetime) -> tuple[VariantRate, ...]:
    """Error rate per variant since `at` ("is the new path the one failing?")."""
    return tuple(v for v in variant_rates(series, [p for p in series.points if p.at >= at]) if v.evaluations > 0)


def _state(flag: Flag, environment: str) -> str:
    state = flag.state(environment)
    if state is None:
        return "—"
    return f"on {state.rollout:g}%" if state.enabled else "off"


def _age(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "—"
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


class DashboardScreen(ConsoleScreen):
    """Where is it burning, and what changed just before?"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="dashboard.back"),
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
    ]
    DESTINATION = "dashboard"

    CSS_PATH = "screens.tcss"  # detail, dashboard and help styles, in one file

    def __init__(self) -> None:
        super().__init__()
        self.feed: list[AuditEntry] = []
        self.rises: dict[str, Rise] = {}
        self.feed_problem: str | None = None
        self._recent_key: tuple[Any, ...] | None = None
        self.wide = True  # two columns of panels; one column on narrow terminals
        self.key_width = 30
        # kept as attributes: nested children may mount after this screen's own Mount event
        self.grid = Grid()
        self.panels = {
            name: Static("", id=name, classes=classes, markup=False)
            for name, classes in (
                ("suspects", "panel panel-wide"),
                ("top-errors", "panel"),
                ("recent", "panel"),
                ("feed", "panel panel-wide"),
            )
        }

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(), self.grid:
            yield from self.panels.values()

    def on_resize(self) -> None:
        self._fit(self.size.width)

    def _fit(self, width: int) -> None:
        """Two panels side by side from 100 columns; below that one column so lines do not wrap."""
        if width <= 0:
            return
        self.wide = width >= 100
        self.grid.styles.grid_size_columns = 2 if self.wide else 1
        for name in ("suspects", "feed"):
            self.panels[name].styles.column_span = 2 if self.wide else 1
        panel_width = (width - 3) // 2 if self.wide else width - 2
        # a ranked line: 16 columns of rate and trend, the key, 8 of state; 4 of border and padding
        self.key_width = max(12, min(40, panel_width - 4 - 16 - 8 - 1))
        self._recent_key = None
        self.render_panels()

    def on_mount(self) -> None:
        self.title = "dashboard"
        self._fit(self.app.size.width)
        self.render_panels()
        self.poll_feed()  # checks for suspects once the feed is in
        self.set_interval(FEED_SECONDS, self.poll_feed)
        self.set_interval(FEED_SECONDS, self.render_panels)
        self.set_interval(SUSPECT_SECONDS, self.check_suspects)

    # -- data --------------------------------------------------------------------------------------

    def _flags(self) -> Mapping[str, Flag]:
        """The store's own mapping (read, never copied: 50,000 flags every 2 s)."""
        return self.host.store.flags

    def _metrics(self) -> Mapping[str, FlagMetrics]:
        return self.host.store.metrics

    @work(exclusive=True, group="dashboard-feed", exit_on_error=False)
    async def poll_feed(self) -> None:
        host = self.host
        try:
            entries = await host.backend.audit(environment=host.environment, limit=FEED_MAX)
        except FlagOpsError as exc:
            self.feed_problem = f"change feed unavailable: {exc.message}"
            self.render_panels()
            return
        self.feed_problem = None
        known = {e.sequence for e in self.feed}
        if any(e.sequence not in known for e in entries) or len(entries) != len(self.feed):
            self.feed = sorted(entries, key=lambda e: e.sequence, reverse=True)[:FEED_MAX]
            self.render_panels()
            self.check_suspects()  # a new change may be the cause of the next rise: look now

    @work(exclusive=True, group="dashboard-suspects", exit_on_error=False)
    async def check_suspects(self) -> None:
        host = self.host
        now = utcnow()
        latest: dict[str, AuditEntry] = {}
        for entry in self.feed:  # newest first: keep each flag's latest change in the window
            if entry.action in ("flag.updated", "flag.restored") and now - entry.at <= SUSPECT_WINDOW:
                latest.setdefault(entry.flag_key, entry)
        candidates = list(latest.values())[:MAX_SUSPECT_CHECKS]

        async def check(entry: AuditEntry) -> Rise | None:
            window = int((now - entry.at).total_seconds()) * 2 + 60  # as much before the change as after
            window = max(120, min(window, 3600))
            step = max(METRICS_STEP, window // 30 // METRICS_STEP * METRICS_STEP)  # the API wants multiples
            window = -(-window // step) * step
            try:
                series = await host.backend.metrics(
                    entry.flag_key, host.environment, window_seconds=window, step_seconds=step
                )
            except FlagOpsError:
                return None
            rose = rose_after_change(series, entry.at)
            if not rose:
                return None
            return Rise(
                entry.flag_key,
                rose[0],
                rose[1],
                entry,
                int((now - entry.at).total_seconds()),
                after_by_variant(series, entry.at),
            )

        results = await asyncio.gather(*(check(e) for e in candidates))
        self.rises = {r.flag_key: r for r in results if r is not None}
        self.render_panels()

    # -- drawing -----------------------------------------------------------------------------------

    def render_panels(self) -> None:
        host = self.host
        env = host.environment
        now = utcnow()
        flags = self._flags()
        metrics = self._metrics()
        self.panels["suspects"].update(self._suspects(flags, env, now))
        self.panels["top-errors"].update(self._top_errors(flags, metrics, env))
        # ranking every flag by last change is the expensive part (~15 ms at 50k): redo it when the feed
        # shows a new change, the set of flags changes, or every 30 s (the ages shown move on)
        recent_key = (env, len(flags), self.feed[0].sequence if self.feed else None, int(now.timestamp()) // 30)
        if recent_key != self._recent_key:
            self._recent_key = recent_key
            self.panels["recent"].update(self._recent(flags, env, now))
        self.panels["feed"].update(self._feed(now))

    def _source_problem(self) -> str | None:
        """'metrics source unreachable since 03:12:09 (...)' while the source is failing."""
        return metrics_source(self.host.backend).health.label()

    def _suspects(self, by_key: Mapping[str, Flag], env: str, now: datetime) -> Content:
        parts: list[str | tuple[str, str]] = [("Error rate rose after a change", "bold $error")]
        if not self.host.backend.capabilities.error_metrics:
            parts.append(("\nno error source configured: cannot compare error rates", "dim"))
            return Content.assemble(*parts)
        if problem := self._source_problem():
            parts.append(("\n" + plain(problem, 300, note=False) + " — the numbers below are the last known", "$error"))
        if not self.rises:
            parts.append((f"\nnone in the last {int(SUSPECT_WINDOW.total_seconds() // 60)} min", "dim"))
            return Content.assemble(*parts)
        for rise in sorted(self.rises.values(), key=lambda r: r.after - r.before, reverse=True):
            flag = by_key.get(rise.flag_key)
            parts.append("\n")
            parts.append(("▲ ", "bold $error"))
            parts.append((plain(rise.flag_key, 40, note=False), "bold"))
            parts.append(f"  {format_rate(rise.before)} -> ")
            parts.append((format_rate(rise.after), "bold $error"))
            parts.append(
                f"  after {change_summary(rise.change)} by {plain(rise.change.actor, 24)} {_age(rise.change.at, now)}"
            )
            if flag is not None:
                parts.append((f"  now {_state(flag, env)}", "dim"))
            # the window is said, so this and "Highest error rate, last 5 min" cannot seem to disagree
            parts.append((f"\n    before vs the {format_span(max(60, rise.after_seconds))} since the change", "dim"))
            if rise.by_variant:
                parts.append(("; by variant since: ", "dim"))
                for i, v in enumerate(rise.by_variant[:4]):
                    worst = v.rate is not None and v.rate == max((x.rate or 0.0) for x in rise.by_variant)
                    parts.append(("" if i == 0 else ", ", "dim"))
                    parts.append(
                        (
                            f"{plain(v.variant, 20, note=False)} {format_rate(v.rate)}",
                            "bold $error" if worst and len(rise.by_variant) > 1 else "",
                        )
                    )
        return Content.assemble(*parts)

    def _top_errors(self, flags: Mapping[str, Flag], metrics: Mapping[str, FlagMetrics], env: str) -> Content:
        window = self.host.error_rates.window
        parts: list[str | tuple[str, str]] = [(f"Highest error rate, last {format_span(window)}", "bold $primary")]
        if not self.host.backend.capabilities.error_metrics:
            parts.append(("\nno error source configured", "dim"))
            return Content.assemble(*parts)
        if problem := self._source_problem():
            parts.append(("\n" + plain(problem, 300, note=False), "$error"))
        # O(n) with plain tuples: this runs over every flag every 2 s
        top = heapq.nlargest(
            TOP_N, ((m.error_rate, key) for key, m in metrics.items() if m.error_rate is not None and key in flags)
        )
        if not top:
            parts.append(("\nwaiting for metrics…", "dim"))
        for rate, key in top:
            flag, m = flags[key], metrics[key]
            style = "bold $error" if rate >= 0.05 else "$warning" if rate >= 0.01 else ""
            parts.append("\n")
            parts.append((f"{format_rate(rate):>6} ", style))
            parts.append((f"{trend_sparkline(m.trend, 8):<8} ", style or "$primary"))
            parts.append(f"{plain(flag.key, self.key_width, note=False):<{self.key_width}}")
            parts.append((f" {_state(flag, env)}", "dim"))
        if top:
            parts.append(("\n" + TREND_LEGEND, "dim"))
        return Content.assemble(*parts)

    def _recent(self, flags: Mapping[str, Flag], env: str, now: datetime) -> Content:
        parts: list[str | tuple[str, str]] = [("Most recently changed", "bold $primary")]
        top = heapq.nlargest(
            TOP_N,
            (
                (state.updated_at, key)
                for key, flag in flags.items()
                if (state := flag.states.get(env)) is not None and state.updated_at is not None
            ),
        )
        if not top:
            parts.append(("\nno flags loaded yet", "dim"))
        for changed_at, key in top:
            flag = flags[key]
            parts.append("\n")
            parts.append((f"{_age(changed_at, now):>8} ", "dim"))
            parts.append(f"{plain(flag.key, self.key_width, note=False):<{self.key_width}}")
            parts.append((f" {_state(flag, env)}", "dim"))
        return Content.assemble(*parts)

    def _feed(self, now: datetime) -> Content:
        parts: list[str | tuple[str, str]] = [("Changes as they come in", "bold $primary")]
        if self.feed_problem:
            parts.append(("\n" + plain(self.feed_problem, 200), "$error"))
        if not self.feed:
            parts.append(("\nno changes yet", "dim"))
        for entry in self.feed[:15]:
            parts.append("\n")
            parts.append((f"{clock.when(entry.at)} ", "dim"))
            if entry.flag_key in self.rises:
                parts.append(("▲ ", "bold $error"))
            parts.append((plain(entry.flag_key, 32, note=False), "bold"))
            parts.append(f"  {change_summary(entry)}  {plain(entry.actor, 20)}: ")
            parts.append(plain(entry.reason, 80, note=False))
        return Content.assemble(*parts)

    # -- actions -----------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self.poll_feed()
        self.check_suspects()
        self.render_panels()
