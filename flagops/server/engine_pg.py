"""PostgreSQL (psycopg 3): several `flagops serve` replicas on one database.

- One write at a time across every replica: a write transaction starts with a transaction-scoped advisory lock
  (`pg_advisory_xact_lock`), so the audit chain stays linear (the store then catches up from the log before it
  checks If-Match or an Idempotency-Key) and `audit.sequence` as primary key would refuse a fork anyway.
- Durable before acknowledged: `synchronous_commit = on` for this session, whatever the server's default.
- Fan-out: the write transaction NOTIFYs the new audit sequence (delivered only if it commits); each replica
  LISTENs on its own connection and catches up on every notification, and every few seconds in any case, so
  a missed notification (a dropped listener connection) only delays, never loses.

Only imported for a postgresql:// URL (engine.open_engine): the SQLite path never loads psycopg.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from flagops.server.engine_contract import SCHEMA, Rows
from flagops.server.problems import Problem

log = logging.getLogger("flagops.server")

WRITE_LOCK = 0x666C61676F7073  # "flagops": the advisory lock every write (and schema setup) holds
CHANNEL = "flagops_audit"
QUIET_SYNC = 5.0  # seconds without a notification after which a replica checks the log anyway


@functools.lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """The store's `?` placeholders in psycopg's spelling (the store's SQL has no other ? or %)."""
    return sql.replace("?", "%s")


def redacted(url: str) -> str:
    """The URL without its password, for banners and error messages."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparseable URL)"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


class PostgresEngine:
    shared = True

    def __init__(self, url: str) -> None:
        self._url = url
        self.description = redacted(url)
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._db = self._connect()
        self._db.execute("BEGIN")
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # replicas starting together
        self._db.execute(SCHEMA.encode())  # several statements: the simple query protocol
        self._db.execute("COMMIT")

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._url, autocommit=True, application_name="flagops serve", connect_timeout=10)
        conn.execute("SET synchronous_commit = on")
        return conn

    def _ready(self) -> None:
        if self._db.closed or self._db.broken:  # the server restarted: reconnect once, between transactions
            log.warning("database connection lost; reconnecting to %s", self.description)
            self._db = self._connect()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        try:
            return self._db.execute(_pg(sql), args or None)
        except psycopg.DataError as exc:  # e.g. a NUL character, which PostgreSQL text cannot hold
            raise Problem(422, f"the database refused a value: {str(exc).splitlines()[0][:200]}") from None

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(_pg(sql), rows)

    def begin_write(self) -> None:
        self._ready()
        self._db.execute("BEGIN")
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    def begin_read(self) -> None:
        self._ready()
        self._db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.closed or self._db.info.transaction_status == TransactionStatus.IDLE:
            return
        try:
            self._db.execute("ROLLBACK")
        except psycopg.OperationalError:  # the connection is gone, and the transaction with it
            log.warning("rollback on a lost connection to %s", self.description)

    def announce(self, sequence: int) -> None:
        self._db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(sequence)))

    def time_sql(self, expr: str) -> str:
        return f"({expr})::timestamptz"

    @contextmanager
    def reader(self) -> Iterator[psycopg.Connection[Any]]:
        conn = psycopg.connect(self._url, autocommit=True, application_name="flagops verify", connect_timeout=10)
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # head and rows from one snapshot
            yield conn
        finally:
            conn.close()

    def listen(self, on_change: Callable[[], None]) -> None:
        self._listener = threading.Thread(target=self._listen, args=(on_change,), name="pg-listen", daemon=True)
        self._listener.start()

    def _listen(self, on_change: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, application_name="flagops listen", connect_timeout=10
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    on_change()  # whatever was committed before LISTEN took effect
                    synced = time.monotonic()
                    while not self._stop.is_set():
                        notified = False
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            notified = True
                        if notified or time.monotonic() - synced >= QUIET_SYNC:
                            on_change()
                            synced = time.monotonic()
            except Exception:  # a dropped connection or a failed catch-up: log, wait, listen again
                if self._stop.is_set():
                    return
                log.warning("replica listener: %s; retrying in 1 s", "lost its connection", exc_info=True)
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=3.0)
        self._db.close()
