"""`flagops kill` and the console's kill dialog with an OFREP propagation probe, against real services.

The probe is the real OpenFeature SDK over OFREP; it runs after the kill is applied and reported, so a
probe that fails or times out never stops or delays the kill itself.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from conftest import RunningService, start_service
from core.clitools import cli_env, flagops


def _config(home: Path, url: str, probe: str) -> Path:
    path = home / "flagops.yaml"
    path.write_text(f"profiles:\n  main:\n    url: {url}\n    environment: prod\n    probe:\n{probe}")
    return path


def _on_flag(service: RunningService, env: str = "prod") -> str:
    with service.client() as http:
        flags = http.get("/v1/flags", params={"environment": env}).json()["flags"]
    return next(
        f["key"]
        for f in flags
        if f["environments"][env]["enabled"] and f["kind"] == "boolean" and f["environments"][env]["rollout"] == 100
    )


def _enabled(service: RunningService, key: str, env: str = "prod") -> bool:
    with service.client() as http:
        return bool(http.get(f"/v1/flags/{key}", params={"environment": env}).json()["environments"][env]["enabled"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kill_reports_served_off_measured_by_the_sdk(fresh_service: RunningService, tmp_path: Path) -> None:
    key = _on_flag(fresh_service)
    env = cli_env(
        tmp_path,
        token=fresh_service.admin_token,
        FLAGOPS_CONFIG=str(_config(tmp_path, fresh_service.url, f"      ofrep: {fresh_service.url}\n")),
    )
    result = flagops(["kill", key, "--env", "prod", "--reason", "probe test: errors up", "--yes"], env)
    assert result.code == 0, result.both
    lines = result.out.splitlines()
    killed = next(i for i, line in enumerate(lines) if line.startswith("Killed"))
    probing = next(i for i, line in enumerate(lines) if line.startswith("Probing clients"))
    assert killed < probing  # the kill is done and said so before the probe starts
    m = re.search(
        r"Probe: served off to clients (?:after|within) ([\d,]+) ms \((?:already off at the probe's "
        r"first evaluation; )?measured by OpenFeature Python SDK over OFREP\)\.",
        result.out,
    )
    assert m, result.both
    print(f"\nflagops kill -> served off to the OpenFeature SDK after {m.group(1)} ms")
    assert not _enabled(fresh_service, key)

    second = _on_flag(fresh_service)
    result = flagops(["kill", second, "--env", "prod", "--reason", "probe test: json", "--yes", "--json"], env)
    assert result.code == 0, result.both
    probe = json.loads(result.out)["probe"]
    assert probe["outcome"] == "served_off" and probe["elapsedMs"] > 0 and "served off" in probe["summary"]

    # killing an off flag writes nothing, so there is nothing to probe
    result = flagops(["kill", second, "--env", "prod", "--reason", "probe test: again", "--yes", "--json"], env)
    assert result.code == 0 and json.loads(result.out)["probe"] is None


def test_a_failing_probe_never_stops_the_kill(fresh_service: RunningService, tmp_path: Path) -> None:
    key = _on_flag(fresh_service)
    dead = f"http://127.0.0.1:{_free_port()}"
    env = cli_env(
        tmp_path,
        token=fresh_service.admin_token,
        FLAGOPS_CONFIG=str(_config(tmp_path, fresh_service.url, f"      ofrep: {dead}\n      timeout: 2\n")),
    )
    started = time.monotonic()
    result = flagops(["kill", key, "--env", "prod", "--reason", "probe test: dead probe", "--yes"], env)
    assert time.monotonic() - started < 30
    assert result.code == 0, result.both  # the kill worked; the probe could not tell
    assert "Killed" in result.out and "propagation probe failed (OpenFeature Python SDK over OFREP)" in result.err
    assert not _enabled(fresh_service, key)
    assert fresh_service.admin_token not in result.both

    # a probe token variable that is not set: said plainly, kill done
    second = _on_flag(fresh_service)
    env["FLAGOPS_CONFIG"] = str(
        _config(
            tmp_path, fresh_service.url, f"      ofrep: {fresh_service.url}\n      token_env: NO_SUCH_TOKEN_{{ENV}}\n"
        )
    )
    result = flagops(["kill", second, "--env", "prod", "--reason", "probe test: no token", "--yes"], env)
    assert result.code == 0 and "NO_SUCH_TOKEN_PROD is not set" in result.err, result.both
    assert not _enabled(fresh_service, second)


def test_clients_that_still_see_it_on_make_the_kill_unconfirmed(fresh_service: RunningService, tmp_path: Path) -> None:
    """The probe watches a replica that never gets the change (another service with the same flags)."""
    replica = start_service(tmp_path / "replica")
    try:
        key = _on_flag(fresh_service)
        assert _enabled(replica, key)
        probe = f"      ofrep: {replica.url}\n      token_env: REPLICA_TOKEN\n      timeout: 1.5\n"
        env = cli_env(
            tmp_path,
            token=fresh_service.admin_token,
            REPLICA_TOKEN=replica.read_token,
            FLAGOPS_CONFIG=str(_config(tmp_path, fresh_service.url, probe)),
        )
        result = flagops(["kill", key, "--env", "prod", "--reason", "probe test: stale replica", "--yes"], env)
        assert result.code == 10, result.both  # EXIT.UNCONFIRMED
        assert "NOT yet served off to clients: after 1.5 s the client still got variant on" in result.err
        assert not _enabled(fresh_service, key)
    finally:
        replica.stop()


@pytest.mark.timeout(120)
async def test_console_kill_dialog_shows_the_probe(fresh_service: RunningService) -> None:
    from textual.widgets import Button, Input, Label

    from flagops.config import ProbeSettings, Profile
    from flagops.secrets import Secret
    from flagops.session import open_backend
    from flagops.tui.app import FlagOpsApp
    from flagops.tui.screens.action_modal import ActionModal

    key = _on_flag(fresh_service, "dev")
    profile = Profile(
        name="test",
        url=fresh_service.url,
        environment="dev",
        probe=ProbeSettings("ofrep", fresh_service.url, token_env="PROBE_TOKEN_{ENV}"),
    )
    app = FlagOpsApp(profile, open_backend(profile, Secret(fresh_service.admin_token)), environment="dev")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROBE_TOKEN_DEV", fresh_service.read_token)
        async with app.run_test(size=(100, 30)) as pilot:
            while not app.store.loaded:
                await pilot.pause(0.05)
            app.start_action("kill", key)
            while not isinstance(app.screen, ActionModal) or app.screen.plan is None:
                await pilot.pause(0.05)
            modal = app.screen
            modal.query_one("#action-reason", Input).value = "probe test from the console"
            modal.query_one("#action-apply", Button).press()

            def message() -> str:
                return str(modal.query_one("#action-message", Label).content)

            deadline = time.monotonic() + 20
            while "Probe:" not in message() and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert "Took effect in" in message(), message()
            assert re.search(r"Probe: served off to clients (after|within) [\d,]+ ms", message()), message()
    assert not _enabled(fresh_service, key, "dev")


@pytest.mark.parametrize("kind", ["ofrep", "unleash"])
def test_an_unreachable_probe_endpoint_fails_within_its_timeout(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from flagops.config import ProbeSettings
    from flagops.model import Flag, FlagState, Variant
    from flagops.probe import Probe

    monkeypatch.setenv("PROBE_TOKEN", "default:production.secret-value")
    flag = Flag(
        "some-flag",
        "Some flag",
        variants=(Variant("on", True), Variant("off", False)),
        states={"production": FlagState("production", False, 100, "on", "off", 2)},
    )
    url = f"http://127.0.0.1:{_free_port()}" + ("/api" if kind == "unleash" else "")
    probe = Probe(ProbeSettings(kind, url, token_env="PROBE_TOKEN", timeout=1.5), "main")
    started = time.monotonic()
    result = asyncio.run(probe.watch_kill(flag, "production", sent_at=started))
    assert time.monotonic() - started < 8
    assert result.outcome == "failed" and not result.ok, result
    assert "secret-value" not in result.describe()
    if kind == "unleash":
        assert "unreachable, or the token was refused" in result.detail
