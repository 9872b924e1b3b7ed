"""A throwaway PostgreSQL cluster for the tests that need a real one (Unleash, the service's PostgreSQL store).

PostgreSQL comes from the Debian packages (binaries under /usr/lib/postgresql/*/bin; tests/run installs them):
`initdb` into a temporary directory and `pg_ctl` on a free loopback port. PostgreSQL refuses to run as root, so
when the suite runs as root the database runs as `nobody` in a directory that user owns. fsync is off unless
asked for: the tests kill clients (service replicas), never the database server, and a test run need not
survive a power cut.

Nothing here skips: if PostgreSQL cannot start, the tests that need it error with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). Run tests/run, "
            "or apt-get install postgresql.",
            pytrace=False,
        )
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
    user: str = "unleash"  # the superuser initdb created (trust authentication on loopback)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            timeout=60,
            **self.user_kwargs,
        )

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                dbname,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast", "-w")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(user: str = "unleash", *, durable: bool = False) -> Postgres:
    """`durable`: fsync on (benchmarks that compare with SQLite's fsynced commits); tests leave it off."""
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
    init = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        **user_kwargs,
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}", pytrace=False)
    last = ""
    for _ in range(5):  # a free port can be taken between probing and binding: try another
        pg = Postgres(bin_dir, root, free_port(), user_kwargs, user)
        options = f"-p {pg.port} -k {root} -c listen_addresses=127.0.0.1"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
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
