"""An interrupted run resumes and undoes correctly; undo refuses a flag someone changed since."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RunningService

from flagops.errors import ExitCode
from flagops.runbooks.loader import load_file
from flagops.runbooks.runlog import RunLog, RunStore
from flagops.runbooks.runs import resume_run, start_run

from .helpers import cli_env, flagops, ops_for, patch, state

REASON = "INC-77 testing resume and undo"


def _enabled_prod_flags(service: RunningService, n: int) -> list[str]:
    with service.client() as client:
        flags = client.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
    keys = [f["key"] for f in flags if f["environments"]["prod"]["enabled"] and f["key"] != "checkout-new-flow"]
    return keys[:n]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_killed_run_resumes_then_undo_refuses_the_flag_changed_since(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    svc = fresh_service
    a, b, c = _enabled_prod_flags(svc, 3)
    book_dir = tmp_path / "books"
    book_dir.mkdir()
    (book_dir / "three.yaml").write_text(f"""\
id: three-steps
title: Kill A, wait until B is off, kill C
environment: prod
steps:
  - kill: {a}
  - wait: state
    flag: {b}
    enabled: false
    timeout: 120s
    poll: 200ms
  - kill: {c}
""")
    env = cli_env(svc, tmp_path / "state")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flagops",
            "runbook",
            "run",
            "three-steps",
            "--dir",
            str(book_dir),
            "--reason",
            REASON,
            "--yes",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "watching" in line:  # step 2 is waiting: kill the process mid-run, no cleanup
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=10)
    assert any(line.startswith("run ") for line in lines), "".join(lines)
    run_id = next(line.split()[1].rstrip(":") for line in lines if line.startswith("run "))
    assert state(svc, a)["enabled"] is False and state(svc, c)["enabled"] is True

    listed = flagops(["runbook", "runs", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["runs"]
    assert entry["runId"] == run_id and entry["status"] == "interrupted"

    patch(svc, b, "prod", "someone turned B off by hand", enabled=False)
    resumed = flagops(["runbook", "resume", run_id, "--yes"], env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "all 3 steps done" in resumed.stdout
    assert state(svc, c)["enabled"] is False
    log = RunStore(tmp_path / "state").load(run_id)
    assert [ch.flag for ch in log.changes] == [a, c]  # A was not killed twice

    patch(svc, c, "prod", "bob turned C back on meanwhile", enabled=True)
    undone = flagops(["runbook", "undo", run_id, "--yes"], env)
    assert undone.returncode == ExitCode.CONFLICT, undone.stdout + undone.stderr
    assert f"refused   {c} in prod: changed since this run by alice-admin" in undone.stdout
    assert f"undone    {a} in prod" in undone.stdout
    assert state(svc, a)["enabled"] is True  # undone
    assert state(svc, c)["enabled"] is True and state(svc, c)["version"] == 3  # bob's change stands
    assert state(svc, b)["enabled"] is False  # the run never changed B
    assert RunStore(tmp_path / "state").load(run_id).status == "undo-partial"


class _CrashAfterWrite(RunStore):
    """Dies (like a killed process) right after a write landed, before the log records it."""

    def save(self, log: RunLog) -> None:
        if log.changes:
            raise _Crash()
        super().save(log)


class _Crash(BaseException):
    pass


async def test_resume_reconciles_a_write_that_landed_before_the_crash(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    svc = fresh_service
    patch(svc, "checkout-new-flow", "prod", "deploy-bot ramp to 25%", rollout=25)
    path = tmp_path / "rb.yaml"
    path.write_text(
        "id: back\ntitle: Roll back, then check\nenvironment: prod\nsteps:\n"
        "  - rollback: checkout-new-flow\n  - check: state\n    flag: checkout-new-flow\n    rollout: 1\n"
    )
    async with ops_for(svc) as ops:
        with pytest.raises(_Crash):
            await start_run(
                ops,
                load_file(path),
                {},
                reason=REASON,
                store=_CrashAfterWrite(tmp_path),
                run_id="20260101T000000-abcdef",
            )
        store = RunStore(tmp_path)
        on_disk = store.load("20260101T000000-abcdef")
        assert on_disk.steps[0].status == "running" and not on_disk.changes
        on_disk.pid = _dead_pid()
        store.save(on_disk)
        assert store.load(on_disk.run_id).interrupted
        log = await resume_run(ops, on_disk.run_id, store=store)
    assert log.status == "done", log.message
    assert [(c.before_version, c.after_version) for c in log.changes] == [(2, 3)]
    now = state(svc, "checkout-new-flow")
    assert now["version"] == 3 and now["rollout"] == 1  # rolled back once, not twice


async def test_resume_refuses_a_changed_runbook_and_a_finished_run(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    from flagops.errors import FlagOpsError

    path = tmp_path / "rb.yaml"
    path.write_text(
        "id: note\ntitle: A note and a failing check\nenvironment: prod\nsteps:\n  - note: hi\n"
        "  - check: state\n    flag: checkout-new-flow\n    enabled: false\n"
    )
    store = RunStore(tmp_path)
    async with ops_for(fresh_service) as ops:
        log = await start_run(ops, load_file(path), {}, reason=REASON, store=store)
        assert log.status == "failed"
        path.write_text(path.read_text() + "  - note: edited\n")
        with pytest.raises(FlagOpsError, match="changed since run"):
            await resume_run(ops, log.run_id, store=store)
        path.write_text(path.read_text().replace("  - note: edited\n", ""))
        patch(fresh_service, "checkout-new-flow", "prod", "turned off by hand", enabled=False)
        resumed = await resume_run(ops, log.run_id, store=store)
        assert resumed.status == "done"
        with pytest.raises(FlagOpsError, match="only an interrupted, failed or stopped run"):
            await resume_run(ops, log.run_id, store=store)


async def test_resumed_selector_step_keeps_every_change_for_undo(fresh_service: RunningService, tmp_path: Path) -> None:
    from flagops.runbooks.catalog import load_catalog

    from .helpers import SHIPPED

    svc = fresh_service
    freeze = load_catalog([SHIPPED]).get("freeze-team")
    async with ops_for(svc) as ops:
        flags = await ops.backend.list_flags("prod")
        partial = {
            f.key: f.states["prod"].rollout
            for f in flags
            if f.owner == "payments" and f.states["prod"].enabled and 0 < f.states["prod"].rollout < 100
        }
        assert len(partial) >= 2
        with pytest.raises(_Crash):  # dies right after the first flag was turned off
            await start_run(
                ops,
                freeze,
                {"team": "payments"},
                reason=REASON,
                store=_CrashAfterWrite(tmp_path),
                run_id="20260101T000000-f00000",
            )
        store = RunStore(tmp_path)
        on_disk = store.load("20260101T000000-f00000")
        on_disk.pid = _dead_pid()
        store.save(on_disk)
        log = await resume_run(ops, on_disk.run_id, store=store)
        assert log.status == "done", log.message
        assert sorted(c.flag for c in log.changes) == sorted(partial)  # the first one found in the audit log
        assert all(state(svc, k)["enabled"] is False for k in partial)
        from flagops.runbooks.undo import undo_run

        results = await undo_run(ops, log, store, reason="lifting the test freeze")
    assert {r.status for r in results} == {"undone"}
    assert all(state(svc, k)["enabled"] is True and state(svc, k)["rollout"] == r for k, r in partial.items())
