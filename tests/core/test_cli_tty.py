"""On a terminal a write shows the plan and blast radius and asks; a protected environment wants the flag
key typed. Driven through a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import RunningService
from core.clitools import FlagPicker, cli_env

from flagops.errors import ExitCode

REASON = "INC-9 payment errors after deploy"


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "flagops", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"did not see {text!r}; screen:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    pass

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code


@pytest.fixture(scope="module")
def picker(service: RunningService) -> FlagPicker:
    return FlagPicker(service.url, service.admin_token)


def _enabled(service: RunningService, key: str, env: str) -> bool:
    r = httpx.get(f"{service.url}/v1/flags/{key}", params={"environment": env}, headers=service.headers())
    return bool(r.json()["environments"][env]["enabled"])


def test_protected_environment_wants_the_flag_key_typed(service: RunningService, tmp_path: Path,
                                                        picker: FlagPicker) -> None:
    key = picker.take(enabled=True, env="prod")
    env = cli_env(tmp_path, url=service.url, token=service.admin_token)
    wrong = Terminal(["kill", key, "--env", "prod", "--reason", REASON], env)
    wrong.expect("Type the flag key to confirm")
    assert "Plan: kill" in wrong.screen and "(PROTECTED)" in wrong.screen and "blast radius:" in wrong.screen
    wrong.type("not-the-key\r")
    assert wrong.finish() == ExitCode.REFUSED and "did not match" in wrong.screen
    assert _enabled(service, key, "prod")

    right = Terminal(["kill", key, "--env", "prod", "--reason", REASON], env)
    right.expect("Type the flag key to confirm")
    right.type(key + "\r")
    assert right.finish() == 0 and f"Killed {key} in prod" in right.screen
    assert not _enabled(service, key, "prod")


def test_unprotected_environment_asks_yes_no_and_prompts_for_a_reason(service: RunningService, tmp_path: Path,
                                                                      picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    env = cli_env(tmp_path, url=service.url, token=service.admin_token)
    declined = Terminal(["kill", key, "--env", "dev"], env)
    declined.expect("Reason")
    declined.type(REASON + "\r")
    declined.expect("Apply? [y/N]")
    declined.type("\r")
    assert declined.finish() == ExitCode.REFUSED and _enabled(service, key, "dev")

    accepted = Terminal(["kill", key, "--env", "dev", "--reason", REASON], env)
    accepted.expect("Apply? [y/N]")
    accepted.type("y\r")
    assert accepted.finish() == 0 and not _enabled(service, key, "dev")


def test_hidden_prompt_login(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(tmp_path, url=service.url, PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring")
    term = Terminal(["login"], env)
    term.expect("API token for profile")
    term.type(service.admin_token + "\r")
    assert term.finish() == 0 and "Token stored" in term.screen
    assert service.admin_token not in term.screen  # hidden input is not echoed
    proc = subprocess.run([sys.executable, "-m", "flagops", "flags", "--env", "dev", "--limit", "1"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "KEY" in proc.stdout  # the stored token works
