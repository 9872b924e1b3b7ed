"""On a terminal, `runbook run` confirms each action step; in a protected environment the name is typed."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import RunningService

from flagops.errors import ExitCode

from .helpers import cli_env, state


class Terminal:
    """A child process on a pseudo-terminal: read until a text shows up, type answers."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flagops", *args],
            env={**env, "TERM": "dumb"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r}; got:\n{self.output}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    if self.proc.poll() is not None:
                        raise AssertionError(f"exited before {text!r}:\n{self.output}") from None

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code


def test_each_action_step_is_confirmed_and_protected_needs_the_typed_name(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    svc = fresh_service
    env = cli_env(svc, tmp_path)
    term = Terminal(["runbook", "run", "panic-service", "--param", "service=search"], env)
    term.expect("Reason for this run")
    term.type("INC-8 search is down, panic")
    term.expect("will change: search-")
    term.expect("prod is protected. Type the environment name to apply step 2")
    term.type("staging")  # wrong: asked again (the typed-key prompt of the CLI), nothing happens
    term.expect("Try again (2 attempts left)")
    term.type("")  # an empty answer declines
    assert term.finish() == ExitCode.REFUSED
    assert "not confirmed; stopped before this step changed anything" in term.output
    with svc.client() as client:
        flags = client.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
    targets = [
        f["key"] for f in flags if f["killSwitch"] and "search" in f["tags"] and f["environments"]["prod"]["enabled"]
    ]
    assert targets and all(state(svc, k)["version"] == 1 for k in targets)

    term = Terminal(["runbook", "run", "panic-service", "--param", "service=search", "--reason", "INC-8 panic"], env)
    term.expect("Type the environment name to apply step 2")
    term.type("prod")
    assert term.finish() == 0, term.output
    assert "all 3 steps done" in term.output
    assert all(state(svc, k)["enabled"] is False for k in targets)


def test_unprotected_environment_asks_yes_or_no(fresh_service: RunningService, tmp_path: Path) -> None:
    env = cli_env(fresh_service, tmp_path)
    term = Terminal(
        [
            "runbook",
            "run",
            "freeze-team",
            "--param",
            "team=search",
            "--param",
            "env=staging",
            "--reason",
            "INC-8 freezing search in staging",
        ],
        env,
    )
    term.expect("Plan for freeze-team in staging (dry run: nothing is changed)")
    term.expect("Apply step 2? [y/N]")
    term.type("y")
    assert term.finish() == 0, term.output
    assert "changed: search-" in term.output
