"""`flagops timeline`: the changes of an incident with who, why, ticket, runbook run and error rates."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from conftest import RunningService

from flagops.runbooks.catalog import load_catalog
from flagops.runbooks.runlog import RunStore
from flagops.runbooks.runs import start_run

from .helpers import SHIPPED, cli_env, flagops, ops_for, patch, post_metrics


async def test_timeline_reports_a_runbook_run_with_error_rates(fresh_service: RunningService, tmp_path: Path) -> None:
    svc = fresh_service
    env = cli_env(svc, tmp_path)
    post_metrics(svc, "checkout-new-flow", "prod", evaluations=2000, errors=300, ago_seconds=60)
    async with ops_for(svc) as ops:
        log = await start_run(
            ops,
            load_catalog([SHIPPED]).get("checkout-error-spike"),
            {"timeout": "5s"},
            reason="INC-9 checkout 500s | paging",
            ticket="INC-9",
            store=RunStore(Path(env["FLAGOPS_STATE_DIR"])),
        )
    assert log.status == "done", log.message
    post_metrics(svc, "checkout-new-flow", "prod", evaluations=1000, errors=1)
    patch(svc, "payments-sepa-debit", "staging", "bob: trying the <b>new</b> bank\x1b[2J", rollout=75)

    first = json.loads(flagops(["timeline", "--since", "1h", "--env", "prod", "--format", "json"], env).stdout)
    changed_at = datetime.fromisoformat(first["changes"][0]["at"].replace("Z", "+00:00"))
    # an after-rate needs one whole metrics bucket (10 s) after the change; before that it is "too recent"
    await asyncio.sleep(max(0.0, 11 - (datetime.now(UTC) - changed_at).total_seconds()))
    md = flagops(["timeline", "--since", "1h", "--env", "prod"], env)
    assert md.returncode == 0, md.stderr
    text = md.stdout
    assert text.startswith("# Flag changes in prod: ")
    assert "1 change(s), 1 runbook run(s)" in text
    assert f"checkout-error-spike run {log.run_id} by alice-admin (run log on this machine: done)" in text
    row = next(line for line in text.splitlines() if line.startswith("| ") and "checkout-new-flow" in line)
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[1:5] == ["alice-admin", "checkout-new-flow", "prod", "on 1% -> off (v1 -> v2)"]
    assert re.fullmatch(r"15\.0% -> 0\.1% \(after: only the first \d+s of 5 min so far\)", cells[5]), cells[5]
    assert cells[6] == "INC-9 checkout 500s \\| paging" and cells[7] == "INC-9"
    assert cells[8] == f"checkout-error-spike run {log.run_id} step 3"
    assert "payments-sepa-debit" not in text  # another environment

    every = json.loads(flagops(["timeline", "--since", "1h", "--format", "json"], env).stdout)
    flags = [c["flag"] for c in every["changes"]]
    assert flags == ["checkout-new-flow", "payments-sepa-debit"]  # oldest first
    staging = every["changes"][1]
    assert staging["actor"] == "alice-admin" and staging["reason"] == "bob: trying the <b>new</b> bank\x1b[2J"
    everything = flagops(["timeline", "--since", "1h"], env).stdout
    assert "bob: trying the &lt;b>new&lt;/b> bank?\\[2J" in everything and "\x1b" not in everything
    assert staging["errorRateBefore"] is None and "no traffic" in staging["errorRateNote"]
    assert every["runs"] == [{"runId": log.run_id, "runbook": "checkout-error-spike", "changes": 1}]
    assert svc.admin_token not in md.stdout + md.stderr


def test_timeline_empty_window_and_bad_since(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(service, tmp_path)
    empty = flagops(["timeline", "--since", "2h", "--env", "dev"], env)
    assert empty.returncode == 0, empty.stderr
    assert "No flag changes in this window." in empty.stdout
    bad = flagops(["timeline", "--since", "yesterdayish"], env)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_the_after_rate_says_how_much_of_its_window_has_passed() -> None:
    """A change seconds old has no after-rate yet; one minutes old has a partial one, labelled as such."""
    from datetime import timedelta

    from flagops.model import MetricPoint, MetricSeries
    from flagops.timeline import rate_around, rate_text

    change = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)
    start = datetime(2026, 12, 1, 11, 54, 0, tzinfo=UTC)  # buckets on whole 10 s, as the service keeps them
    points = tuple(
        MetricPoint(
            start + timedelta(seconds=10 * i),
            {"on": 100},
            1 if start + timedelta(seconds=10 * i) < change - timedelta(seconds=5) else 10,
        )
        for i in range(80)
    )
    series = MetricSeries("f", "prod", 10, points)

    fresh = rate_around(series, change, change + timedelta(seconds=4))
    assert fresh.before == 0.01 and fresh.after is None and fresh.after_seconds == 4
    assert rate_text(fresh) == "1.0% -> n/a (too recent to measure after: 4s since the change)"

    partial = rate_around(series, change, change + timedelta(seconds=95))
    assert partial.after == 0.1 and partial.after_seconds == 95
    assert rate_text(partial) == "1.0% -> 10.0% (after: only the first 1m35s of 5 min so far)"

    whole = rate_around(series, change, change + timedelta(minutes=7))
    assert whole.after == 0.1 and whole.after_seconds is None and rate_text(whole) == "1.0% -> 10.0%"

    # the flag changed again 45 s later: what followed is that change's doing, not this one's
    until_next = rate_around(series, change, change + timedelta(minutes=7), next_change=change + timedelta(seconds=45))
    assert until_next.after == 0.1 and until_next.after_seconds == 45
    assert rate_text(until_next) == "1.0% -> 10.0% (after: until the next change, 45s later)"
    too_soon = rate_around(series, change, change + timedelta(minutes=7), next_change=change + timedelta(seconds=3))
    assert too_soon.after is None
    assert rate_text(too_soon) == "1.0% -> n/a (next change 3s later: too soon to measure after)"
