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
from typing import Any

from flagops.server.audit import open_readonly
from flagops.server.engine_contract import SCHEMA, Engine, Rows

__all__ = ["SCHEMA", "Engine", "Rows", "SQLiteEngine", "is_postgres_url", "open_engine"]


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
