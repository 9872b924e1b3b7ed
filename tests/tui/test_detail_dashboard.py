"""Detail screen and dashboard: the pure parts here, the screens driven against the real service below."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flagops.model import AuditEntry, MetricPoint, MetricSeries
from flagops.tui.safe_text import plain
from flagops.tui.screens.dashboard_screen import rose_after_change
from flagops.tui.widgets.audit_view import change_summary, describe_state
from flagops.tui.widgets.charts import error_rates, sparkline_text, variant_counts

T0 = datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)


def series(points: list[tuple[int, int, int]], has_errors: bool = True) -> MetricSeries:
    """(seconds after T0, evaluations, errors) per point."""
    return MetricSeries("f", "prod", 10, tuple(
        MetricPoint(T0 + timedelta(seconds=s), {"on": n}, e) for s, n, e in points), has_errors=has_errors)


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
    assert sparkline_text([0, 1, 2, 4], 4) == "▁▃▅█"
    assert sparkline_text([0, 0], 4) == "▁▁"
    assert sparkline_text([], 4) == ""
    s = MetricSeries("f", "prod", 10, (
        MetricPoint(T0, {"on": 3, "off": 1}, 2),
        MetricPoint(T0, {"on": 0, "blue": 5}, 0),
        MetricPoint(T0, {}, 0),
    ))
    assert variant_counts(s) == {"on": [3, 0, 0], "off": [1, 0, 0], "blue": [0, 5, 0]}
    assert error_rates(s) == [0.5, 0.0, 0.0]


def test_change_summary_before_after() -> None:
    def entry(before: object, after: object, action: str = "flag.updated") -> AuditEntry:
        return AuditEntry(1, T0, "alice", action, "f", "prod", "why not", before=before, after=after)

    assert change_summary(entry({"enabled": True, "rollout": 25}, {"enabled": False, "rollout": 25})) \
        == "on 25% -> off"
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
