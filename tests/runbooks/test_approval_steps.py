"""A runbook step whose change needs approval: it opens a change request, waits for someone else's approval and
applies it, or fails saying so. Against the real service with two operators (alice runs, bob approves)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flagops.errors import ExitCode
from tests.conftest import RunningService
from tests.server.governance_helpers import create_flag, start_governed

from .helpers import cli_env, flagops, state


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    svc, bob = start_governed(tmp_path_factory.mktemp("governed-runbooks"))
    yield svc, bob
    svc.stop()


def _runbook(env: dict[str, str], rb_id: str, flag: str, approval: str) -> None:
    folder = Path(env["FLAGOPS_RUNBOOKS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rb_id}.yaml").write_text(
        f"id: {rb_id}\ntitle: Ramp a governed flag\nenvironment: prod\nsteps:\n"
        f"  - rollout: {flag}\n    percent: 40\n{approval}"
    )


def _pending(svc: RunningService, token: str, flag: str, within: float = 60.0) -> dict[str, Any]:
    """The change request the run opened, once it exists (the run is a separate process)."""
    deadline = time.monotonic() + within
    with svc.client(token) as c:
        while time.monotonic() < deadline:
            found = c.get("/v1/change-requests", params={"flag": flag, "status": "pending"}).json()["changeRequests"]
            if found:
                return dict(found[0])
            time.sleep(0.1)
    raise AssertionError(f"no change request for {flag} appeared")


def test_the_step_waits_for_the_other_operators_approval_then_applies(
    governed: tuple[RunningService, str], tmp_path: Path
) -> None:
    svc, bob = governed
    with svc.client() as c:
        create_flag(c, "rb-gov-ramp")
    env = cli_env(svc, tmp_path)
    _runbook(env, "ramp-governed", "rb-gov-ramp", "    waitForApproval: {timeout: 2m}\n")
    run = subprocess.Popen(
        [sys.executable, "-m", "flagops", "runbook", "run", "ramp-governed", "--yes", "--reason", "ramp, INC-7"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        request = _pending(svc, bob, "rb-gov-ramp")
        assert request["author"] == "alice" and request["change"] == {"rollout": 40.0}
        assert state(svc, "rb-gov-ramp")["rollout"] == 10  # nothing written while it waits
        with svc.client(bob) as c:
            r = c.post(f"/v1/change-requests/{request['id']}/approve", json={"comment": "numbers look fine"})
            assert r.status_code == 200, r.text
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out + err
    assert f"change request {request['id']} opened" in out + err
    assert state(svc, "rb-gov-ramp")["rollout"] == 40
    with svc.client(bob) as c:
        assert c.get(f"/v1/change-requests/{request['id']}").json()["status"] == "applied"


def test_the_step_fails_clearly_when_nobody_approves_in_time(
    governed: tuple[RunningService, str], tmp_path: Path
) -> None:
    svc, _ = governed
    with svc.client() as c:
        create_flag(c, "rb-gov-late")
    env = cli_env(svc, tmp_path)
    _runbook(env, "ramp-late", "rb-gov-late", "    waitForApproval: {timeout: 1s}\n")
    run = flagops(["runbook", "run", "ramp-late", "--yes", "--reason", "ramp, INC-8"], env, timeout=120)
    assert run.returncode == ExitCode.STEP_FAILED, run.stdout + run.stderr
    text = run.stdout + run.stderr
    assert "rb-gov-late in prod needs approval; change request cr-" in text
    assert "not approved within 1s; nothing changed. Once approved: flagops apply cr-" in text
    assert state(svc, "rb-gov-late")["rollout"] == 10


def test_a_malformed_approval_option_names_its_line(governed: tuple[RunningService, str], tmp_path: Path) -> None:
    svc, _ = governed
    env = cli_env(svc, tmp_path)
    _runbook(env, "typo-approval", "rb-any", "    waitForApproval: {timeot: 1m}\n")
    checked = flagops(["runbook", "check", "--dir", env["FLAGOPS_RUNBOOKS_DIR"]], env)
    assert checked.returncode == ExitCode.CONFIG, checked.stdout + checked.stderr
    assert "typo-approval.yaml:7: steps[1].waitForApproval.timeot" in checked.stderr
