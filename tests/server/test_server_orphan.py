"""A service whose parent dies without stopping it (the console or a test run killed with SIGKILL) stops
by itself instead of holding its port and running its traffic simulator forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

PARENT = r"""
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from conftest import start_service
svc = start_service(Path({workdir!r}), demo=False)
print(svc.url, svc.process.pid, flush=True)
import time
time.sleep(600)
"""


def test_service_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    code = PARENT.format(tests=str(Path(__file__).parents[1]), workdir=str(tmp_path / "svc"))
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    url, child_pid = parent.stdout.readline().split()
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200

    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(int(child_pid), 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(int(child_pid), signal.SIGKILL)
        raise AssertionError("the orphaned service was still running 20 s after its parent died")
    try:
        httpx.get(f"{url}/healthz", timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("something still answers on the orphaned service's port")
