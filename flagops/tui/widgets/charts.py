"""Small live charts: evaluations by variant and error rate, from a MetricSeries.

`MetricsPanel` shows one Sparkline per variant (evaluations per step) with its share of traffic, and a
Sparkline of the error rate per step. Where the backend has no error source (Unleash OSS), it says so in
words instead of drawing a flat line of zeros that would look like "no errors".
`sparkline_text` is the same idea as a plain string, for table cells and the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from flagops.model import MetricSeries
from flagops.tui.safe_text import plain

NO_ERROR_SOURCE = "no error source configured"
BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline_text(values: Sequence[float], width: int = 12) -> str:
    """The last `width` values as block characters, scaled to their own maximum."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return BLOCKS[0] * len(tail)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))] for v in tail)


def error_rates(series: MetricSeries) -> list[float]:
    """Error rate per step (0 where a step had no traffic)."""
    return [p.errors / p.total if p.total else 0.0 for p in series.points]


def variant_counts(series: MetricSeries) -> dict[str, list[int]]:
    """Evaluations per step for each variant seen in the window, in first-seen order."""
    names: list[str] = []
    for point in series.points:
        for name in point.evaluations:
            if name not in names:
                names.append(name)
    return {name: [p.evaluations.get(name, 0) for p in series.points] for name in names}


def format_rate(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate * 100:.1f}%" if rate < 0.995 else "100%"


def format_span(seconds: int, *, short: bool = False) -> str:
    """300 -> "5 min", 10 -> "10s", 7200 -> "2 h" (Unleash reports hourly points)."""
    if seconds < 60 or (short and seconds < 3600 and seconds % 60):
        return f"{seconds}s"
    if seconds < 3600 * 2 and seconds % 3600:
        return f"{max(1, seconds // 60)} min"
    return f"{seconds // 3600} h"


def format_count(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return f"{n:.0f}"


class ChartRow(Horizontal):
    DEFAULT_CSS = """
    ChartRow { height: 1; }
    ChartRow > .chart-label { width: 18; }
    ChartRow > Sparkline { width: 1fr; margin-right: 1; }
    ChartRow > .chart-stats { width: 22; }
    """

    def __init__(self, label: str, values: Sequence[float], stats: str, *, error: bool = False) -> None:
        super().__init__(classes="-error" if error else "")
        self._label = label
        self._values = list(values)
        self._stats = stats

    def compose(self) -> ComposeResult:
        yield Static(Content(plain(self._label, 16)), classes="chart-label", markup=False)
        yield Sparkline(self._values)
        yield Static(Content(self._stats), classes="chart-stats", markup=False)

    def set_values(self, values: Sequence[float], stats: str) -> None:
        self.query_one(Sparkline).data = list(values)
        self.query_one(".chart-stats", Static).update(Content(stats))


class MetricsPanel(Vertical):
    """Evaluations by variant and error rate for one flag in one environment."""

    DEFAULT_CSS = """
    MetricsPanel { height: auto; }
    MetricsPanel > Vertical { height: auto; }
    MetricsPanel > .chart-note { color: $text-muted; }
    MetricsPanel ChartRow.-error > Sparkline > .sparkline--max-color { color: $error; }
    MetricsPanel ChartRow.-error > Sparkline > .sparkline--min-color { color: $error 30%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._variants: list[str] | None = None  # None: nothing drawn yet

    def compose(self) -> ComposeResult:
        yield Static("loading metrics…", classes="chart-note", id="chart-summary", markup=False)
        yield Vertical(id="chart-variants")
        yield Vertical(id="chart-errors")

    def show_problem(self, message: str) -> None:
        """Metrics could not be fetched: say why, keep the last charts."""
        self.query_one("#chart-summary", Static).update(Content(plain(message, 200)))

    def show(self, series: MetricSeries, *, error_source: bool = True) -> None:
        counts = variant_counts(series)
        total = series.evaluations
        summary = (f"last {format_span(len(series.points) * series.step_seconds)}, "
                   f"{format_span(series.step_seconds, short=True)} steps: "
                   f"{format_count(total)} evaluations ({format_count(series.evaluations_per_minute())}/min)")
        self.query_one("#chart-summary", Static).update(Content(summary))
        variants = self.query_one("#chart-variants", Vertical)
        if list(counts) != self._variants:  # the set of variants changed: rebuild (rare)
            self._variants = list(counts)
            variants.remove_children()
            rows = [ChartRow(name, values, self._variant_stats(values, total))
                    for name, values in counts.items()]
            if not rows:
                rows_or_note: list[Static | ChartRow] = [
                    Static("no evaluations in this window", classes="chart-note", markup=False)]
            else:
                rows_or_note = list(rows)
            variants.mount_all(rows_or_note)
        else:  # same variants: update in place
            for row, (_name, values) in zip(variants.query(ChartRow), counts.items(), strict=False):
                row.set_values(values, self._variant_stats(values, total))
        self._show_errors(series, error_source)

    @staticmethod
    def _variant_stats(values: Sequence[int], total: int) -> str:
        n = sum(values)
        share = n / total if total else 0.0
        return f"{format_count(n):>6} {share * 100:5.1f}%"

    def _show_errors(self, series: MetricSeries, error_source: bool) -> None:
        box = self.query_one("#chart-errors", Vertical)
        if not (error_source and series.has_errors):
            if not box.query(".no-error-source"):
                box.remove_children()
                box.mount(Static(f"error rate: {NO_ERROR_SOURCE}", classes="chart-note no-error-source",
                                 markup=False))
            return
        rates = error_rates(series)
        last = rates[-1] if rates else None
        if series.evaluations == 0:
            stats = "no traffic"  # 0 errors of 0 evaluations is not a 0% error rate
        else:
            stats = f"now {format_rate(last)} avg {format_rate(series.error_rate)}"
        existing = box.query(ChartRow)
        if existing:
            existing.first().set_values(rates, stats)
        else:
            box.remove_children()
            box.mount(ChartRow("error rate", rates, stats, error=True))
