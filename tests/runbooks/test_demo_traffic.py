"""The shipped runbooks against the demo as people see it: live traffic and the incident playing out."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningService, start_service

from flagops.runbooks.catalog import load_catalog
from flagops.runbooks.runlog import RunStore
from flagops.runbooks.runs import start_run

from .helpers import SHIPPED, cli_env, flagops, ops_for, state

REASON = "INC-100 checkout errors climbing with the rollout"


@pytest.fixture
def ramping(tmp_path: Path) -> Iterator[RunningService]:
    """The demo with traffic, its deploy-bot ramping checkout-new-flow a step every half second."""
    svc = start_service(tmp_path / "svc", traffic=True, extra_args=["--incident-step", "0.5"])
    yield svc
    svc.stop()


@pytest.fixture
def steady(tmp_path: Path) -> Iterator[RunningService]:
    """The demo with traffic, the deploy-bot not moving (checkout-new-flow stays at 1%)."""
    svc = start_service(tmp_path / "svc", traffic=True, extra_args=["--incident-step", "3600"])
    yield svc
    svc.stop()


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


async def test_checkout_spike_runbook_ends_the_demo_incident(ramping: RunningService, tmp_path: Path) -> None:
    svc = ramping
    wait_until(lambda: state(svc, "checkout-new-flow")["rollout"] == 50, 30, "the deploy-bot to reach 50%")
    await asyncio.sleep(12)  # let the spike fill the check's window
    env = cli_env(svc, tmp_path)
    async with ops_for(svc) as ops:
        log = await start_run(
            ops,
            load_catalog([SHIPPED]).get("checkout-error-spike"),
            {"spike_window": "10s", "timeout": "90s"},
            reason=REASON,
            ticket="INC-100",
            store=RunStore(Path(env["FLAGOPS_STATE_DIR"])),
        )
    assert log.status == "done", log.message
    assert state(svc, "checkout-new-flow")["enabled"] is False
    timeline = flagops(["timeline", "--since", "10m", "--env", "prod"], env)
    assert timeline.returncode == 0, timeline.stderr
    rows = [line for line in timeline.stdout.splitlines() if line.startswith("| 20")]
    assert len(rows) == 6  # five deploy-bot steps, then the runbook's kill
    assert "deploy-bot" in rows[0] and "alice-admin" in rows[-1] and f"run {log.run_id} step 3" in rows[-1]
    # the kill is minutes old at most, so its after-rate says how much of the 5 minutes it covers; the after
    # rate by variant follows when the after window has both variants
    rates = re.match(
        r"(\d+\.\d)% -> (\d+\.\d)%( \(after: only the first \S+ of 5 min so far\))?"
        r"( \(by variant after: [^)]*\))?$",
        rows[-1].split(" | ")[5],
    )
    assert rates, rows[-1]
    before, after = float(rates[1]), float(rates[2])
    assert before > 0 and after > 0  # the demo's live metrics, joined to the change


async def test_guarded_rollout_trips_on_the_demo_incident_flag(steady: RunningService, tmp_path: Path) -> None:
    svc = steady
    async with ops_for(svc) as ops:
        log = await start_run(
            ops,
            load_catalog([SHIPPED]).get("guarded-rollout"),
            {"hold": "4s", "poll": "500ms", "guard_window": "10s"},
            reason=REASON,
            store=RunStore(tmp_path),
        )
    assert log.status == "failed", log.message
    assert "guard breached at 25%" in log.steps[2].message or "guard breached at 50%" in log.steps[2].message
    assert log.changes[-1].automatic
    now = state(svc, "checkout-new-flow")
    assert now["enabled"] is True and now["rollout"] == 1
