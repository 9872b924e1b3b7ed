"""What every database engine gives the store (`Engine`, and `Rows` for a query's result) and the one schema
each of them creates. Its own module so the engines (engine.SQLiteEngine, engine_pg.PostgresEngine) and the
module that picks one (engine.open_engine) all depend on it without depending on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

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
