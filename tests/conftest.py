"""Shared fixtures: the real reference Flag API service on a loopback port.

Tests never import flagops.server; they start `python -m flagops.server ...` as a separate process and
talk HTTP to it, exactly as the console does.

`start_service(...)` starts one and returns a `RunningService`; the `service` fixture is a module-scoped
demo service (about 300 flags, traffic running), `fresh_service` a function-scoped one.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

LISTEN_LINE = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class RunningService:
    url: str
    db_path: Path | str  # a SQLite file, or a postgresql:// URL
    tokens_file: Path
    admin_token: str  # every scope, every environment
    read_token: str  # flags:read + audit:read
    writer_dev_token: str  # flags:read + flags:write on dev only
    metrics_token: str  # metrics:write
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(token), timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing. What was acknowledged must still be there."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def _token_entry(actor: str, token: str, scopes: list[str], environments: list[str] | str) -> dict[str, object]:
    return {
        "actor": actor,
        "sha256": hashlib.sha256(token.encode()).hexdigest(),
        "scopes": scopes,
        "environments": environments,
    }


def write_tokens(path: Path) -> dict[str, str]:
    tokens = {name: secrets.token_urlsafe(24) for name in ("admin", "read", "writer_dev", "metrics")}
    entries = [
        _token_entry("alice-admin", tokens["admin"], ["flags:read", "flags:write", "audit:read", "metrics:write"], "*"),
        _token_entry("rita-reader", tokens["read"], ["flags:read", "audit:read"], "*"),
        _token_entry("dev-deployer", tokens["writer_dev"], ["flags:read", "flags:write"], ["dev"]),
        _token_entry("traffic-sim", tokens["metrics"], ["metrics:write"], "*"),
    ]
    path.write_text(yaml.safe_dump(entries))
    return tokens


def start_service(
    workdir: Path,
    *,
    demo: bool = True,
    traffic: bool = False,
    db_path: Path | str | None = None,
    tokens_file: Path | None = None,
    tokens: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 30.0,
    demo_policy: bool = False,
) -> RunningService:
    """Start the service on a free loopback port (`--port 0`; it prints the URL it got).

    A demo service here requires no approvals unless `demo_policy` (the demo's own policy: prod high/critical
    need one) or a `--policy` in `extra_args`: the tests written before governance test what they test."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = db_path or workdir / "flags.db"
    if tokens_file is None or tokens is None:
        tokens_file = workdir / "tokens.yaml"
        tokens = write_tokens(tokens_file)
    args = [
        sys.executable,
        "-m",
        "flagops.server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        str(db_path),
        "--tokens",
        str(tokens_file),
        "--parent-pid",
        str(os.getpid()),
        # the audit signing key lives beside the database here, so a restart on the same database
        # finds the same key (a real deployment keeps it elsewhere: see README)
        "--signing-key",
        str(
            db_path.with_name(db_path.name + ".signing.key")
            if isinstance(db_path, Path)
            else workdir / "audit-signing.key"
        ),
    ]
    if demo:
        args.append("--demo")
        if not demo_policy and "--policy" not in (extra_args or []):
            no_approvals = workdir / "no-approvals.yaml"
            no_approvals.write_text("approvals: []\n")
            args += ["--policy", str(no_approvals)]
    if not traffic:
        args.append("--no-traffic")
    args += extra_args or []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            m = LISTEN_LINE.search(line)
            if m and not found:
                found.append(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or not found:
        proc.kill()
        raise RuntimeError("flagops service did not start:\n" + "".join(output[-50:]))
    url = found[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return RunningService(
        url=url,
        db_path=db_path,
        tokens_file=tokens_file,
        admin_token=tokens["admin"],
        read_token=tokens["read"],
        writer_dev_token=tokens["writer_dev"],
        metrics_token=tokens["metrics"],
        process=proc,
        output=output,
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """A demo service shared by a module's tests. Tests that write must use flags they own or fresh_service."""
    svc = start_service(tmp_path_factory.mktemp("service"), demo=True)
    yield svc
    svc.stop()


@pytest.fixture
def fresh_service(tmp_path: Path) -> Iterator[RunningService]:
    svc = start_service(tmp_path / "service", demo=True)
    yield svc
    svc.stop()
