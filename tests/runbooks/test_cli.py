"""`flagops runbook ...` as a user runs it: a subprocess against the real service."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import RunningService

from flagops.errors import ExitCode

from .helpers import cli_env, flagops, state


def test_list_and_show_json(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(service, tmp_path)
    listed = flagops(["runbook", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    ids = {rb["id"] for rb in data["runbooks"]}
    assert {"checkout-error-spike", "panic-service", "guarded-rollout", "rollback-last-change", "freeze-team"} <= ids
    assert data["broken"] == []
    shown = flagops(["runbook", "show", "guarded-rollout", "--json"], env)
    assert shown.returncode == 0, shown.stderr
    rb = json.loads(shown.stdout)
    assert [p["name"] for p in rb["params"]] == ["flag", "env", "max_error_rate", "hold", "poll", "guard_window"]
    assert rb["params"][3] == {
        "name": "hold",
        "type": "duration",
        "default": 120.0,
        "required": False,
        "description": "How long to watch each stage",
        "choices": [],
    }
    missing = flagops(["runbook", "show", "nope"], env)
    assert missing.returncode == ExitCode.NOT_FOUND and "no runbook 'nope'" in missing.stderr


def test_user_folder_and_broken_files(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(service, tmp_path)
    user = Path(env["FLAGOPS_RUNBOOKS_DIR"])
    user.mkdir(parents=True)
    (user / "mine.yaml").write_text("id: mine\ntitle: Mine\nenvironment: dev\nsteps:\n  - note: hello\n")
    (user / "bad.yaml").write_text("id: bad\ntitle: Bad\nenvironment: dev\nsteps:\n  - rollout: x\n    percent: 250\n")
    listed = flagops(["runbook", "list"], env)
    assert listed.returncode == 0
    assert "mine" in listed.stdout and "checkout-error-spike" in listed.stdout
    assert f"{user / 'bad.yaml'}:6: steps[1].percent: expected a percent 0-100, got 250" in listed.stderr
    (user / "loud.yaml").write_text(
        'id: loud\ntitle: "\\e[2Jcleared"\nenvironment: dev\nsteps:\n  - note: "\\e]0;x\\a"\n'
    )
    shown = flagops(["runbook", "show", "loud"], env)
    assert shown.returncode == 0 and "\\x1b[2Jcleared" in shown.stdout and "\x1b" not in shown.stdout
    only = flagops(["runbook", "list", "--dir", str(user), "--json"], env)
    assert [rb["id"] for rb in json.loads(only.stdout)["runbooks"]] == ["loud", "mine"]
    checked = flagops(["runbook", "check", "--dir", str(user)], env)
    assert checked.returncode == ExitCode.CONFIG and "bad.yaml:6" in checked.stderr


def test_check_live_finds_unknown_flags_with_their_line(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(service, tmp_path)
    path = tmp_path / "typo.yaml"
    path.write_text(
        "id: typo\ntitle: Typo\nenvironment: prod\nsteps:\n  - note: hi\n  - kill: checkout-new-flwo\n"
        "  - kill: {owner: paymnts}\n"
    )
    checked = flagops(["runbook", "check", str(path), "--live"], env)
    assert checked.returncode == ExitCode.CONFIG, checked.stdout + checked.stderr
    assert (
        "typo.yaml:6: steps[2].kill: no flag 'checkout-new-flwo' in prod; did you mean 'checkout-new-flow'?"
        in checked.stderr
    )
    assert (
        "typo.yaml:7: steps[3].kill.owner: no flag in prod is owned by 'paymnts'; did you mean 'payments'?"
        in checked.stderr
    )
    good = flagops(["runbook", "check", "--live"], env)
    assert good.returncode == 0, good.stderr
    assert "5 runbook(s) checked against the backend; 0 with problems" in good.stdout


def test_plan_is_a_dry_run_with_before_and_after(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(service, tmp_path)
    before = state(service, "checkout-new-flow")
    planned = flagops(["runbook", "plan", "checkout-error-spike", "--param", "threshold=0"], env)
    assert planned.returncode == 0, planned.stderr
    assert "3. [kill] Turn the flag off" in planned.stdout
    assert "checkout-new-flow in prod: on 1% -> off" in planned.stdout
    assert "now: error rate" in planned.stdout
    as_json = json.loads(flagops(["runbook", "plan", "freeze-team", "--json"], env).stdout)
    changes = as_json["steps"][1]["changes"]
    assert changes and all(c["after"]["enabled"] is False for c in changes)
    assert state(service, "checkout-new-flow") == before  # nothing changed
    bad = flagops(["runbook", "plan", "guarded-rollout", "--param", "hold=soon"], env)
    assert bad.returncode == ExitCode.USAGE and "hold: expected a duration" in bad.stderr


def test_run_refuses_without_terminal_reason_or_write_access(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(service, tmp_path)
    no_yes = flagops(["runbook", "run", "panic-service", "--reason", "INC-1 panic test"], env)
    assert no_yes.returncode == ExitCode.REFUSED and "Pass --yes" in no_yes.stderr
    no_reason = flagops(["runbook", "run", "panic-service", "--yes"], env)
    assert no_reason.returncode == ExitCode.REFUSED and "reason" in no_reason.stderr
    readonly = flagops(["--readonly", "runbook", "run", "panic-service", "--yes", "--reason", "INC-1 panic test"], env)
    assert readonly.returncode == ExitCode.REFUSED and "Read-only" in readonly.stderr
    reader = {**env, "FLAGOPS_TOKEN": service.read_token}
    before = state(service, "checkout-new-flow")
    denied = flagops(["runbook", "run", "panic-service", "--yes", "--reason", "INC-1 token test"], reader)
    assert denied.returncode == ExitCode.AUTH, denied.stdout + denied.stderr
    assert "FAILED" in denied.stdout and service.read_token not in denied.stdout + denied.stderr
    assert state(service, "checkout-new-flow") == before


def test_run_json_and_failed_step_exit_code(fresh_service: RunningService, tmp_path: Path) -> None:
    env = cli_env(fresh_service, tmp_path)
    failed = flagops(
        ["runbook", "run", "checkout-error-spike", "--yes", "--reason", "INC-5 no spike here", "--json"], env
    )
    assert failed.returncode == ExitCode.STEP_FAILED, failed.stderr
    log = json.loads(failed.stdout)
    assert log["status"] == "failed" and log["steps"][1]["status"] == "failed"
    done = flagops(
        ["runbook", "run", "freeze-team", "--yes", "--reason", "INC-5 freeze payments", "--param", "team=search"], env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "changed: search-" in done.stdout and "undo with: flagops runbook undo" in done.stdout
