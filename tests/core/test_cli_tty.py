"""On a terminal a write shows the plan and blast radius and asks; a protected environment wants the flag
key typed. Driven through a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest
from conftest import RunningService

from core.clitools import FlagPicker, cli_env
from flagops.errors import ExitCode

REASON = "INC-9 payment errors after deploy"


SIZES = [(80, 24), (120, 35)]  # the smallest terminal we support, and a common one


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str], size: tuple[int, int] = (80, 24)) -> None:
        self.master, slave = pty.openpty()
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**env, "COLUMNS": str(columns), "LINES": str(rows), "TERM": "screen"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flagops", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"did not see {text!r}; screen:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
                    self.screen += os.read(self.master, 4096).decode(errors="replace")

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


def _enabled(service: RunningService, key: str, env: str) -> bool:
    r = httpx.get(f"{service.url}/v1/flags/{key}", params={"environment": env}, headers=service.headers())
    return bool(r.json()["environments"][env]["enabled"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_protected_environment_wants_the_flag_key_typed_and_asks_again_after_a_typo(
    service: RunningService, tmp_path: Path, picker: FlagPicker, size: tuple[int, int]
) -> None:
    key = picker.take(enabled=True, env="prod")
    env = cli_env(tmp_path, url=service.url, token=service.admin_token)
    wrong = Terminal(["kill", key, "--env", "prod", "--reason", REASON], env, size)
    wrong.expect("Type the flag key to confirm")
    assert "Plan: kill" in wrong.screen and "(PROTECTED)" in wrong.screen and "blast radius:" in wrong.screen
    for attempt, left in (("not-the-key", "2 attempts left"), (key[:-1], "1 attempt left")):
        wrong.type(attempt + "\r")
        wrong.expect(left)  # a typo asks again: the plan and the reason are not thrown away
    assert f"expected {key!r}" in wrong.screen
    wrong.type(key + "x\r")
    assert wrong.finish() == ExitCode.REFUSED and "did not match" in wrong.screen
    assert _enabled(service, key, "prod")

    right = Terminal(["kill", key, "--env", "prod", "--reason", REASON], env, size)
    right.expect("Type the flag key to confirm")
    right.type("chekout\r")
    right.expect("Try again")
    right.type(key + "\r")
    assert right.finish() == 0 and f"Killed {key} in prod" in right.screen
    assert not _enabled(service, key, "prod")


def test_an_empty_typed_key_declines_at_once(service: RunningService, tmp_path: Path, picker: FlagPicker) -> None:
    key = picker.take(enabled=True, env="prod")
    term = Terminal(
        ["kill", key, "--env", "prod", "--reason", REASON],
        cli_env(tmp_path, url=service.url, token=service.admin_token),
    )
    term.expect("Type the flag key to confirm")
    term.type("\r")
    assert term.finish() == ExitCode.REFUSED and "Try again" not in term.screen and _enabled(service, key, "prod")


def test_unprotected_environment_asks_yes_no_and_prompts_for_a_reason(
    service: RunningService, tmp_path: Path, picker: FlagPicker
) -> None:
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
    proc = subprocess.run(
        [sys.executable, "-m", "flagops", "flags", "--env", "dev", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "KEY" in proc.stdout  # the stored token works


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_timeline_on_a_terminal_is_plain_text_and_says_a_fresh_change_is_too_recent(
    service: RunningService, tmp_path: Path, picker: FlagPicker, size: tuple[int, int]
) -> None:
    key = picker.take(enabled=True, env="staging")
    env = cli_env(tmp_path, url=service.url, token=service.admin_token)
    reason = "ramp 5% -> 10% after <b>canary</b> looked fine"
    with service.client() as client:
        version = client.get(f"/v1/flags/{key}", params={"environment": "staging"}).json()["environments"]["staging"][
            "version"
        ]
        r = client.patch(
            f"/v1/flags/{key}",
            params={"environment": "staging"},
            headers={"If-Match": f'"{version}"'},
            json={"changeReason": reason, "rollout": 10},
        )
        assert r.status_code == 200, r.text
    term = Terminal(["timeline", "--since", "10m", "--env", "staging"], env, size)
    assert term.finish() == 0, term.screen
    screen = term.screen.replace("\r\n", "\n")
    assert "&gt;" not in screen and "&lt;" not in screen and "\\[" not in screen  # no markdown/HTML escapes
    flat = " ".join(screen.split())
    assert f"{key} in staging" in flat and re.search(r"change: on \d+% -> on 10% \(v\d+ -> v\d+\)", flat)
    assert "why: ramp 5% -> 10% after <b>canary</b> looked fine" in flat
    assert "too recent to measure after" in flat  # seconds old: no 5-minute "after" number
    assert max(len(line) for line in screen.splitlines()) <= size[0]
