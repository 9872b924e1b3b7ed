"""End to end in a real terminal: tmux runs `flagops demo`, keys search for the incident flag and kill it
with a reason, the pane shows it off, and the service's audit log holds the entry with that reason.

The demo writes its URL and admin token to the file named by FLAGOPS_DEMO_CONNECTION (mode 0600), so the
test can ask the service itself. tmux runs on a private socket (-L) and is killed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FLAG = "checkout-new-flow"
REASON = "e2e: checkout errors after deploy"


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", "console", *(["-l"] if literal else []), *keys)
        time.sleep(0.15)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "console")

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    assert shutil.which("tmux"), "tmux is required for the end-to-end test (tests/run installs it)"
    t = Tmux(f"flagops-e2e-{secrets.token_hex(4)}")
    yield t
    subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
def test_demo_search_kill_with_reason_in_a_real_terminal(tmux: Tmux, tmp_path: Path, size: tuple[int, int]) -> None:
    connection_file = tmp_path / "connection.json"
    flagops = Path(sys.executable).with_name("flagops")
    env_setup = (
        f"cd {tmp_path} && export XDG_CONFIG_HOME={tmp_path / 'config'} "
        f"XDG_STATE_HOME={tmp_path / 'state'} FLAGOPS_DEMO_CONNECTION={connection_file}; "
    )
    command = f"{env_setup}{flagops} demo --no-traffic; echo FLAGOPS-EXIT=$?; sleep 120"
    tmux.run("new-session", "-d", "-s", "console", "-x", str(size[0]), "-y", str(size[1]), command)

    shown = tmux.wait_for(lambda s: "● live" in s and FLAG[:8] in s, "the console to show live flags", timeout=60)
    footer = shown.rstrip("\n").splitlines()[-1]
    assert "d Dash" in footer and "? Keys" in footer and "q Quit" in footer, footer  # never cut off
    assert "t Timeline" in footer and "b Runbooks" in footer
    connection = json.loads(connection_file.read_text())
    assert os.stat(connection_file).st_mode & 0o077 == 0  # the token file is private
    headers = {"Authorization": f"Bearer {connection['admin_token']}"}

    tmux.keys("/")
    tmux.keys(FLAG, literal=True)
    tmux.wait_for(lambda s: "1 of" in s or "matching" in s, "search results")
    tmux.keys("Enter")
    # the search box keeps typed keys until enter has moved focus to the table (its footer lists the actions)
    tmux.wait_for(lambda s: "k Kill" in s.rstrip("\n").splitlines()[-1], "the flags table to have focus")
    tmux.keys("k")
    tmux.wait_for(lambda s: "Kill flag" in s and "-> off" in s, "the kill confirmation with its effect")
    # focus starts on Cancel; shift+tab walks back through typed key, ticket, to the reason
    tmux.keys("BTab", "BTab", "BTab")
    tmux.keys(REASON, literal=True)
    tmux.keys("Enter")  # -> ticket
    tmux.keys("Enter")  # -> typed key (prod is protected)
    tmux.keys(FLAG, literal=True)
    tmux.keys("Enter")  # -> Cancel
    tmux.keys("Tab")  # -> Kill
    tmux.keys("Enter")
    done = tmux.wait_for(lambda s: "Took effect in" in s, "the kill to take effect")
    assert "now off" in done
    tmux.keys("Enter")  # Close
    shown = tmux.wait_for(lambda s: "Kill flag" not in s, "back on the flags screen")
    row = next(line for line in shown.splitlines() if FLAG in line and " off " in line)
    assert "off" in row

    tmux.keys("t")  # the timeline has the change, who made it and why
    timeline = tmux.wait_for(lambda s: "Flag changes in prod" in s and REASON[:20] in s, "the kill on the timeline")
    assert FLAG in timeline and "-> off" in timeline and "● live" in timeline.splitlines()[0]
    tmux.keys("Escape")

    with httpx.Client(base_url=connection["url"], headers=headers, timeout=10) as client:
        entries = client.get("/v1/audit", params={"flag": FLAG, "environment": "prod"}).json()["entries"]
        # a kill-switch flag in prod: break-glass, so the kill's own row sits under the review it opened
        entry = next(e for e in entries if e["action"] == "flag.updated")
        assert entry["reason"] == REASON
        assert entry["after"]["enabled"] is False and entry["before"]["enabled"] is True
        state = client.get(f"/v1/flags/{FLAG}", params={"environment": "prod"}).json()["environments"]["prod"]
        assert state["enabled"] is False

    tmux.keys("q")
    tmux.wait_for(lambda s: "FLAGOPS-EXIT=0" in s, "flagops demo to exit cleanly")
    with pytest.raises(httpx.HTTPError):  # the embedded service stopped with the console
        httpx.get(f"{connection['url']}/healthz", timeout=2)
