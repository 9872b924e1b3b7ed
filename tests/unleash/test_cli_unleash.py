"""Same CLI, other platform: `flagops flags|status|kill|rollout|rollback|audit` run against the real Unleash.

The CLI runs as a separate process with a `backend: unleash` profile, exactly as a person would run it; every
effect is then checked with Unleash's own Admin API, not with flagops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .unleash_harness import UnleashServer

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def flagops(unleash: UnleashServer, tmp_path: Path) -> Run:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "default_profile": "unleash-local",
                "profiles": {"unleash-local": {"url": unleash.url, "backend": "unleash", "environment": "production"}},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGOPS_")}
    env.update(
        FLAGOPS_CONFIG=str(config),
        FLAGOPS_TOKEN=unleash.admin_token,
        FLAGOPS_ACTOR="oncall-alice",
        FLAGOPS_STATE_DIR=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
        NO_COLOR="1",
    )

    def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flagops", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
        )

    return run


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def prod(unleash: UnleashServer, key: str, project: str = "default") -> dict[str, Any]:
    with unleash.client() as c:
        r = c.get(f"/api/admin/projects/{project}/features/{key}/environments/production")
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
        return doc


def rollout_of(doc: dict[str, Any]) -> list[str]:
    return [s["parameters"].get("rollout") for s in doc["strategies"]]


def test_flags_lists_features_across_projects(
    flagops: Run, unleash: UnleashServer, make_feature: Callable[..., str], second_project: str
) -> None:
    shop = make_feature("cli-shop", prod_rollout=30)
    pay = make_feature("cli-pay", project=second_project, prod_rollout=5, prod_on=False)
    listed = ok_json(flagops("flags", "--env", "production", "--json"))
    rows = {f["key"]: f for f in (listed["flags"] if isinstance(listed, dict) else listed)}
    assert rows[shop]["environments"]["production"]["enabled"] is True
    assert rows[shop]["environments"]["production"]["rollout"] == 30
    assert rows[pay]["environments"]["production"]["enabled"] is False
    assert rows[pay]["environments"]["production"]["rollout"] == 5
    table = flagops("flags", "--env", "production", "--search", "cli-pay")
    assert table.returncode == 0 and pay in table.stdout and shop not in table.stdout


def test_kill_rollout_rollback_and_audit_through_the_cli(
    flagops: Run, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("cli-incident", prod_rollout=25, dev_on=True)

    ramp = ok_json(
        flagops("rollout", key, "40", "--env", "production", "--reason", "ramp before launch", "--yes", "--json")
    )
    assert ramp["confirmed"] is True and ramp["state"]["rollout"] == 40
    assert prod(unleash, key)["enabled"] is True and rollout_of(prod(unleash, key)) == ["40"]

    kill = ok_json(
        flagops(
            "kill",
            key,
            "--env",
            "production",
            "--reason",
            "errors on checkout, INC-42",
            "--ticket",
            "INC-42",
            "--yes",
            "--json",
        )
    )
    assert kill["confirmed"] is True and kill["state"]["enabled"] is False
    assert prod(unleash, key)["enabled"] is False
    with unleash.client() as c:  # the other environment is untouched
        dev = c.get(f"/api/admin/projects/default/features/{key}/environments/development").json()
    assert dev["enabled"] is True

    again = ok_json(
        flagops("kill", key, "--env", "production", "--reason", "errors on checkout, INC-42", "--yes", "--json")
    )
    assert again["noop"] is True and again["applied"] is False

    back = ok_json(
        flagops("rollback", key, "--env", "production", "--reason", "fix deployed, restoring", "--yes", "--json")
    )
    assert back["confirmed"] is True and back["state"]["enabled"] is True and back["state"]["rollout"] == 40
    assert prod(unleash, key)["enabled"] is True and rollout_of(prod(unleash, key)) == ["40"]

    audit = ok_json(flagops("audit", key, "--env", "production", "--json"))
    entries = audit["entries"] if isinstance(audit, dict) else audit
    reasons = [(e["action"], e["actor"], e["reason"]) for e in entries[:3]]
    assert reasons == [
        ("flag.restored", "oncall-alice", "fix deployed, restoring"),
        ("flag.updated", "oncall-alice", "errors on checkout, INC-42"),
        ("flag.updated", "oncall-alice", "ramp before launch"),
    ]
    with unleash.client() as c:  # each audit entry is one of Unleash's own events
        events = c.get(
            "/api/admin/search/events", params={"feature": f"IS:{key}", "environment": "IS:production", "limit": "50"}
        ).json()["events"]
    assert {e["sequence"] for e in entries[:3]} <= {e["id"] for e in events}

    verified = flagops("audit", "--verify")
    assert verified.returncode == 0, verified.stderr


def test_status_says_there_is_no_error_source(flagops: Run, make_feature: Callable[..., str]) -> None:
    key = make_feature("cli-status", prod_rollout=60)
    status = ok_json(flagops("status", key, "--json"))
    assert status["environments"]["production"]["rollout"] == 60
    assert status["status"]["production"]["errorRate"] is None  # never a made-up 0%


def test_backend_override_by_environment_variable(
    flagops: Run, unleash: UnleashServer, make_feature: Callable[..., str], tmp_path: Path
) -> None:
    key = make_feature("cli-env")
    config = tmp_path / "flagapi.yaml"  # a profile for the Flag API, pointed at Unleash by the environment
    config.write_text(yaml.safe_dump({"profiles": {"main": {"url": "http://127.0.0.1:9", "backend": "flagapi"}}}))
    override = {
        "FLAGOPS_CONFIG": str(config),
        "FLAGOPS_PROFILE": "main",
        "FLAGOPS_URL": unleash.url,
        "FLAGOPS_BACKEND": "unleash",
    }
    result = flagops("status", key, "--env", "production", "--json", extra_env=override)
    assert ok_json(result)["environments"]["production"]["rollout"] == 25
    wrong = flagops("status", key, extra_env={**override, "FLAGOPS_BACKEND": "launchdarkly"})
    assert wrong.returncode == 9 and "FLAGOPS_BACKEND" in wrong.stderr


def test_errors_are_messages_with_exit_codes_and_no_token(
    flagops: Run, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("cli-errors")
    wrong = "*:*.this-token-is-wrong-0123456789abcdef"
    denied = flagops("status", key, extra_env={"FLAGOPS_TOKEN": wrong})
    assert denied.returncode == 3 and "Traceback" not in denied.stderr
    assert "this-token-is-wrong" not in denied.stderr + denied.stdout
    missing = flagops("kill", "no-such-flag-here", "--env", "production", "--reason", "testing errors", "--yes")
    assert missing.returncode == 4 and "no-such-flag-here" in missing.stderr and "Traceback" not in missing.stderr
    half = flagops("rollout", key, "12.5", "--env", "production", "--reason", "testing errors", "--yes")
    assert half.returncode == 8 and "whole percentages" in half.stderr
    assert rollout_of(prod(unleash, key)) == ["25"]
    readonly = flagops("--readonly", "kill", key, "--env", "production", "--reason", "testing errors", "--yes")
    assert readonly.returncode == 7 and prod(unleash, key)["enabled"] is True


def test_a_shipped_runbook_rolls_back_an_unleash_flag(
    flagops: Run, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("cli-runbook", prod_rollout=20)
    with unleash.client() as c:  # the bad change, made in Unleash's UI
        sid = prod(unleash, key)["strategies"][0]["id"]
        c.patch(
            f"/api/admin/projects/default/features/{key}/environments/production/strategies/{sid}",
            json=[{"op": "replace", "path": "/parameters/rollout", "value": "90"}],
        ).raise_for_status()
    runbooks = str(Path(__file__).resolve().parents[2] / "runbooks")
    result = flagops(
        "runbook",
        "run",
        "rollback-last-change",
        "--dir",
        runbooks,
        "-p",
        f"flag={key}",
        "-p",
        "env=production",
        "--reason",
        "90% was a typo, back to 20%",
        "--yes",
        "--json",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert rollout_of(prod(unleash, key)) == ["20"]
    entries = ok_json(flagops("audit", key, "--env", "production", "--json"))
    newest = (entries["entries"] if isinstance(entries, dict) else entries)[0]
    assert (newest["action"], newest["reason"]) == ("flag.restored", "90% was a typo, back to 20%")
