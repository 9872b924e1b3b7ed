"""Small live charts: evaluations by variant and error rate, from a MetricSeries.

`MetricsPanel` shows one Sparkline per variant (evaluations per step) with its share of traffic, and the
error rate per step of each variant (where the metrics source splits errors by variant; else of all
traffic), the error rows on one shared scale, and treatment vs control in words. Where there is no error
source (Unleash OSS without Prometheus), it says so instead of drawing a flat line of zeros.
`trend_sparkline` draws the table's and the dashboard's trend cells on one fixed scale for every row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from flagops.metrics.base import arms, variant_rates
from flagops.model import FlagState, MetricSeries
from flagops.tui.safe_text import plain

NO_ERROR_SOURCE = "no error source configured"
ERROR_SCALE_FLOOR = 0.01  # a quiet chart's error rows top out at 1 %, so 0.1 % noise stays low
BLOCKS = "▁▂▃▄▅▆▇█"


def error_rates(series: MetricSeries, variant: str | None = None) -> list[float]:
    """Error rate per step, of all traffic or of one variant (0 where a step had no traffic)."""
    if variant is None:
        return [p.errors / p.total if p.total else 0.0 for p in series.points]
    rates = []
    for p in series.points:
        n = p.evaluations.get(variant, 0.0)
        rates.append(p.errors_by_variant.get(variant, 0.0) / n if n else 0.0)
    return rates


def variant_counts(series: MetricSeries) -> dict[str, list[float]]:
    """Evaluations per step for each variant seen in the window, in first-seen order."""
    names: list[str] = []
    for point in series.points:
        for name in point.evaluations:
            if name not in names:
                names.append(name)
    return {name: [p.evaluations.get(name, 0.0) for p in series.points] for name in names}


# One scale for every trend cell (flag table, dashboard), so 0.3 % and 5 % never look alike: each block
# is a band of error rates, roughly doubling. ▁ below 0.1 %, ▂ 0.1 %, ▃ 0.25 %, ▄ 0.5 %, ▅ 1 %, ▆ 2 %,
# ▇ 5 %, █ 10 % or more.
TREND_BANDS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.10)
TREND_LEGEND = "trend: one scale for every row, ▇ = 5%"


def trend_sparkline(rates: Sequence[float], width: int) -> str:
    """The last `width` error rates on the shared band scale (TREND_BANDS)."""
    tail = list(rates)[-width:] if width > 0 else []
    return "".join(BLOCKS[bisect_right(TREND_BANDS, rate)] for rate in tail)


def scaled_sparkline(values: Sequence[float], top: float, width: int) -> str:
    """The last `width` values scaled linearly to `top` (shared by the rows of one chart)."""
    tail = list(values)[-width:] if width > 0 else []
    if top <= 0:
        return BLOCKS[0] * len(tail)
    return "".join(BLOCKS[max(0, min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5)))] for v in tail)


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

    def __init__(self, label: str, values: Sequence[float], stats: str) -> None:
        super().__init__()
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


class RateSpark(Widget):
    """Error rates as blocks on a scale shared with the chart's other error rows (Sparkline scales each
    row to its own maximum, which would make 0.3 % and 5 % look alike)."""

    DEFAULT_CSS = "RateSpark { height: 1; width: 1fr; margin-right: 1; color: $error; }"

    def __init__(self, values: Sequence[float], top: float) -> None:
        super().__init__()
        self._values, self._top = list(values), top

    def set(self, values: Sequence[float], top: float) -> None:
        self._values, self._top = list(values), top
        self.refresh()

    def render(self) -> Content:
        width, values = self.size.width, self._values
        if values and 0 < len(values) < width:  # stretch across the row, in step with the Sparklines above
            values = [values[i * len(values) // width] for i in range(width)]
        return Content(scaled_sparkline(values, self._top, width))


class ErrorRow(Horizontal):
    DEFAULT_CSS = """
    ErrorRow { height: 1; }
    ErrorRow > .chart-label { width: 18; }
    ErrorRow > .chart-stats { width: 22; }
    """

    def __init__(self, label: str, values: Sequence[float], top: float, stats: str) -> None:
        super().__init__()
        self.label = label
        self._values, self._top, self._stats = list(values), top, stats

    def compose(self) -> ComposeResult:
        yield Static(Content(plain(self.label, 16)), classes="chart-label", markup=False)
        yield RateSpark(self._values, self._top)
        yield Static(Content(self._stats), classes="chart-stats", markup=False)

    def set_values(self, values: Sequence[float], top: float, stats: str) -> None:
        self.query_one(RateSpark).set(values, top)
        self.query_one(".chart-stats", Static).update(Content(stats))


def _rate_stats(values: Sequence[float], evaluations: float, rate: float | None) -> str:
    if evaluations <= 0:
        return "no traffic"  # 0 errors of 0 evaluations is not a 0% error rate
    return f"now {format_rate(values[-1] if values else None)} avg {format_rate(rate)}"


def compare_arms(series: MetricSeries, state: FlagState | None) -> str | None:
    """'treatment on 7.9% vs control off 0.4% (+7.5 points)': the question at 03:00, in words."""
    pair = arms(series, state) if state is not None else None
    if pair is None:
        return None
    t, c = pair.treatment, pair.control
    head = (
        f"treatment {plain(t.variant, 20)} {format_rate(t.rate)} vs control {plain(c.variant, 20)} "
        f"{format_rate(c.rate)}"
    )
    if pair.difference is None:
        missing = "treatment" if t.rate is None else "control"
        return f"{head} ({missing} had no traffic: nothing to compare)"
    return f"{head} ({pair.difference * 100:+.1f} points)"


class MetricsPanel(Vertical):
    """Evaluations by variant and error rate (split by variant where the source can) for one flag."""

    DEFAULT_CSS = """
    MetricsPanel { height: auto; }
    MetricsPanel > Vertical { height: auto; }
    MetricsPanel > .chart-note { color: $text-muted; }
    MetricsPanel .chart-note { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._variants: list[str] | None = None  # None: nothing drawn yet
        self._error_rows: list[str] | None = None
        self._last: tuple[MetricSeries, bool] | None = None  # redrawn when the flag's state arrives later

    def compose(self) -> ComposeResult:
        yield Static("loading metrics…", classes="chart-note", id="chart-summary", markup=False)
        yield Vertical(id="chart-variants")
        yield Vertical(id="chart-errors")
        yield Static("", classes="chart-note", id="chart-compare", markup=False)

    def show_problem(self, message: str) -> None:
        """Metrics could not be fetched: say why, keep the last charts."""
        self.query_one("#chart-summary", Static).update(Content(plain(message, 300)))

    def set_state(self, state: FlagState | None) -> None:
        """The flag (and so treatment and control) arrived after the metrics: redraw the comparison."""
        if self._last is not None:
            self._show_errors(self._last[0], self._last[1], state)

    def show(self, series: MetricSeries, *, error_source: bool = True, state: FlagState | None = None) -> None:
        self._last = (series, error_source)
        counts = variant_counts(series)
        total = series.evaluations
        summary = (
            f"last {format_span(len(series.points) * series.step_seconds)}, "
            f"{format_span(series.step_seconds, short=True)} steps: "
            f"{format_count(total)} evaluations ({format_count(series.evaluations_per_minute())}/min)"
        )
        if series.note:
            summary += f" — {plain(series.note, 200)}"
        self.query_one("#chart-summary", Static).update(Content(summary))
        variants = self.query_one("#chart-variants", Vertical)
        if list(counts) != self._variants:  # the set of variants changed: rebuild (rare)
            self._variants = list(counts)
            variants.remove_children()
            rows = [ChartRow(name, values, self._variant_stats(values, total)) for name, values in counts.items()]
            if not rows:
                rows_or_note: list[Static | ChartRow] = [
                    Static("no evaluations in this window", classes="chart-note", markup=False)
                ]
            else:
                rows_or_note = list(rows)
            variants.mount_all(rows_or_note)
        else:  # same variants: update in place
            for row, (_name, values) in zip(variants.query(ChartRow), counts.items(), strict=False):
                row.set_values(values, self._variant_stats(values, total))
        self._show_errors(series, error_source, state)

    @staticmethod
    def _variant_stats(values: Sequence[float], total: float) -> str:
        n = sum(values)
        share = n / total if total else 0.0
        return f"{format_count(n):>6} {share * 100:5.1f}%"

    def _show_errors(self, series: MetricSeries, error_source: bool, state: FlagState | None) -> None:
        box = self.query_one("#chart-errors", Vertical)
        compare = self.query_one("#chart-compare", Static)
        if not (error_source and series.has_errors):
            self._error_rows = None
            compare.update("")
            if not box.query(".no-error-source"):
                box.remove_children()
                box.mount(Static(f"error rate: {NO_ERROR_SOURCE}", classes="chart-note no-error-source", markup=False))
            return
        # (label, per-step rates, evaluations, rate over the window)
        rows: list[tuple[str, list[float], float, float | None]] = []
        if series.split_by_variant:
            by_name = {v.variant: v for v in variant_rates(series)}
            for name in variant_counts(series):  # the order of the evaluation rows above
                if (v := by_name.get(name)) is not None and v.evaluations > 0:
                    rows.append((f"errors {name}", error_rates(series, name), v.evaluations, v.rate))
        if not rows:
            rows.append(("error rate", error_rates(series), series.evaluations, series.error_rate))
        top = max([ERROR_SCALE_FLOOR] + [max(values, default=0.0) for _, values, _, _ in rows])
        labels = [label for label, *_ in rows]
        if labels != self._error_rows:
            self._error_rows = labels
            box.remove_children()
            box.mount_all(
                [ErrorRow(label, values, top, _rate_stats(values, n, rate)) for label, values, n, rate in rows]
            )
        else:
            for row, (_, values, n, rate) in zip(box.query(ErrorRow), rows, strict=False):
                row.set_values(values, top, _rate_stats(values, n, rate))
        lines = []
        if len(rows) > 1:
            lines.append(f"error rows share one scale: a full block is {format_rate(top)}")
        if (text := compare_arms(series, state)) is not None:
            lines.append(text)
        compare.update(Content("\n".join(lines)))
