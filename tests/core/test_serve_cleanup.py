"""`flagops serve --demo` and `flagops demo` leave no temporary directory behind when stopped by a signal.

Real processes, real signals; TMPDIR points at the test's own directory so anything left is seen.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.clitools import cli_env

LISTEN = re.compile(r"(?:listening on|running at) (http://127\.0\.0\.1:\d+)")


def _start(args: list[str], tmp: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**cli_env(tmp / "home"), "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
    handle = open(log, "wb")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "flagops", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    handle.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = LISTEN.search(log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("did not start:\n" + log.read_text(errors="replace"))


def _left(tmp: Path, prefix: str) -> list[Path]:
    return sorted(tmp.glob(prefix + "*"))


@pytest.mark.parametrize(
    "sig, code", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_serve_demo_removes_its_temporary_database_on_a_signal(tmp_path: Path, sig: int, code: int) -> None:
    proc, url = _start(
        ["serve", "--demo", "--no-traffic", "--port", "0", "--no-access-log", "--parent-pid", str(os.getpid())],
        tmp_path,
        tmp_path / "serve.log",
    )
    assert _left(tmp_path, "flagops-demo-"), "the demo database is expected in a temporary directory"
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == code  # SIGTERM still ends it as killed by SIGTERM, as supervisors expect
    assert _left(tmp_path, "flagops-demo-") == []


def test_serve_with_a_database_of_its_own_keeps_it(tmp_path: Path) -> None:
    db = tmp_path / "keep.db"
    proc, _url = _start(
        [
            "serve",
            "--demo",
            "--no-traffic",
            "--port",
            "0",
            "--db",
            str(db),
            "--no-access-log",
            "--parent-pid",
            str(os.getpid()),
        ],
        tmp_path,
        tmp_path / "serve.log",
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert db.exists()


def test_demo_headless_stops_its_service_and_removes_its_directory_on_sigterm(tmp_path: Path) -> None:
    proc, url = _start(["demo", "--headless", "--no-traffic"], tmp_path, tmp_path / "demo.log")
    assert _left(tmp_path, "flagops-embedded-")
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert _left(tmp_path, "flagops-embedded-") == []
    with pytest.raises(httpx.TransportError):  # the service went with it
        httpx.get(f"{url}/healthz", timeout=2)
