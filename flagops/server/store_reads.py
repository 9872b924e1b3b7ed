"""The store's reading half: opening the database, keeping the in-memory copy (readmodel.py) in step with it,
and every read — flags from memory, audit entries and events from the log.

Replicas (engine.shared): another process may have committed since this one last looked. `_catch_up` takes in
what it committed (its audit entries and the flags they touched); the engine's listener calls `sync` when
another replica announces a commit (PostgreSQL NOTIFY), and every write calls `_catch_up` under the lock first
(store_transactions.py).
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flagops.governance import Segment
from flagops.model import AuditEntry, Environment, Flag
from flagops.server.audit import GENESIS, audit_query, export_bundle, row_to_entry, verify_database
from flagops.server.engine import Engine, open_engine
from flagops.server.events import Event, make_event
from flagops.server.flag_rows import encode_flag, parse_flag_rows
from flagops.server.problems import Problem
from flagops.server.readmodel import Published, ReadModel
from flagops.v1 import wire

DEFAULT_ENVIRONMENTS = (
    Environment("dev", "Development"),
    Environment("staging", "Staging"),
    Environment("prod", "Production", protected=True),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreReads:
    """The database connection, the in-memory copy of every flag and the audit head; reads never write."""

    def __init__(self, db: str | Path | Engine, on_commit: Callable[[], None] | None = None) -> None:
        self.db: Engine = open_engine(db) if isinstance(db, (str, Path)) else db
        self.on_commit = on_commit
        # signs each new audit head in the write's own transaction (signing.Signer.sign); None: unsigned
        self.sign_head: Callable[[str, int, str], str] | None = None
        self._lock = threading.RLock()  # one user of the connection at a time, one writer in this process
        self._pending: list[AuditEntry] = []  # audit entries of the open transaction
        self.model = ReadModel()
        self._recent: deque[Event] = deque(maxlen=20000)  # newest events, so live delivery never reads the db
        self.segments: dict[str, Segment] = {}  # key -> segment, for evaluation (segments.py keeps it)
        self.on_entries: list[Callable[[list[AuditEntry]], None]] = []  # told of other replicas' entries
        with self._lock:
            self.db.begin_write()  # replicas starting together: one of them initializes
            try:
                row = self.db.execute("SELECT value FROM meta WHERE key='instance'").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO meta VALUES ('instance', ?)", (secrets.token_hex(4),))
                    self.db.executemany(
                        "INSERT INTO environments VALUES (?,?,?,?,0)",
                        [(e.key, e.name, int(e.protected), i) for i, e in enumerate(DEFAULT_ENVIRONMENTS)],
                    )
                self.instance = self.db.execute("SELECT value FROM meta WHERE key='instance'").fetchone()[0]
                # Idempotency-Keys are remembered for a day: long enough for any retry, short enough to stay small
                cutoff = wire.iso(utc_now() - timedelta(days=1))
                self.db.execute(
                    f"DELETE FROM idempotency WHERE {self.db.time_sql('created_at')} < {self.db.time_sql('?')}",  # noqa: S608 - the engine's own SQL, the value is a parameter
                    (cutoff,),
                )
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise
            self._load()
        self.db.listen(self.sync)

    # --- loading and in-memory reads -------------------------------------------------------------

    def _load(self) -> None:
        """Everything from the database into memory (at start, and after a bulk change)."""
        envs = self.db.execute("SELECT key, name, protected, version FROM environments ORDER BY position").fetchall()
        self.environments = [Environment(k, n, bool(p)) for k, n, p, _ in envs]
        self._env_keys = {e.key for e in self.environments}
        live, archived = parse_flag_rows(
            self.db.execute("SELECT key, meta, archived FROM flags").fetchall(),
            self.db.execute("SELECT flag, environment, data FROM states"),
        )
        if live and not all(encode_flag(p.flag) == p for p in (live[0], live[-1])):
            # written by a version of flagops whose JSON differs from this one's: serve this one's
            live = [encode_flag(p.flag) for p in live]
        self.model.reset(live, archived, {k: v for k, _, _, v in envs})
        self._recent.clear()  # its ids must stay consecutive up to the head
        head = self.db.execute("SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1").fetchone()
        self.head_sequence: int = head[0] if head else 0
        self._head_hash: str = head[1] if head else GENESIS

    def _catch_up(self) -> bool:
        """Inside a transaction (holding the store lock): take in what other processes committed after our
        head — their audit entries and the flags they touched. False when there was nothing."""
        rows = self.db.execute(
            "SELECT * FROM audit WHERE sequence>? ORDER BY sequence", (self.head_sequence,)
        ).fetchall()
        if not rows:
            return False
        entries = [row_to_entry(r) for r in rows]
        keys = sorted({e.flag_key for e in entries})
        if len(keys) > 1000:  # a bulk change (a seed): reload
            self._load()
        else:
            changed, archived = self._read_flags(keys)
            versions = dict(self.db.execute("SELECT key, version FROM environments"))
            self.model.publish(changed, archived, versions)
            self.head_sequence = entries[-1].sequence
            self._head_hash = entries[-1].hash or GENESIS
        for hook in self.on_entries:
            hook(entries)
        for entry in entries:
            self._recent.append(self.event(entry))
        if self.on_commit is not None:
            self.on_commit()
        return True

    def _read_flags(self, keys: list[str]) -> tuple[list[Published], list[Flag]]:
        marks = ",".join("?" * len(keys))  # placeholders only: the keys travel as parameters
        return parse_flag_rows(
            self.db.execute(f"SELECT key, meta, archived FROM flags WHERE key IN ({marks})", keys).fetchall(),  # noqa: S608
            self.db.execute(f"SELECT flag, environment, data FROM states WHERE flag IN ({marks})", keys),  # noqa: S608
        )

    def sync(self) -> None:
        """Catch up with commits of other replicas (the engine's listener calls this on each announcement)."""
        with self._lock:
            self.db.begin_read()
            try:
                self._catch_up()
            finally:
                self.db.rollback()

    def environment(self, key: str) -> Environment:
        for env in self.environments:
            if env.key == key:
                return env
        known = ", ".join(e.key for e in self.environments)
        raise Problem(404, f"unknown environment {key[:60]!r}; known: {known}", field="environment")

    def env_version(self, environment: str) -> int:
        return self.model.env_version[environment]

    def list_etag(self, environment: str, version: int | None = None) -> str:
        v = self.model.env_version[environment] if version is None else version
        return f'"{self.instance}.{environment}.{v}"'

    def flag(self, key: str) -> Flag:
        flag = self.model.flags.get(key)
        if flag is not None:
            return flag
        if key in self.model.archived:
            raise Problem(404, f"flag {key[:100]!r} is archived", field="key", extra={"archived": True})
        raise Problem(404, f"no flag {key[:100]!r}", field="key")

    def live_flag(self, key: str) -> Flag | None:
        return self.model.flags.get(key)

    def flag_count(self) -> int:
        return len(self.model.flags)

    def flags(self) -> list[Flag]:
        """Every live flag in key order (a new list: O(flags), not for per-request use at scale)."""
        flags = self.model.flags
        return [f for f in (flags.get(k) for k in self.model.order) if f is not None]

    def list_body(self, environment: str) -> tuple[bytes, str]:
        """The GET /v1/flags body for one environment and its ETag."""
        version, body = self.model.list_body(environment)
        return body, self.list_etag(environment, version)

    # --- audit and events ------------------------------------------------------------------------

    def audit(
        self,
        *,
        flag: str | None = None,
        entity: str | None = None,
        environment: str | None = None,
        since_sequence: int | None = None,
        since_time: datetime | None = None,
        limit: int = 100,
        environments: frozenset[str] | None = None,
    ) -> list[AuditEntry]:
        sql, args = audit_query(
            flag=flag,
            entity=entity,
            environment=environment,
            since_sequence=since_sequence,
            since_time=since_time,
            limit=limit,
            environments=environments,
            time_sql=self.db.time_sql,
        )
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        return [row_to_entry(r) for r in rows]

    def verify(self, public_raw: bytes | None, signing_problem: str | None = None) -> dict[str, Any]:
        """GET /v1/audit/verify: chain, head signature, states (audit.verify_database), on a connection and
        snapshot of its own: a long scan must not hold the write lock."""
        with self.db.reader() as db:
            return verify_database(db, public_raw, signing_problem)

    def export(self, public_b64: str, key_id: str) -> dict[str, Any]:
        """GET /v1/audit/export: every audit and state row as stored, with the signed head."""
        with self.db.reader() as db:
            return export_bundle(db, public_b64, key_id)

    def seal(self, seal: Callable[[Engine], str | None]) -> str | None:
        """Run signing.seal_on_start on this store's connection, before the service takes writes."""
        with self._lock:
            return seal(self.db)

    def events_after(self, sequence: int) -> list[Event]:
        """Committed events after `sequence`, oldest first (at most 10,000: call again for more)."""
        recent = list(self._recent)
        if recent and recent[0].id <= sequence + 1:
            start = max(0, sequence + 1 - recent[0].id)  # ids in _recent are consecutive
            return recent[start : start + 10000]
        if sequence >= self.head_sequence:
            return []
        with self._lock:
            rows = self.db.execute(
                "SELECT * FROM audit WHERE sequence>? ORDER BY sequence LIMIT 10000", (sequence,)
            ).fetchall()
        return [self.event(row_to_entry(r)) for r in rows]

    def event(self, entry: AuditEntry) -> Event:
        flag = self.model.flags.get(entry.flag_key) or self.model.archived.get(entry.flag_key)
        return make_event(entry, flag)

    def close(self) -> None:
        with self._lock:
            self.db.close()
