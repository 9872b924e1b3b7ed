"""Start a real Unleash 7.5.1 on PostgreSQL (used by conftest.py, once per test session).

PostgreSQL comes from the Debian packages (binaries under /usr/lib/postgresql/*/bin): `initdb` into a temporary
directory and `pg_ctl` on a free loopback port. PostgreSQL refuses to run as root, so when the suite runs as root
the database runs as `nobody` in a directory that user owns. Unleash is the npm package installed by
tests/unleash/install.sh into .cache/unleash; it listens on a port the kernel picks (HTTP_PORT=0) and seeds an
admin token from INIT_ADMIN_API_TOKENS. Both are stopped at the end of the session.

Nothing here skips: if Unleash cannot start, every Unleash test errors with the reason (a skip is not a pass).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
UNLEASH_VERSION = "7.5.1"
STARTED_LINE = re.compile(r"Unleash has started\..*port: (\d+)")


def unleash_dir() -> Path:
    return Path(os.environ.get("FLAGOPS_UNLEASH_DIR") or REPO / ".cache" / "unleash")


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). Run tests/run, "
                    "or apt-get install postgresql.", pytrace=False)
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    bin: Path
    root: Path
    port: int
    user_kwargs: dict[str, Any]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), *args], capture_output=True,
                              text=True, timeout=60, **self.user_kwargs)

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast", "-w")


def start_postgres() -> Postgres:
    bin_dir = postgres_bin()
    as_root = os.geteuid() == 0
    # as root, the data dir must be reachable by `nobody`: /tmp is, a root-only TMPDIR may not be
    root = Path(tempfile.mkdtemp(prefix="flagops-pg-", dir="/tmp" if as_root and Path("/tmp").is_dir() else None))
    user_kwargs: dict[str, Any] = {}
    if as_root:
        # PostgreSQL will not run as root: run it as an unprivileged user that owns the data directory.
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        user_kwargs = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": [], "cwd": str(root)}
    os.chmod(root, 0o700)
    init = subprocess.run([str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "unleash", "--auth=trust",
                           "-E", "UTF8", "--no-sync", "--no-instructions"],
                          capture_output=True, text=True, timeout=120, **user_kwargs)
    if init.returncode != 0:
        pytest.fail(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}", pytrace=False)
    last = ""
    for _ in range(5):  # a free port can be taken between probing and binding: try another
        pg = Postgres(bin_dir, root, free_port(), user_kwargs)
        options = (f"-p {pg.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        started = pg.pg_ctl("start", "-w", "-t", "60", "-l", str(root / "postgres.log"), "-o", options)
        if started.returncode == 0:
            return pg
        last = started.stdout + started.stderr + _tail(root / "postgres.log")
    shutil.rmtree(root, ignore_errors=True)
    pytest.fail(f"PostgreSQL did not start:\n{last}", pytrace=False)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


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
        done = subprocess.run([str(self.postgres.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.postgres.port),
                               "-U", "unleash", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

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
        pytest.fail(f"unleash-server@{UNLEASH_VERSION} is not installed at {unleash_dir()}: "
                    "run `bash tests/unleash/install.sh` (tests/run does).", pytrace=False)
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
        "DATABASE_USERNAME": "unleash",
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
    process = subprocess.Popen([node, str(entry)], cwd=unleash_dir(), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
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
