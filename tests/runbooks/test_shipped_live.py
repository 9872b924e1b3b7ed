"""Each shipped runbook runs against the demo service; undo puts things back; audit records the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunningService

from flagops.runbooks.catalog import load_catalog
from flagops.runbooks.execute import RunEvent
from flagops.runbooks.runlog import RunStore
from flagops.runbooks.runs import start_run
from flagops.runbooks.undo import undo_run

from .helpers import SHIPPED, ops_for, patch, post_metrics, state

REASON = "INC-42 checkout errors, following the runbook"


def shipped(ident: str):  # type: ignore[no-untyped-def]
    return load_catalog([SHIPPED]).get(ident)


async def test_checkout_error_spike_kills_and_waits_for_recovery(fresh_service: RunningService, tmp_path: Path) -> None:
    svc = fresh_service
    # a spike a minute ago: inside the check's 2-minute window, outside the recovery wait's 30 s
    post_metrics(svc, "checkout-new-flow", "prod", evaluations=2000, errors=300, ago_seconds=60)
    events: list[RunEvent] = []
    async with ops_for(svc) as ops:
        log = await start_run(
            ops,
            shipped("checkout-error-spike"),
            {"timeout": "5s"},
            reason=REASON,
            ticket="INC-42",
            store=RunStore(tmp_path),
            on_event=events.append,
        )
    assert log.status == "done", log.message
    assert state(svc, "checkout-new-flow")["enabled"] is False
    assert [s.status for s in log.steps] == ["done"] * 5
    assert "error rate 15%" in log.steps[1].message
    assert any(e.kind == "progress" and e.value == 0.0 for e in events)  # the wait showed the metric it watches
    with svc.client() as client:
        entries = client.get("/v1/audit", params={"flag": "checkout-new-flow", "environment": "prod"}).json()["entries"]
    newest = entries[0]
    assert newest["reason"] == REASON and newest["ticket"] == "INC-42"
    assert newest["origin"]["runbook"] == "checkout-error-spike"
    assert newest["origin"]["runId"] == log.run_id and newest["origin"]["step"] == 3


async def test_checkout_error_spike_stops_when_there_is_no_spike(fresh_service: RunningService, tmp_path: Path) -> None:
    async with ops_for(fresh_service) as ops:
        log = await start_run(ops, shipped("checkout-error-spike"), {}, reason=REASON, store=RunStore(tmp_path))
    assert log.status == "failed"
    assert log.steps[1].status == "failed" and "check failed" in log.steps[1].message
    assert log.steps[2].status == "pending" and not log.changes
    assert state(fresh_service, "checkout-new-flow")["enabled"] is True


async def test_panic_kills_every_kill_switch_of_a_service_and_undo_restores(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    svc = fresh_service
    async with ops_for(svc) as ops:
        flags = await ops.backend.list_flags("prod")
        targets = {f.key: f.states["prod"] for f in flags if f.kill_switch and "checkout" in f.tags}
        on_before = {k for k, s in targets.items() if s.enabled}
        assert len(on_before) >= 3
        store = RunStore(tmp_path)
        log = await start_run(ops, shipped("panic-service"), {"service": "checkout"}, reason=REASON, store=store)
        assert log.status == "done", log.message
        assert {c.flag for c in log.changes} == on_before
        for key in targets:
            assert state(svc, key)["enabled"] is False
        results = await undo_run(ops, log, store, reason="undo: panic over, INC-42")
    assert {r.flag for r in results if r.status == "undone"} == on_before
    for key in on_before:
        after = state(svc, key)
        assert after["enabled"] is True and after["rollout"] == targets[key].rollout
    assert store.load(log.run_id).status == "undone"


async def test_freeze_turns_off_partial_rollouts_and_undo_lifts_it(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    svc = fresh_service
    async with ops_for(svc) as ops:
        flags = await ops.backend.list_flags("prod")
        partial = {
            f.key
            for f in flags
            if f.owner == "payments" and f.states["prod"].enabled and 0 < f.states["prod"].rollout < 100
        }
        untouched = {f.key: f.states["prod"].version for f in flags if f.owner == "payments"}.keys() - partial
        assert partial
        store = RunStore(tmp_path)
        log = await start_run(ops, shipped("freeze-team"), {"team": "payments"}, reason=REASON, store=store)
        assert log.status == "done", log.message
        assert {c.flag for c in log.changes} == partial
        assert all(state(svc, k)["enabled"] is False for k in partial)
        assert all(state(svc, k)["version"] == 1 for k in untouched)
        results = await undo_run(ops, log, store, reason="freeze lifted after the peak")
    assert {r.status for r in results} == {"undone"}
    assert all(state(svc, k)["enabled"] is True for k in partial)


async def test_rollback_last_change(fresh_service: RunningService, tmp_path: Path) -> None:
    svc = fresh_service
    patch(svc, "checkout-new-flow", "prod", "deploy-bot ramp to 25%", rollout=25)
    async with ops_for(svc) as ops:
        log = await start_run(ops, shipped("rollback-last-change"), {}, reason=REASON, store=RunStore(tmp_path))
    assert log.status == "done", log.message
    restored = state(svc, "checkout-new-flow")
    assert restored["rollout"] == 1 and restored["version"] == 3


async def test_guarded_rollout_reaches_fifty_when_healthy(fresh_service: RunningService, tmp_path: Path) -> None:
    svc = fresh_service
    async with ops_for(svc) as ops:
        flags = await ops.backend.list_flags("prod")
        flag = next(
            f
            for f in flags
            if f.states["prod"].enabled and f.states["prod"].rollout == 10 and f.key != "checkout-new-flow"
        )
        store = RunStore(tmp_path)
        log = await start_run(
            ops,
            shipped("guarded-rollout"),
            {"flag": flag.key, "hold": "300ms", "poll": "100ms"},
            reason=REASON,
            store=store,
        )
        assert log.status == "done", log.message
        assert [c.summary.split(": ", 1)[1] for c in log.changes] == ["on 10% -> on 25%", "on 25% -> on 50%"]
        assert state(svc, flag.key)["rollout"] == 50
        results = await undo_run(ops, log, store, reason="undo the test rollout")
    assert [r.status for r in results] == ["undone"]
    assert state(svc, flag.key)["rollout"] == 10


async def test_guarded_rollout_rolls_back_on_breach(fresh_service: RunningService, tmp_path: Path) -> None:
    svc = fresh_service

    def on_event(event: RunEvent) -> None:
        # the new code path starts failing once 10% of users are on it (as the demo incident does)
        if event.kind == "change" and "-> on 10%" in event.message:
            post_metrics(svc, "checkout-new-flow", "prod", evaluations=1000, errors=80)

    async with ops_for(svc) as ops:
        log = await start_run(
            ops,
            shipped("guarded-rollout"),
            {"hold": "2s", "poll": "100ms"},
            reason=REASON,
            store=RunStore(tmp_path),
            on_event=on_event,
        )
    assert log.status == "failed"
    progressive = log.steps[2]
    assert progressive.status == "failed"
    assert "guard breached at 10%" in progressive.message and "error rate 8% > 2%" in progressive.message
    assert [(c.action, c.automatic) for c in log.changes] == [
        ("rollout", False),
        ("rollout", False),
        ("guard-rollback", True),
    ]
    now = state(svc, "checkout-new-flow")
    assert now["enabled"] is True and now["rollout"] == 1  # back where the runbook found it
    with svc.client() as client:
        newest = client.get("/v1/audit", params={"flag": "checkout-new-flow"}).json()["entries"][0]
    assert newest["action"] == "flag.restored" and "automatic rollback" in newest["reason"]
    assert newest["origin"]["runId"] == log.run_id


@pytest.mark.parametrize(
    "ident", ["checkout-error-spike", "panic-service", "guarded-rollout", "rollback-last-change", "freeze-team"]
)
async def test_every_shipped_runbook_plans_against_the_demo(service: RunningService, ident: str) -> None:
    from flagops.runbooks.plan import plan_runbook
    from flagops.runbooks.runs import prepare

    async with ops_for(service) as ops:
        bound, _ = await prepare(ops, shipped(ident), {})
        steps = await plan_runbook(ops, bound)
    assert len(steps) == len(bound.steps)
    if ident in ("panic-service", "freeze-team"):
        assert sum(len(s.changes) for s in steps) >= 2
