"""The seam between the store and its database: SQLite (embedded default) or PostgreSQL (several replicas).

The store writes one dialect of SQL — `?` placeholders, `INSERT ... ON CONFLICT`, times compared through
`time_sql` — and an engine supplies what really differs: how a write transaction takes the one lock that keeps
the audit chain linear (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), how other processes learn of a
commit (PostgreSQL: NOTIFY inside the transaction), and how a long read gets its own connection.
`open_engine` picks one from `--db`; the PostgreSQL driver is imported only for a postgresql:// URL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from flagops.server.audit import open_readonly

# one schema for both engines: TEXT columns hold exactly the text the audit hash covers
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS environments (key TEXT PRIMARY KEY, name TEXT NOT NULL, protected INTEGER NOT NULL,
    position INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY, meta TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS states (flag TEXT NOT NULL, environment TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (flag, environment));
CREATE TABLE IF NOT EXISTS state_history (flag TEXT NOT NULL, environment TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (flag, environment, version));
CREATE TABLE IF NOT EXISTS audit (sequence BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, flag TEXT NOT NULL, environment TEXT, reason TEXT NOT NULL, ticket TEXT,
    idempotency_key TEXT, before TEXT, after TEXT, origin TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_flag ON audit (flag, sequence);
CREATE TABLE IF NOT EXISTS idempotency (actor TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, etag TEXT, created_at TEXT NOT NULL, PRIMARY KEY (actor, key));
CREATE TABLE IF NOT EXISTS change_requests (id TEXT PRIMARY KEY, number BIGINT NOT NULL, flag TEXT NOT NULL,
    environment TEXT NOT NULL, status TEXT NOT NULL, expires_at TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (id TEXT PRIMARY KEY, number BIGINT NOT NULL, flag TEXT NOT NULL,
    environment TEXT NOT NULL, open INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_entity (sequence BIGINT PRIMARY KEY, entity TEXT NOT NULL, change_request TEXT);
CREATE INDEX IF NOT EXISTS audit_entity_entity ON audit_entity (entity, sequence);
CREATE INDEX IF NOT EXISTS audit_entity_cr ON audit_entity (change_request, sequence);
"""


class Rows(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Engine(Protocol):
    """One connection for the store's writes and short reads (the store serializes its use with a lock)."""

    description: str  # for messages and the startup banner; never a password
    shared: bool  # other processes may write the same database (replicas): catch up before trusting memory

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None: ...

    def begin_write(self) -> None:
        """Open a write transaction holding the database-wide write lock (released by commit/rollback)."""

    def begin_read(self) -> None:
        """Open a read transaction on one consistent snapshot."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def announce(self, sequence: int) -> None:
        """Inside a write transaction: tell the other replicas, at commit, that the log grew to `sequence`."""

    def time_sql(self, expr: str) -> str:
        """SQL that turns `expr` (an ISO 8601 text column or placeholder) into a comparable time."""

    def reader(self) -> Any:
        """A context manager giving a separate connection for a long read (audit verification), inside a
        read transaction on one snapshot."""

    def listen(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` (from a background thread) whenever another process committed; SQLite: never."""

    def close(self) -> None: ...


class SQLiteEngine:
    """WAL, synchronous=FULL: the WAL is fsynced at every commit, so an acknowledged write survives a killed
    process and a power cut (NORMAL would only survive the former)."""

    shared = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        return self._db.execute(sql, args)

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def begin_write(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        self._db.execute("BEGIN")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def announce(self, sequence: int) -> None:
        return None

    def time_sql(self, expr: str) -> str:
        return f"julianday({expr})"  # not a string compare: ISO texts vary in precision

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        db = open_readonly(self.path)  # a URI pathlib built: `?` or `#` in the name stay part of it
        try:
            db.execute("BEGIN")  # one snapshot: a write committed during a long scan must not look like tampering
            yield db
        finally:
            db.close()

    def listen(self, on_change: Callable[[], None]) -> None:
        return None

    def close(self) -> None:
        self._db.close()


def is_postgres_url(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def open_engine(db: str | Path) -> Engine:
    if isinstance(db, str) and is_postgres_url(db):
        from flagops.server.engine_pg import PostgresEngine

        return PostgresEngine(db)
    return SQLiteEngine(Path(db))
