"""What a person meets at 03:00 on the CLI (issue 15): percentages as typed, FLAGOPS_ENV, "did you mean",
exit codes as documented, one number format, dates on old changes, no note about waiting on a one-shot
command. Real CLI subprocesses against the real service on loopback."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from conftest import RunningService

from core.clitools import FlagPicker, cli_env, flagops
from flagops.errors import ExitCode

REASON = "INC-15 usability checks on the CLI"


def _rollout(service: RunningService, key: str, environment: str) -> float:
    with service.client() as client:
        state = client.get(f"/v1/flags/{key}", params={"environment": environment}).json()["environments"]
        return float(state[environment]["rollout"])


@pytest.mark.parametrize("typed, expected", [("5%", 5.0), ("5", 5.0), ("5.5%", 5.5), (" 12.5 % ", 12.5)])
def test_rollout_takes_a_percentage_as_people_type_it(
    service: RunningService, env: dict[str, str], picker: FlagPicker, typed: str, expected: float
) -> None:
    key = picker.take(enabled=True)
    result = flagops(["rollout", key, typed, "--env", "dev", "--reason", REASON, "--yes"], env)
    assert result.code == 0, result.both
    assert _rollout(service, key, "dev") == expected


@pytest.mark.parametrize("typed", ["5x", "101%", "nan", "inf%", "%", "5%%"])
def test_rollout_refuses_what_is_no_percentage(env: dict[str, str], typed: str) -> None:
    result = flagops(["rollout", "any-flag", typed, "--env", "dev", "--reason", REASON, "--yes"], env)
    assert result.code == ExitCode.USAGE and "PERCENT" in result.err and "Traceback" not in result.both


def test_flagops_env_selects_the_environment_and_an_explicit_env_wins(
    service: RunningService, env: dict[str, str], picker: FlagPicker
) -> None:
    staged = {**env, "FLAGOPS_ENV": "staging"}
    listed = json.loads(flagops(["flags", "--limit", "1", "--json"], staged).out)
    assert listed["environment"] == "staging"
    key = picker.take(enabled=True, env="staging")
    write = flagops(["rollout", key, "40", "--reason", REASON, "--yes"], staged)  # no --env: FLAGOPS_ENV counts
    assert write.code == 0, write.both
    assert "environment staging (from FLAGOPS_ENV)" in write.err and _rollout(service, key, "staging") == 40
    explicit = json.loads(flagops(["flags", "--env", "dev", "--limit", "1", "--json"], staged).out)
    assert explicit["environment"] == "dev"
    other = picker.take(enabled=True)
    dev_write = flagops(["rollout", other, "30", "--env", "dev", "--reason", REASON, "--yes"], staged)
    assert dev_write.code == 0 and "FLAGOPS_ENV" not in dev_write.err and _rollout(service, other, "dev") == 30
    unset = flagops(["rollout", other, "30", "--reason", REASON, "--yes"], env)
    assert unset.code == ExitCode.USAGE and "FLAGOPS_ENV" in unset.err


def test_rollback_to_a_version_that_does_not_exist_is_not_found(env: dict[str, str], picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    assert flagops(["rollout", key, "33", "--env", "dev", "--reason", REASON, "--yes"], env).code == 0
    missing = flagops(["rollback", key, "--env", "dev", "--to-version", "99", "--reason", REASON, "--yes"], env)
    assert missing.code == ExitCode.NOT_FOUND, missing.both  # README: 4 = "version to roll back to"
    assert "no version 99" in missing.err
    current = json.loads(flagops(["status", key, "--env", "dev", "--json"], env).out)["environments"]["dev"]
    same = flagops(
        ["rollback", key, "--env", "dev", "--to-version", str(current["version"]), "--reason", REASON, "--yes"], env
    )
    assert same.code == ExitCode.INVALID and "is the current version" in same.err


@pytest.mark.parametrize(
    "args",
    [
        ["status", "chekout-new-flow"],
        ["kill", "chekout-new-flow", "--env", "dev", "--reason", REASON, "--yes"],
        ["rollout", "chekout-new-flow", "5%", "--env", "dev", "--reason", REASON, "--yes"],
        ["rollback", "chekout-new-flow", "--env", "dev", "--reason", REASON, "--yes"],
        ["audit", "chekout-new-flow"],
    ],
    ids=lambda a: a[0],
)
def test_an_unknown_flag_key_gets_did_you_mean(env: dict[str, str], args: list[str]) -> None:
    result = flagops(args, env)
    assert result.code == ExitCode.NOT_FOUND, result.both
    assert "There is no flag 'chekout-new-flow'. Did you mean checkout-new-flow" in result.err
    nothing_close = flagops([args[0], "zzqx-qqzz", *args[2:]], env)
    assert nothing_close.code == ExitCode.NOT_FOUND and "Did you mean" not in nothing_close.err
    assert "flagops flags --search" in nothing_close.err


def test_an_unknown_environment_is_not_mistaken_for_an_unknown_flag(env: dict[str, str]) -> None:
    result = flagops(["status", "checkout-new-flow", "--env", "prdo"], env)
    assert result.code == ExitCode.NOT_FOUND and "no state in environment 'prdo'" in result.err
    assert "There is no flag" not in result.err


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_a_one_shot_command_does_not_talk_about_waiting_for_the_circuit_breaker(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url=f"http://127.0.0.1:{_closed_port()}", token="tok-for-a-dead-service")
    # a kill reads the flag, the environments and the metrics at once: enough failures to open the breaker
    result = flagops(["kill", "some-flag", "--env", "dev", "--reason", REASON, "--yes"], env)
    assert result.code == ExitCode.UNAVAILABLE, result.both
    assert "cannot connect" in result.err
    assert "waits" not in result.err and "in a row" not in result.err, result.err
    as_json = json.loads(flagops(["kill", "some-flag", "--env", "dev", "--reason", REASON, "--yes", "--json"], env).out)
    assert "waits" not in as_json["message"] and as_json["exitCode"] == ExitCode.UNAVAILABLE


def test_audit_shows_a_creation_and_the_same_numbers_as_status(
    service: RunningService, env: dict[str, str], picker: FlagPicker
) -> None:
    key = picker.take(enabled=True, env="staging")
    assert flagops(["rollout", key, "12.5", "--env", "staging", "--reason", REASON, "--yes"], env).code == 0
    audit = flagops(["audit", key], env)
    assert audit.code == 0, audit.both
    rows = audit.out.splitlines()
    created = next(line for line in rows if " created " in line)
    assert "created: " in created and "?" not in created and "- ->" not in created
    state = r"(on \d+(\.\d+)?%|off) v\d+"
    assert re.search(rf"created: (dev {state}, prod {state}, staging {state}|{state} everywhere)", created), created
    updated = next(line for line in rows if " updated " in line)
    assert re.search(r"on \d+(\.\d+)?% v\d+ -> on 12\.5% v\d+", updated), updated
    status = flagops(["status", key, "--env", "staging"], env)
    row = next(line for line in status.out.splitlines() if line.startswith("staging"))
    assert " 12.5% " in row and "12.50" not in row
    rate = re.search(r"(\S+%)\s+demo-admin|(\S+%)\s+alice", row)
    assert rate is not None and re.fullmatch(r"(<0\.1|\d+\.\d)%", rate.group(1) or rate.group(2)), row


def test_a_change_days_old_shows_a_date(env: dict[str, str], picker: FlagPicker) -> None:
    key = picker.take(enabled=True)  # never changed in the demo: its last change is its creation, days ago
    status = flagops(["status", key, "--env", "prod"], env)
    assert status.code == 0, status.both
    assert re.search(r"demo-seed, ([A-Z][a-z]{2} \d{2}|\d{4}-\d{2}-\d{2}) \d{2}:\d{2} \(\d+d ago\)", status.out), (
        status.out
    )
    audit = flagops(["audit", key], env)
    created = next(line for line in audit.out.splitlines() if " created " in line)
    assert re.search(r"^\d+\s+([A-Z][a-z]{2} \d{2}|\d{4}-\d{2}-\d{2}) \d{2}:\d{2}:\d{2}\s+\d+d ago", created), created
