"""PromQL template rendering, treatment vs control arithmetic, and the runbook forms that compare the arms
(the profile's `metrics:` section is tested with the other profile fields in tests/core/test_config.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flagops.metrics.base import VariantRate, arms, variant_rates
from flagops.metrics.prometheus import regex_literal, render
from flagops.metrics.settings import DEFAULT_ERRORS, parse_duration, template_problem
from flagops.model import FlagState, MetricPoint, MetricSeries
from flagops.runbooks.loader import loads
from flagops.runbooks.problems import RunbookError


def test_rendering_escapes_keys_for_regex_and_string() -> None:
    keys = ["a.b", 'we"ird\\key', "x|y"]
    query = render(
        DEFAULT_ERRORS, flags="|".join(regex_literal(k) for k in keys), environment='pr"od', range_seconds=60
    )
    assert 'environment="pr\\"od"' in query and "[60s]" in query
    assert 'flag=~"a\\\\.b|we\\"ird\\\\\\\\key|x\\\\|y"' in query
    by_variant = render(
        'sum(rate(x{d=~"{variant}", e="{variant}"}[1m]))', flags=".+", environment="p", range_seconds=10, variant="v.1"
    )
    assert by_variant == 'sum(rate(x{d=~"v\\\\.1", e="v.1"}[1m]))'
    assert template_problem('sum(rate(x{flag =~ "{flag}"}[{range}]))') is None
    assert parse_duration("500ms") == 0.5 and parse_duration("2h") == 7200 and parse_duration(0) is None


def test_treatment_and_control_from_a_series() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    series = MetricSeries(
        "f",
        "prod",
        10,
        (
            MetricPoint(at, {"on": 100, "off": 300}, 9, {"on": 8, "off": 1}),
            MetricPoint(at, {"on": 100, "off": 300}, 9, {"on": 8, "off": 1}),
        ),
        errors_split=True,
    )
    assert variant_rates(series) == [VariantRate("off", 600, 2), VariantRate("on", 200, 16)]
    state = FlagState("prod", True, 25, "on", "off", 3)
    pair = arms(series, state)
    assert pair is not None and pair.treatment.rate == 0.08 and pair.difference == pytest.approx(0.08 - 2 / 600)
    assert arms(MetricSeries("f", "prod", 10, series.points[:0]), state) is None  # not split: nothing to compare


RUNBOOK = """\
id: arms
title: arms
environment: prod
steps:
  - check: error_rate
    flag: f
    above_control_by: 2
    below: 1
  - progressive: f
    guard:
      window: 30s
"""


def test_runbook_forms_are_checked() -> None:
    with pytest.raises(RunbookError) as info:
        loads(RUNBOOK, "arms.yaml")
    text = str(info.value)
    assert "takes exactly one of: above, below, above_control_by, below_control_by" in text
    assert "needs error_rate_above (percent) or treatment_above_control_by (points), or both" in text
    ok = loads(
        RUNBOOK.replace("    below: 1\n", "").replace("      window: 30s", "      treatment_above_control_by: 1"),
        "arms.yaml",
    )
    assert ok.steps[0].condition is not None and ok.steps[0].condition.above_control_by == 2.0
    assert ok.steps[1].guard is not None and "treatment > control + 1" in ok.steps[1].guard.describe()


def test_the_timeline_splits_the_after_rate_by_variant() -> None:
    from datetime import timedelta

    from flagops.timeline import rate_around

    now = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) // 10 * 10, UTC)
    change = now - timedelta(seconds=60)  # on a bucket boundary: the buckets before it are all "before"
    points = tuple(
        MetricPoint(
            change + timedelta(seconds=s),
            {"on": 100, "off": 100},
            (10 if s >= 0 else 0) + 1,
            {"on": 10 if s >= 0 else 0, "off": 1},
        )
        for s in range(-120, 60, 10)
    )
    around = rate_around(MetricSeries("f", "prod", 10, points, errors_split=True), change, now)
    assert around.after_by_variant == {"off": 0.01, "on": 0.1}
    assert around.before is not None and around.before < 0.01 < (around.after or 0)
