"""The Unleash propagation probe: `flagops kill` against the real Unleash, confirmed by the official
UnleashClient Python SDK reading the client API with a production client token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .unleash_harness import UnleashServer

Run = Callable[..., subprocess.CompletedProcess[str]]


def client_token(unleash: UnleashServer, environment: str) -> str:
    with unleash.client() as c:
        r = c.post(
            "/api/admin/api-tokens",
            json={
                "tokenName": f"flagops-probe-{environment}",
                "type": "client",
                "environment": environment,
                "projects": ["*"],
            },
        )
        r.raise_for_status()
        return str(r.json()["secret"])


@pytest.fixture
def kill_with_probe(unleash: UnleashServer, tmp_path: Path) -> Run:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "profiles": {
                    "unleash-local": {
                        "url": unleash.url,
                        "backend": "unleash",
                        "environment": "production",
                        "probe": {
                            "unleash": f"{unleash.url}/api",
                            "token_env": "UNLEASH_CLIENT_TOKEN_{ENV}",
                            "timeout": 8,
                        },
                    }
                }
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAGOPS_", "UNLEASH_CLIENT_TOKEN"))}
    env.update(
        FLAGOPS_CONFIG=str(config),
        FLAGOPS_TOKEN=unleash.admin_token,
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
        HOME=str(tmp_path),
    )

    def run(key: str, token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "flagops",
                "kill",
                key,
                "--env",
                "production",
                "--reason",
                "unleash probe test",
                "--yes",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            env={**env, "UNLEASH_CLIENT_TOKEN_PRODUCTION": token},
            stdin=subprocess.DEVNULL,
        )

    return run


def enabled_in_production(unleash: UnleashServer, key: str) -> bool:
    with unleash.client() as c:
        r = c.get(f"/api/admin/projects/default/features/{key}/environments/production")
        r.raise_for_status()
        return bool(r.json()["enabled"])


def test_kill_is_confirmed_by_the_unleash_sdk(
    unleash: UnleashServer, make_feature: Callable[..., str], kill_with_probe: Run
) -> None:
    key = make_feature("probe", prod_rollout=100)
    token = client_token(unleash, "production")
    result = kill_with_probe(key, token)
    assert result.returncode == 0, result.stdout + result.stderr
    m = re.search(
        r"Probe: served off to clients (?:after|within) ([\d,]+) ms .*measured by UnleashClient SDK, "
        r"refreshing every 1 s",
        result.stdout,
    )
    assert m, result.stdout + result.stderr
    print(f"\nflagops kill (Unleash) -> served off to UnleashClient after {m.group(1)} ms")
    assert not enabled_in_production(unleash, key)
    assert token not in result.stdout + result.stderr


def test_a_token_for_another_environment_is_refused_and_the_kill_still_happens(
    unleash: UnleashServer, make_feature: Callable[..., str], kill_with_probe: Run
) -> None:
    key = make_feature("probe-dev-token", prod_rollout=100)
    result = kill_with_probe(key, client_token(unleash, "development"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "client token is for environment 'development', not 'production'" in result.stderr
    assert not enabled_in_production(unleash, key)
