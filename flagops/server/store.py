"""The service's state: SQLite (WAL, synchronous=FULL) as the record, an in-memory copy for reads.

Every write runs under one lock in one transaction: the state change, its history row, the audit entry
(hash-chained), the environment's list version and the idempotency record commit together or not at all,
and the commit is fsynced before the caller sees success, so an acknowledged write survives SIGKILL.
Reads (the flag list, one flag) never touch SQLite: they come from memory, and the list body of each
environment is cached per list version, so listing 10,000 flags repeatedly is a dictionary lookup.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flagops import wire
from flagops.model import AuditEntry, ChangeOrigin, Environment, Flag, FlagState, StateChange
from flagops.server.audit import GENESIS, audit_query, entry_hash, export_bundle, row_to_entry, verify_database
from flagops.server.codec import flag_json
from flagops.server.events import Event, make_event
from flagops.server.limits import load_bounded, stored_json
from flagops.server.problems import Problem

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS environments (key TEXT PRIMARY KEY, name TEXT NOT NULL, protected INTEGER NOT NULL,
    position INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (key TEXT PRIMARY KEY, meta TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS states (flag TEXT NOT NULL, environment TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (flag, environment));
CREATE TABLE IF NOT EXISTS state_history (flag TEXT NOT NULL, environment TEXT NOT NULL, version INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (flag, environment, version));
CREATE TABLE IF NOT EXISTS audit (sequence INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, flag TEXT NOT NULL, environment TEXT, reason TEXT NOT NULL, ticket TEXT,
    idempotency_key TEXT, before TEXT, after TEXT, origin TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_flag ON audit (flag, sequence);
CREATE TABLE IF NOT EXISTS idempotency (actor TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, etag TEXT, created_at TEXT NOT NULL, PRIMARY KEY (actor, key));
"""

DEFAULT_ENVIRONMENTS = (Environment("dev", "Development"), Environment("staging", "Staging"),
                        Environment("prod", "Production", protected=True))


@dataclass(frozen=True)
class Idem:
    """An Idempotency-Key and the fingerprint of the request it was sent with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class WriteResult:
    status: int
    body: dict[str, Any]
    etag: str | None
    replayed: bool = False
    sequence: int | None = None  # the audit sequence this write produced (None: no-op or replay)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _state_data(state: FlagState) -> dict[str, Any]:
    return wire.state_to_json(state)


class Store:
    def __init__(self, path: Path, on_commit: Callable[[], None] | None = None) -> None:
        self.path = path
        self.on_commit = on_commit
        # signs each new audit head in the write's own transaction (signing.Signer.sign); None: unsigned
        self.sign_head: Callable[[str, int, str], str] | None = None
        self._lock = threading.RLock()
        self._pending: list[AuditEntry] = []  # audit entries of the open transaction
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged write survives a killed process
        # and a power cut (NORMAL would only survive the former).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='instance'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('instance', ?)", (secrets.token_hex(4),))
                self._db.executemany("INSERT INTO environments VALUES (?,?,?,?,0)",
                                     [(e.key, e.name, int(e.protected), i)
                                      for i, e in enumerate(DEFAULT_ENVIRONMENTS)])
            self.instance = self._db.execute("SELECT value FROM meta WHERE key='instance'").fetchone()[0]
            # Idempotency-Keys are remembered for a day: long enough for any retry, short enough to stay small
            self._db.execute("DELETE FROM idempotency WHERE julianday(created_at) < julianday('now') - 1")
            self._load()

    # --- loading and in-memory reads -------------------------------------------------------------

    def _load(self) -> None:
        envs = self._db.execute("SELECT key, name, protected, version FROM environments ORDER BY position").fetchall()
        self.environments = [Environment(k, n, bool(p)) for k, n, p, _ in envs]
        self._env_keys = {e.key for e in self.environments}
        self._env_version = {k: v for k, _, _, v in envs}
        states: dict[str, dict[str, FlagState]] = {}
        for flag_key, env, data in self._db.execute("SELECT flag, environment, data FROM states"):
            states.setdefault(flag_key, {})[env] = wire.state_from_json(env, json.loads(data))
        self._flags: dict[str, Flag] = {}
        self._archived: dict[str, Flag] = {}
        for key, meta, archived in self._db.execute("SELECT key, meta, archived FROM flags"):
            # bounded: a variant value stored before nesting was limited must not break every list read
            flag = replace(wire.flag_from_json(load_bounded(meta)), states=states.get(key, {}))
            (self._archived if archived else self._flags)[key] = flag
        self._order: tuple[str, ...] = tuple(sorted(self._flags))
        self._recent: deque[Event] = deque(maxlen=20000)  # newest events, so live delivery never reads SQLite
        self._fragments: dict[tuple[str, str], tuple[Flag, str]] = {}  # (key, env) -> (flag, its JSON)
        self._list_cache: dict[str, tuple[int, bytes]] = {}
        head = self._db.execute("SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1").fetchone()
        self.head_sequence: int = head[0] if head else 0
        self._head_hash: str = head[1] if head else GENESIS

    def environment(self, key: str) -> Environment:
        for env in self.environments:
            if env.key == key:
                return env
        known = ", ".join(e.key for e in self.environments)
        raise Problem(404, f"unknown environment {key[:60]!r}; known: {known}", field="environment")

    def env_version(self, environment: str) -> int:
        return self._env_version[environment]

    def list_etag(self, environment: str, version: int | None = None) -> str:
        v = self._env_version[environment] if version is None else version
        return f'"{self.instance}.{environment}.{v}"'

    def flag(self, key: str) -> Flag:
        flag = self._flags.get(key)
        if flag is not None:
            return flag
        if key in self._archived:
            raise Problem(404, f"flag {key[:100]!r} is archived", field="key", extra={"archived": True})
        raise Problem(404, f"no flag {key[:100]!r}", field="key")

    def live_flag(self, key: str) -> Flag | None:
        return self._flags.get(key)

    def flags(self) -> list[Flag]:
        return [self._flags[k] for k in self._order]

    def list_body(self, environment: str) -> tuple[bytes, str]:
        """The GET /v1/flags body for one environment and its ETag, cached per list version."""
        version = self._env_version[environment]  # read before the content: content is never older
        cached = self._list_cache.get(environment)
        if cached is not None and cached[0] == version:
            return cached[1], self.list_etag(environment, version)
        parts = []
        for key in self._order:
            flag = self._flags.get(key)
            if flag is None:
                continue
            cached_frag = self._fragments.get((key, environment))
            # Flag objects are immutable and replaced on every change, so identity says "still current";
            # a writer thread may replace the flag while this loop runs, and a stale fragment must not stick
            if cached_frag is not None and cached_frag[0] is flag:
                parts.append(cached_frag[1])
                continue
            frag = _dumps(flag_json(flag, environment))
            self._fragments[(key, environment)] = (flag, frag)
            parts.append(frag)
        body = ('{"environment":%s,"version":%d,"flags":[%s]}'
                % (_dumps(environment), version, ",".join(parts))).encode()
        self._list_cache[environment] = (version, body)
        return body, self.list_etag(environment, version)

    # --- writes ----------------------------------------------------------------------------------

    def _replay(self, actor: str, idem: Idem | None) -> WriteResult | None:
        if idem is None:
            return None
        row = self._db.execute("SELECT fingerprint, status, body, etag FROM idempotency WHERE actor=? AND key=?",
                               (actor, idem.key)).fetchone()
        if row is None:
            return None
        if row[0] != idem.fingerprint:
            raise Problem(422, "Idempotency-Key was already used with a different request; use a new key "
                          "for a new change", field="Idempotency-Key", title="Idempotency key reused")
        return WriteResult(status=row[1], body=stored_json(row[2]), etag=row[3], replayed=True)

    def _check_version(self, state: FlagState, if_match: int | None, key: str) -> None:
        if if_match is None:
            raise Problem(428, "If-Match is required: send the version you last saw (the ETag) so a stale "
                          "view never overwrites someone else's change", field="If-Match")
        if if_match != state.version:
            raise Problem(412, f"{key} in {state.environment} changed: you sent If-Match {if_match}, the current "
                          f"version is {state.version}; review the current state and retry",
                          field="If-Match",
                          extra={"currentVersion": state.version, "current": _state_data(state)})

    def _audit(self, *, at: datetime, actor: str, action: str, flag: str, environment: str | None, reason: str,
               ticket: str | None, idem: Idem | None, before: Any, after: Any,
               origin: ChangeOrigin | None) -> AuditEntry:
        seq = self.head_sequence + 1 if not self._pending else self._pending[-1].sequence + 1
        prev = self._head_hash if not self._pending else (self._pending[-1].hash or GENESIS)
        columns = (seq, wire.iso(at), actor, action, flag, environment, reason, ticket, idem.key if idem else None,
                   _dumps(before), _dumps(after), _dumps(wire.origin_to_json(origin)), prev)
        digest = entry_hash(columns)
        self._db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (*columns, digest))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (f"{seq}:{digest}",))
        if self.sign_head is not None:  # the anchor outside the database: see flagops/audit_chain.py
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('head_sig', ?)",
                             (self.sign_head(self.instance, seq, digest),))
        entry = row_to_entry((*columns, digest))
        self._pending.append(entry)
        return entry

    def _bump(self, environments: list[str]) -> None:
        for env in environments:
            self._db.execute("UPDATE environments SET version = version + 1 WHERE key=?", (env,))

    def _remember(self, actor: str, idem: Idem | None, result: WriteResult, at: datetime) -> None:
        if idem is not None:
            self._db.execute("INSERT INTO idempotency VALUES (?,?,?,?,?,?,?)", (
                actor, idem.key, idem.fingerprint, result.status, _dumps(result.body), result.etag, wire.iso(at)))

    def _commit(self, entries: list[AuditEntry], flags: list[Flag], archived: list[str], envs: list[str]) -> None:
        """COMMIT (fsynced), then publish the new state to memory: content first, versions last."""
        self._db.execute("COMMIT")
        for flag in flags:
            self._flags[flag.key] = flag
        for key in archived:
            self._archived[key] = self._flags.pop(key)
            for env in envs:
                self._fragments.pop((key, env), None)
        if flags or archived:
            self._order = tuple(sorted(self._flags))
        for env in envs:
            self._env_version[env] += 1
        for entry in entries:
            self._recent.append(self.event(entry))
        if entries:
            self.head_sequence = entries[-1].sequence
            self._head_hash = entries[-1].hash or GENESIS
        if entries and self.on_commit is not None:
            self.on_commit()

    def _write(self, fn: Callable[[], WriteResult]) -> WriteResult:
        with self._lock:
            self._pending = []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                return fn()
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._pending = []

    def patch(self, key: str, environment: str, change: StateChange, *, if_match: int | None, actor: str,
              reason: str, ticket: str | None = None, origin: ChangeOrigin | None = None,
              idem: Idem | None = None) -> WriteResult:
        def run() -> WriteResult:
            current = self._replay_or_current(actor, idem, key, environment, if_match)
            if isinstance(current, WriteResult):
                return current
            flag, state = current
            return self._apply_state(flag, state, state.with_changes(change), action="flag.updated",
                                     actor=actor, reason=reason, ticket=ticket, origin=origin, idem=idem)
        return self._write(run)

    def restore(self, key: str, environment: str, to_version: int, *, if_match: int | None, actor: str,
                reason: str, ticket: str | None = None, origin: ChangeOrigin | None = None,
                idem: Idem | None = None) -> WriteResult:
        def run() -> WriteResult:
            current = self._replay_or_current(actor, idem, key, environment, if_match)
            if isinstance(current, WriteResult):
                return current
            flag, state = current
            row = self._db.execute("SELECT data FROM state_history WHERE flag=? AND environment=? AND version=?",
                                   (key, environment, to_version)).fetchone()
            if row is None:
                raise Problem(422, f"toVersion: {key} in {environment} has no version {to_version} "
                              f"(current: {state.version})", field="toVersion")
            old = wire.state_from_json(environment, json.loads(row[0]))
            target = replace(state, enabled=old.enabled, rollout=old.rollout, rules=old.rules,
                             default_variant=old.default_variant, off_variant=old.off_variant)
            return self._apply_state(flag, state, target, action="flag.restored", actor=actor, reason=reason,
                                     ticket=ticket, origin=origin, idem=idem, restored_from=to_version)
        return self._write(run)

    def _replay_or_current(self, actor: str, idem: Idem | None, key: str, environment: str,
                           if_match: int | None) -> WriteResult | tuple[Flag, FlagState]:
        """Inside a write transaction: the stored response of a replayed Idempotency-Key, or the flag and
        its state in `environment` after checking If-Match (raises a Problem for unknown or stale)."""
        replay = self._replay(actor, idem)
        if replay is not None:
            self._db.execute("ROLLBACK")
            return replay
        flag = self.flag(key)
        self.environment(environment)
        state = flag.states[environment]
        self._check_version(state, if_match, key)
        return flag, state

    def _apply_state(self, flag: Flag, state: FlagState, target: FlagState, *, action: str, actor: str,
                     reason: str, ticket: str | None, origin: ChangeOrigin | None, idem: Idem | None,
                     restored_from: int | None = None) -> WriteResult:
        env = state.environment
        if target == state:  # nothing would change: no new version, no audit entry, say so
            result = WriteResult(200, {**flag_json(flag, env), "noop": True}, f'"{state.version}"')
            self._remember(actor, idem, result, _now())
            self._db.execute("COMMIT")
            return result
        now = _now()
        new_state = replace(target, version=state.version + 1, updated_at=now, updated_by=actor)
        data = _state_data(new_state)
        self._db.execute("UPDATE states SET version=?, data=? WHERE flag=? AND environment=?",
                         (new_state.version, _dumps(data), flag.key, env))
        self._db.execute("INSERT INTO state_history VALUES (?,?,?,?)", (flag.key, env, new_state.version, _dumps(data)))
        after = dict(data, restoredFrom=restored_from) if restored_from is not None else data
        entry = self._audit(at=now, actor=actor, action=action, flag=flag.key, environment=env, reason=reason,
                            ticket=ticket, idem=idem, before=_state_data(state), after=after, origin=origin)
        self._bump([env])
        new_flag = replace(flag, states={**flag.states, env: new_state})
        result = WriteResult(200, flag_json(new_flag, env), f'"{new_state.version}"', sequence=entry.sequence)
        self._remember(actor, idem, result, now)
        self._commit([entry], [new_flag], [], [env])
        return result

    def create(self, flag: Flag, *, actor: str, reason: str, origin: ChangeOrigin | None = None,
               idem: Idem | None = None) -> WriteResult:
        def run() -> WriteResult:
            replay = self._replay(actor, idem)
            if replay is not None:
                self._db.execute("ROLLBACK")
                return replay
            if flag.key in self._flags or flag.key in self._archived:
                raise Problem(409, f"a flag with key {flag.key!r} already exists"
                              + (" (archived)" if flag.key in self._archived else ""), field="key")
            entry = self._insert_flag(flag, actor, reason, origin, idem)
            result = WriteResult(201, flag_json(self._stamped(flag, actor)), None, sequence=entry.sequence)
            self._remember(actor, idem, result, entry.at)
            self._commit([entry], [self._stamped(flag, actor)], [], [e.key for e in self.environments])
            return result
        return self._write(run)

    def _stamped(self, flag: Flag, actor: str) -> Flag:
        return replace(flag, states={k: replace(s, updated_by=actor) for k, s in flag.states.items()})

    def _insert_flag(self, flag: Flag, actor: str, reason: str, origin: ChangeOrigin | None,
                     idem: Idem | None) -> AuditEntry:
        flag = self._stamped(flag, actor)
        meta = wire.flag_to_json(replace(flag, states={}))
        meta.pop("environments")
        self._db.execute("INSERT INTO flags VALUES (?,?,0)", (flag.key, _dumps(meta)))
        for env, state in flag.states.items():
            data = _dumps(_state_data(state))
            self._db.execute("INSERT INTO states VALUES (?,?,?,?)", (flag.key, env, state.version, data))
            self._db.execute("INSERT INTO state_history VALUES (?,?,?,?)", (flag.key, env, state.version, data))
        self._bump([e.key for e in self.environments])
        return self._audit(at=flag.created_at or _now(), actor=actor, action="flag.created", flag=flag.key,
                           environment=None, reason=reason, ticket=flag.ticket, idem=idem, before=None,
                           after=flag_json(flag), origin=origin)

    def seed(self, flags: list[Flag], actor: str, reason: str) -> None:
        """Bulk-create (the demo data) in one transaction."""
        def run() -> WriteResult:
            entries = [self._insert_flag(f, actor, reason, None, None) for f in flags
                       if not (f.key in self._flags or f.key in self._archived)]
            self._db.execute("COMMIT")
            self._load()
            if entries and self.on_commit is not None:
                self.on_commit()
            return WriteResult(201, {}, None)
        self._write(run)

    def archive(self, key: str, *, actor: str, reason: str, ticket: str | None = None,
                origin: ChangeOrigin | None = None, idem: Idem | None = None) -> WriteResult:
        def run() -> WriteResult:
            replay = self._replay(actor, idem)
            if replay is not None:
                self._db.execute("ROLLBACK")
                return replay
            flag = self.flag(key)
            archived = replace(flag, archived=True)
            meta = wire.flag_to_json(replace(archived, states={}))
            meta.pop("environments")
            self._db.execute("UPDATE flags SET archived=1, meta=? WHERE key=?", (_dumps(meta), key))
            now = _now()
            entry = self._audit(at=now, actor=actor, action="flag.archived", flag=key, environment=None,
                                reason=reason, ticket=ticket, idem=idem, before=flag_json(flag),
                                after={"archived": True}, origin=origin)
            envs = [e.key for e in self.environments]
            self._bump(envs)
            result = WriteResult(200, flag_json(archived), None, sequence=entry.sequence)
            self._remember(actor, idem, result, now)
            self._flags[key] = archived  # _commit moves it to the archive
            self._commit([entry], [], [key], envs)
            return result
        return self._write(run)

    # --- audit and events ------------------------------------------------------------------------

    def audit(self, *, flag: str | None = None, environment: str | None = None, since_sequence: int | None = None,
              since_time: datetime | None = None, limit: int = 100,
              environments: frozenset[str] | None = None) -> list[AuditEntry]:
        sql, args = audit_query(flag=flag, environment=environment, since_sequence=since_sequence,
                                since_time=since_time, limit=limit, environments=environments)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [row_to_entry(r) for r in rows]

    def verify(self, public_raw: bytes | None, signing_problem: str | None = None) -> dict[str, Any]:
        """GET /v1/audit/verify: chain, head signature, states (audit.verify_database; its own connection)."""
        return verify_database(self.path, public_raw, signing_problem)

    def export(self, public_b64: str, key_id: str) -> dict[str, Any]:
        """GET /v1/audit/export: every audit and state row as stored, with the signed head."""
        return export_bundle(self.path, public_b64, key_id)

    def events_after(self, sequence: int) -> list[Event]:
        """Committed events after `sequence`, oldest first (at most 10,000: call again for more)."""
        recent = list(self._recent)
        if recent and recent[0].id <= sequence + 1:
            start = max(0, sequence + 1 - recent[0].id)  # ids in _recent are consecutive
            return recent[start:start + 10000]
        if sequence >= self.head_sequence:
            return []
        with self._lock:
            rows = self._db.execute("SELECT * FROM audit WHERE sequence>? ORDER BY sequence LIMIT 10000",
                                    (sequence,)).fetchall()
        return [self.event(row_to_entry(r)) for r in rows]

    def event(self, entry: AuditEntry) -> Event:
        flag = self._flags.get(entry.flag_key) or self._archived.get(entry.flag_key)
        return make_event(entry, flag)

    def close(self) -> None:
        with self._lock:
            self._db.close()
