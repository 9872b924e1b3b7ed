"""Run the real `flagops` CLI in a subprocess with a controlled environment (no TTY: stdin is a pipe)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def cli_env(home: Path, url: str | None = None, token: str | None = None, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited FLAGOPS_* or keyring settings, XDG dirs under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAGOPS_", "PYTHON_KEYRING", "XDG_"))}
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "data"),
        HOME=str(home),
        PYTHONPATH=str(ROOT),
    )
    if url:
        env["FLAGOPS_URL"] = url
    if token:
        env["FLAGOPS_TOKEN"] = token
    env.update(extra)
    return env


def flagops(args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 60) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "flagops", *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


class FlagPicker:
    """Hands out distinct demo flags so tests sharing one service never touch the same flag."""

    def __init__(self, url: str, token: str) -> None:
        import httpx

        self._used: set[str] = set()
        self._by_env: dict[str, list[dict[str, Any]]] = {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            for env in ("dev", "staging", "prod"):
                self._by_env[env] = client.get("/v1/flags", params={"environment": env}).json()["flags"]

    def take(self, *, enabled: bool = True, env: str = "dev", rollout_below: float = 101.0) -> str:
        for flag in self._by_env[env]:
            state = flag["environments"][env]
            if flag["key"] not in self._used and state["enabled"] is enabled and state["rollout"] < rollout_below:
                self._used.add(flag["key"])
                return str(flag["key"])
        raise LookupError(f"no unused demo flag with enabled={enabled}, rollout < {rollout_below} in {env}")
