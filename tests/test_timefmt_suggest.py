"""The shared time format and 'did you mean' used by both the console and the CLI."""

from datetime import UTC, datetime, timedelta

from flagops.suggest import did_you_mean
from flagops.timefmt import ago, when

KEYS = ["checkout-new-flow", "checkout-coupon-stacking", "search-v2", "payments-retry"]


def test_did_you_mean_typo_and_partial_key() -> None:
    assert did_you_mean("chekout-new-flow", KEYS)[0] == "checkout-new-flow"
    assert did_you_mean("new-flow", KEYS)[0] == "checkout-new-flow"


def test_did_you_mean_nothing_close() -> None:
    assert did_you_mean("zzzz", KEYS) == []
    assert did_you_mean("  ", KEYS) == []


def test_when_today_is_a_time_and_older_carries_a_date() -> None:
    now = datetime.now(UTC).astimezone()
    noon = now.replace(hour=12, minute=0, second=5, microsecond=0)
    assert when(noon, noon) == "12:00:05"
    assert when(noon - timedelta(days=3), noon).endswith("12:00:05")
    assert when(noon - timedelta(days=3), noon) != "12:00:05"
    assert when(noon.replace(year=noon.year - 1), noon).startswith(f"{noon.year - 1}-")
    assert when(None) == "-"


def test_ago() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert ago(now - timedelta(seconds=12), now) == "12s ago"
    assert ago(now - timedelta(days=3, hours=2), now) == "3d ago"
    assert ago(None) == "-"
