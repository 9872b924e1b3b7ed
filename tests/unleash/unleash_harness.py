"""Start a real Unleash 7.5.1 on PostgreSQL (used by conftest.py, once per test session).

PostgreSQL is the suite's throwaway cluster (tests/postgres_harness.py). Unleash is the npm package installed by
tests/unleash/install.sh into .cache/unleash; it listens on a port the kernel picks (HTTP_PORT=0) and seeds an
admin token from INIT_ADMIN_API_TOKENS. Both are stopped at the end of the session.

Nothing here skips: if Unleash cannot start, every Unleash test errors with the reason (a skip is not a pass).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from postgres_harness import Postgres, start_postgres

__all__ = ["Postgres", "UnleashServer", "start_postgres", "start_unleash"]

REPO = Path(__file__).resolve().parents[2]
UNLEASH_VERSION = "7.5.1"
STARTED_LINE = re.compile(r"Unleash has started\..*port: (\d+)")


def unleash_dir() -> Path:
    return Path(os.environ.get("FLAGOPS_UNLEASH_DIR") or REPO / ".cache" / "unleash")


@dataclass
class UnleashServer:
    url: str
    admin_token: str
    process: subprocess.Popen[str]
    postgres: Postgres
    output: deque[str] = field(default_factory=lambda: deque(maxlen=500))

    def client(self) -> httpx.Client:
        """Unleash's own API, to check what the adapter did (never the adapter itself)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": self.admin_token}, timeout=15)

    def psql(self, sql: str) -> str:
        """Run SQL against Unleash's database (for what the OSS API cannot do, e.g. create a project)."""
        return self.postgres.psql(sql)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_unleash(pg: Postgres) -> UnleashServer:
    entry = unleash_dir() / "node_modules" / "unleash-server" / "dist" / "server.js"
    if not entry.is_file():
        pytest.fail(
            f"unleash-server@{UNLEASH_VERSION} is not installed at {unleash_dir()}: "
            "run `bash tests/unleash/install.sh` (tests/run does).",
            pytrace=False,
        )
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (apt-get install nodejs npm).", pytrace=False)
    token = f"*:*.{secrets.token_hex(20)}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TZ": "UTC",
        "NODE_ENV": "production",
        "DATABASE_HOST": "127.0.0.1",
        "DATABASE_PORT": str(pg.port),
        "DATABASE_USERNAME": pg.user,
        "DATABASE_NAME": "postgres",
        "DATABASE_SSL": "false",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": "0",  # the kernel picks; the start line tells which
        "INIT_ADMIN_API_TOKENS": token,  # the environment, never the argument list (ps would show it)
        "CHECK_VERSION": "false",
        "SEND_TELEMETRY": "false",
        "LOG_LEVEL": "info",
        "UNLEASH_DEFAULT_ADMIN_PASSWORD": secrets.token_urlsafe(16),
    }
    process = subprocess.Popen(
        [node, str(entry)],
        cwd=unleash_dir(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    output: deque[str] = deque(maxlen=500)  # Unleash logs every permission check at info level
    port: list[int] = []
    seen = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            match = STARTED_LINE.search(line)
            if match and not port:
                port.append(int(match.group(1)))
                seen.set()
        seen.set()

    threading.Thread(target=pump, daemon=True, name="unleash-output").start()
    seen.wait(timeout=180)
    server = UnleashServer(f"http://127.0.0.1:{port[0]}" if port else "", token, process, pg, output)
    if not port:
        server.stop()
        pytest.fail("Unleash did not start:\n" + "\n".join(list(output)[-40:]), pytrace=False)
    with server.client() as c:  # the token is seeded after start: wait until the admin API takes it
        deadline = time.monotonic() + 60
        while c.get("/api/admin/projects").status_code != 200:
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail("Unleash started but did not accept the seeded admin token", pytrace=False)
            time.sleep(0.2)
    return server
