"""Shared by the runbook tests: an Ops on the real service, metrics posting, and reading flags over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import RunningService

from flagops.backends.flagapi import FlagApiBackend
from flagops.ops import Ops
from flagops.secrets import Secret
from flagops.v1 import wire

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "runbooks"


@asynccontextmanager
async def ops_for(service: RunningService, token: str | None = None) -> AsyncIterator[Ops]:
    backend = FlagApiBackend(service.url, Secret(token or service.admin_token))
    try:
        yield Ops(backend)
    finally:
        await backend.aclose()


def post_metrics(
    service: RunningService, flag: str, environment: str, evaluations: int, errors: int, ago_seconds: float = 0
) -> None:
    at = datetime.now(UTC) - timedelta(seconds=ago_seconds)
    body = {
        "environment": environment,
        "at": wire.iso(at),
        "counts": [{"flag": flag, "evaluations": {"on": evaluations}, "errors": errors}],
    }
    with service.client(service.metrics_token) as client:
        response = client.post("/v1/metrics", json=body)
        assert response.status_code == 202, response.text


def state(service: RunningService, flag: str, environment: str = "prod") -> dict[str, Any]:
    with service.client() as client:
        response = client.get(f"/v1/flags/{flag}", params={"environment": environment})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["environments"][environment]
        return result


def patch(service: RunningService, flag: str, environment: str, reason: str, **fields: Any) -> dict[str, Any]:
    """A change made by someone else, straight over HTTP."""
    current = state(service, flag, environment)
    with service.client() as client:
        response = client.patch(
            f"/v1/flags/{flag}",
            params={"environment": environment},
            headers={"If-Match": f'"{current["version"]}"'},
            json={"changeReason": reason, **fields},
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["environments"][environment]
        return result


def cli_env(service: RunningService, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGOPS_")}
    env.update(
        FLAGOPS_URL=service.url,
        FLAGOPS_TOKEN=service.admin_token,
        FLAGOPS_STATE_DIR=str(state_dir),
        XDG_CONFIG_HOME=str(state_dir / "config"),
        FLAGOPS_RUNBOOKS_DIR=str(state_dir / "user-runbooks"),
        PYTHONUNBUFFERED="1",
    )
    return env


def flagops(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagops", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
