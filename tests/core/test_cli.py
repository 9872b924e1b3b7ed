"""Every CLI command and error path, as a real subprocess against the real service on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import RunningService, start_service

from core.clitools import FlagPicker, Result, cli_env, flagops
from core.proxy import FaultProxy, ProxyRequest, Reply, problem
from flagops.errors import ExitCode

REASON = "INC-7 checkout errors spiking"


def _state(service: RunningService, key: str, environment: str) -> dict[str, object]:
    with service.client() as client:
        state: dict[str, object] = client.get(f"/v1/flags/{key}", params={"environment": environment}).json()[
            "environments"
        ][environment]
        return state


def _audit(service: RunningService, key: str) -> list[dict[str, object]]:
    with service.client() as client:
        entries: list[dict[str, object]] = client.get("/v1/audit", params={"flag": key}).json()["entries"]
        return entries


def _clean(result: Result) -> None:
    assert "Traceback" not in result.both, result.both


# --- reads --------------------------------------------------------------------------------------


def test_flags_table_json_and_search(env: dict[str, str]) -> None:
    table = flagops(["flags", "--env", "dev"], env)
    assert table.code == 0 and table.out.splitlines()[0].split()[:3] == ["KEY", "STATE", "ROLLOUT"]
    assert len(table.out.splitlines()) == 301
    data = json.loads(flagops(["flags", "--env", "prod", "--json"], env).out)
    assert data["environment"] == "prod" and len(data["flags"]) == 300
    found = json.loads(flagops(["flags", "--env", "dev", "--search", "checkout", "--limit", "5", "--json"], env).out)
    assert 0 < len(found["flags"]) <= 5 and all("checkout" in f["key"] for f in found["flags"])
    off = json.loads(flagops(["flags", "--env", "dev", "--search", "state:off", "--json"], env).out)
    assert off["flags"] and all(not f["environments"]["dev"]["enabled"] for f in off["flags"])


def test_read_without_environment_is_a_usage_error(env: dict[str, str]) -> None:
    result = flagops(["flags"], env)
    assert result.code == ExitCode.USAGE and "--env" in result.err


def test_profile_from_config_file(service: RunningService, tmp_path: Path) -> None:
    config = tmp_path / "flagops.yaml"
    config.write_text(f"profiles:\n  lab:\n    url: {service.url}\n    environment: staging\n    readonly: true\n")
    env = cli_env(tmp_path, token=service.admin_token, FLAGOPS_CONFIG=str(config))
    data = json.loads(flagops(["flags", "--json"], env).out)
    assert data["environment"] == "staging"
    refused = flagops(["kill", data["flags"][0]["key"], "--env", "staging", "--reason", REASON, "--yes"], env)
    assert refused.code == ExitCode.REFUSED and "Read-only" in refused.err
    info = flagops(["info"], env)
    assert "lab (from" in info.out and str(config) in info.out and service.admin_token not in info.both


def test_status_shows_every_environment_and_the_last_change(
    service: RunningService, env: dict[str, str], picker: FlagPicker
) -> None:
    key = picker.take(enabled=True, env="staging")
    assert flagops(["rollout", key, "40", "--env", "staging", "--reason", REASON, "--yes"], env).code == 0
    data = json.loads(flagops(["status", key, "--json"], env).out)
    assert set(data["status"]) == {"dev", "staging", "prod"}
    change = data["status"]["staging"]["lastChange"]
    assert change["actor"] == "alice-admin" and change["reason"] == REASON
    created = data["status"]["dev"]["lastChange"]  # never changed in dev: its creation is the last change
    assert created["action"] == "flag.created" and created["actor"] == "demo-seed"
    assert data["status"]["prod"]["errorRate"] is not None
    table = flagops(["status", key], env)
    assert table.code == 0 and "ERRORS 5M" in table.out and "alice-admin, " in table.out and "40%" in table.out
    scoped = flagops(["status", key, "--json"], {**env, "FLAGOPS_TOKEN": service.writer_dev_token})  # no audit:read
    assert scoped.code == 0 and json.loads(scoped.out)["status"]["dev"]["lastChange"] is None
    missing = flagops(["status", "no-such-flag"], env)
    assert missing.code == ExitCode.NOT_FOUND and "no-such-flag" in missing.err
    _clean(missing)


def test_audit_lists_filters_and_verifies(service: RunningService, env: dict[str, str], picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    assert flagops(["kill", key, "--env", "dev", "--reason", REASON, "--ticket", "INC-7", "--yes"], env).code == 0
    data = json.loads(flagops(["audit", key, "--env", "dev", "--since", "10m", "--json"], env).out)
    assert data["entries"][0]["flag"] == key and data["entries"][0]["ticket"] == "INC-7"
    table = flagops(["audit", key], env)
    assert table.code == 0 and "on 100% v" in table.out and "-> off v" in table.out  # the format status uses
    future = json.loads(flagops(["audit", key, "--since", "2099-01-01T00:00Z", "--json"], env).out)
    assert future["entries"] == []
    bad = flagops(["audit", "--since", "yesterday-ish"], env)
    assert bad.code == ExitCode.USAGE and "--since" in bad.err
    verified = flagops(["audit", "--verify"], env)
    assert verified.code == 0 and "hash chain intact" in verified.out
    assert json.loads(flagops(["audit", "--verify", "--json"], env).out)["ok"] is True


# --- writes -------------------------------------------------------------------------------------


def test_kill_requires_yes_without_a_terminal(service: RunningService, env: dict[str, str], picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    result = flagops(["kill", key, "--env", "dev", "--reason", REASON], env)
    assert result.code == ExitCode.REFUSED and "--yes" in result.err
    assert _state(service, key, "dev")["enabled"] is True


def test_kill_then_kill_again_is_a_noop(
    service: RunningService, env: dict[str, str], picker: FlagPicker, tmp_path: Path
) -> None:
    key = picker.take(enabled=True)
    first = flagops(["kill", key, "--env", "dev", "--reason", REASON, "--yes"], env)
    assert (
        first.code == 0 and first.out.startswith(f"Killed {key} in dev: on 100% -> off") and "served after" in first.out
    )
    log = (tmp_path / "state" / "flagops" / "flagops.log").read_text()
    assert f"kill {key} in dev: on 100% -> off: version" in log and REASON in log
    assert service.admin_token not in log
    entries = len(_audit(service, key))
    again = flagops(["kill", key, "--env", "dev", "--reason", REASON, "--yes", "--json"], env)
    data = json.loads(again.out)
    assert again.code == 0 and data["noop"] is True and data["applied"] is False
    assert len(_audit(service, key)) == entries
    text = flagops(["kill", key, "--env", "dev", "--reason", REASON, "--yes"], env)
    assert "already off: nothing to change" in text.out


def test_kill_json_reports_time_to_effect(service: RunningService, env: dict[str, str], picker: FlagPicker) -> None:
    key = picker.take(enabled=True, env="prod")
    data = json.loads(flagops(["kill", key, "--env", "prod", "--reason", REASON, "--yes", "--json"], env).out)
    assert data["applied"] and data["confirmed"] and data["protected"] is True
    assert 0 <= data["timeToEffect"] < 5 and data["state"]["enabled"] is False
    assert data["blastRadius"]["windowSeconds"] == 300 and data["blastRadius"]["evaluationsPerMinute"] >= 0


def test_rollout_and_rollback(service: RunningService, env: dict[str, str], picker: FlagPicker) -> None:
    key = picker.take(enabled=True, env="staging")
    original = _state(service, key, "staging")
    out = flagops(["rollout", key, "35", "--env", "staging", "--reason", REASON, "--yes"], env)
    assert out.code == 0 and "Set rollout of" in out.out and _state(service, key, "staging")["rollout"] == 35
    back = flagops(["rollback", key, "--env", "staging", "--reason", "ramp went badly", "--yes", "--json"], env)
    data = json.loads(back.out)
    assert back.code == 0 and data["toVersion"] == original["version"]
    assert _state(service, key, "staging")["rollout"] == original["rollout"]
    explicit = flagops(
        [
            "rollback",
            key,
            "--env",
            "staging",
            "--to-version",
            str(original["version"]),
            "--reason",
            "explicit version",
            "--yes",
        ],
        env,
    )
    assert explicit.code == 0 and "nothing to change" in explicit.out
    bad = flagops(["rollout", key, "140", "--env", "staging", "--reason", REASON, "--yes"], env)
    assert bad.code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--reason", "short"], ExitCode.REFUSED, "too short"),
        ([], ExitCode.REFUSED, "reason is required"),
        (["--reason", REASON, "--env", "dev"], ExitCode.REFUSED, "Read-only"),
    ],
    ids=["short-reason", "no-reason", "readonly"],
)
def test_safety_rules_refuse(
    service: RunningService, env: dict[str, str], picker: FlagPicker, args: list[str], code: int, needle: str
) -> None:
    key = picker.take(enabled=True)
    prefix = ["--readonly"] if needle == "Read-only" else []
    extra = args if "--env" in args else [*args, "--env", "dev"]
    result = flagops([*prefix, "kill", key, *extra, "--yes"], env)
    assert result.code == code and needle in result.err
    _clean(result)
    assert _state(service, key, "dev")["enabled"] is True


def test_write_without_environment_is_a_usage_error(env: dict[str, str]) -> None:
    result = flagops(["kill", "anything", "--reason", REASON, "--yes"], env)
    assert result.code == ExitCode.USAGE and "--env" in result.err


def test_unknown_flag_is_not_found(env: dict[str, str]) -> None:
    result = flagops(["kill", "no-such-flag", "--env", "dev", "--reason", REASON, "--yes"], env)
    assert result.code == ExitCode.NOT_FOUND and "no-such-flag" in result.err
    _clean(result)


def test_forbidden_environment_for_a_scoped_token(service: RunningService, tmp_path: Path, picker: FlagPicker) -> None:
    key = picker.take(enabled=True, env="prod")
    env = cli_env(tmp_path, url=service.url, token=service.writer_dev_token)
    result = flagops(["kill", key, "--env", "prod", "--reason", REASON, "--yes"], env)
    assert result.code == ExitCode.AUTH and "403" in result.err and service.writer_dev_token not in result.both


# --- the service misbehaving --------------------------------------------------------------------


def test_service_down(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", token="some-token-value")
    for args in (
        ["kill", "x", "--env", "prod", "--reason", REASON, "--yes"],
        ["flags", "--env", "dev"],
        ["status", "x"],
    ):
        result = flagops(args, env)
        assert result.code == ExitCode.UNAVAILABLE and "cannot connect to the flag service" in result.err
        _clean(result)


def test_wrong_token_is_reported_without_printing_it(service: RunningService, tmp_path: Path) -> None:
    wrong = "definitely-wrong-token-4242"
    env = cli_env(tmp_path, url=service.url, token=wrong)
    for args in (["kill", "x", "--env", "prod", "--reason", REASON, "--yes"], ["flags", "--env", "dev", "--json"]):
        result = flagops(args, env)
        assert result.code == ExitCode.AUTH and "did not accept the token" in result.both, result.both
        assert wrong not in result.both
        _clean(result)


def test_a_429_storm_is_honoured(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", extra_args=["--rate-limit", "1"])
    try:
        key = httpx.get(f"{svc.url}/v1/flags", params={"environment": "dev"}, headers=svc.headers()).json()["flags"][0][
            "key"
        ]
        with FaultProxy(svc.url) as proxy:  # a plain pass-through that counts what the CLI got
            env = cli_env(tmp_path, url=proxy.url, token=svc.admin_token)
            results = [flagops(["status", key, "--json"], env) for _ in range(2)]  # 2 x 5 requests at 1/s
        assert all(r.code == 0 for r in results), [r.err for r in results]
        assert proxy.statuses.count(429) >= 2 and proxy.statuses[-1] == 200
    finally:
        svc.stop()


def test_500_then_success_applies_once(service: RunningService, tmp_path: Path, picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    keys: list[str] = []

    def lose_first_write(request: ProxyRequest) -> Reply | None:
        if request.method == "PATCH" and not keys:
            request.forward()
            keys.append(request.headers["Idempotency-Key"])
            return problem(500, "injected failure after the write")
        return None

    with FaultProxy(service.url, lose_first_write) as proxy:
        env = cli_env(tmp_path, url=proxy.url, token=service.admin_token)
        result = flagops(["kill", key, "--env", "dev", "--reason", REASON, "--yes"], env)
    assert result.code == 0 and "Killed" in result.out, result.both
    assert sum(1 for m, _, _ in proxy.seen if m == "PATCH") == 2
    assert sum(1 for e in _audit(service, key) if e["idempotencyKey"] == keys[0]) == 1


def test_stale_version_is_a_conflict_with_the_fresh_state(
    service: RunningService, tmp_path: Path, picker: FlagPicker
) -> None:
    key = picker.take(enabled=True, env="staging")

    def colleague_first(request: ProxyRequest) -> Reply | None:
        if request.method == "PATCH":
            # another engineer's change lands between our plan and our write
            state = _state(service, key, "staging")
            with service.client() as client:
                client.patch(
                    f"/v1/flags/{key}",
                    params={"environment": "staging"},
                    json={"rollout": 7, "changeReason": "colleague ramps down"},
                    headers={"If-Match": f'"{state["version"]}"'},
                ).raise_for_status()
        return None

    with FaultProxy(service.url, colleague_first) as proxy:
        env = cli_env(tmp_path, url=proxy.url, token=service.admin_token)
        result = flagops(["kill", key, "--env", "staging", "--reason", REASON, "--yes", "--json"], env)
    assert result.code == ExitCode.CONFLICT, result.both
    data = json.loads(result.out)
    assert data["error"] == "Conflict" and data["fresh"]["environments"]["staging"]["rollout"] == 7
    assert "changed since you looked" in result.err and "rollout 7%" in result.err
    assert _state(service, key, "staging")["enabled"] is True  # our stale kill did not overwrite it
