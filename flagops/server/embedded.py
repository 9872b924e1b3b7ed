"""The embedded service: the reference Flag API as a child process on a free loopback port.

`flagops demo` (and the console's demo mode) use it. Tokens are generated here, and only their hashes
reach the child (in a tokens file in a private temporary directory), so no token appears in a process
argument list. The child's output goes to a log file in that directory, not the terminal.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_LISTEN = re.compile(r"listening on (http://\S+)")


@dataclass
class EmbeddedService:
    url: str
    admin_token: str = field(repr=False)
    read_token: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    workdir: tempfile.TemporaryDirectory[str] = field(repr=False)
    log_path: Path = field(repr=False)
    operator_token: str = field(default="", repr=False)  # the second operator (write, approve)

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self) -> int:
        return self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.workdir.cleanup()


def _entry(actor: str, token: str, scopes: list[str]) -> dict[str, object]:
    return {"actor": actor, "sha256": hashlib.sha256(token.encode()).hexdigest(), "scopes": scopes, "environments": "*"}


def start_embedded(
    db: Path | None = None, traffic: bool = True, *, timeout: float = 30.0, extra_args: list[str] | None = None
) -> EmbeddedService:
    """Start `python -m flagops.server --demo` on 127.0.0.1 with a free port; return once it serves."""
    workdir = tempfile.TemporaryDirectory(prefix="flagops-embedded-")
    root = Path(workdir.name)
    os.chmod(root, 0o700)
    admin, reader, operator = (secrets.token_urlsafe(24) for _ in range(3))
    tokens_file = root / "tokens.yaml"
    tokens_file.write_text(
        yaml.safe_dump(
            [
                _entry(
                    "demo-admin", admin, ["flags:read", "flags:write", "flags:approve", "audit:read", "metrics:write"]
                ),
                _entry("demo-reader", reader, ["flags:read", "audit:read"]),
                # the second operator, so a change request of demo-admin's can be approved (four eyes)
                _entry("demo-operator", operator, ["flags:read", "flags:write", "flags:approve", "audit:read"]),
            ]
        )
    )
    log_path = root / "service.log"
    args = [
        sys.executable,
        "-m",
        "flagops.server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        str(db or root / "flags.db"),
        "--tokens",
        str(tokens_file),
        "--demo",
        "--no-access-log",
        "--parent-pid",
        str(os.getpid()),
    ]
    if not traffic:
        args.append("--no-traffic")
    if db is None:  # a throwaway database is signed with a throwaway key; a kept one with the user's key
        args += ["--signing-key", str(root / "audit-signing.key")]
    args += extra_args or []
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments, no shell
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTEN.search(log_path.read_text(errors="replace"))
        if match:
            return EmbeddedService(match.group(1), admin, reader, proc, workdir, log_path, operator)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    output = log_path.read_text(errors="replace")[-2000:]
    workdir.cleanup()
    raise RuntimeError(f"the embedded Flag API service did not start:\n{output}")
