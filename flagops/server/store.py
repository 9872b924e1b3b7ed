"""The service's state: a database as the record (SQLite by default, PostgreSQL for several replicas), an
in-memory copy for reads.

Every write runs under the database-wide write lock in one transaction: the state change, its history row,
the audit entry (hash-chained), the environment's list version and the idempotency record commit together or
not at all, and the commit is durable before the caller sees success, so an acknowledged write survives
SIGKILL. Reads (the flag list, one flag) never touch the database: they come from memory (readmodel.py).

With replicas (engine.shared), another process may have committed since this one last looked: every write
first catches up from the audit log under the lock, so If-Match, idempotency keys and the chain are checked
against the database, not against a stale memory; and a listener catches up as soon as another replica
announces a commit (PostgreSQL NOTIFY), which is how a change on replica A reaches the reads and event
streams of replica B.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flagops.governance import Segment
from flagops.model import AuditEntry, ChangeOrigin, Environment, Flag, FlagState, StateChange
from flagops.server.audit import GENESIS, audit_query, entry_hash, export_bundle, row_to_entry, verify_database
from flagops.server.codec import flag_json
from flagops.server.engine import Engine, open_engine
from flagops.server.events import Event, make_event
from flagops.server.limits import MAX_STORED_DEPTH, load_bounded, stored_json
from flagops.server.problems import Problem
from flagops.server.readmodel import Published, ReadModel
from flagops.v1 import wire

DEFAULT_ENVIRONMENTS = (
    Environment("dev", "Development"),
    Environment("staging", "Staging"),
    Environment("prod", "Production", protected=True),
)


@dataclass(frozen=True)
class Idem:
    """An Idempotency-Key and the fingerprint of the request it was sent with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class AlsoWrite:
    """More rows for a flag write's own transaction (governance_store: the review a break-glass kill opens,
    the change request an apply closes): `note` joins the flag row's audit `after`; `write` runs after the
    flag row, inside the transaction, and returns the audit entries it added."""

    write: Callable[[FlagState, AuditEntry], list[AuditEntry]]
    note: dict[str, Any] | None = None


@dataclass(frozen=True)
class WriteResult:
    status: int
    body: dict[str, Any]
    etag: str | None
    replayed: bool = False
    sequence: int | None = None  # the audit sequence this write produced (None: no-op or replay)


def _now() -> datetime:
    return datetime.now(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _state_data(state: FlagState) -> dict[str, Any]:
    return wire.state_to_json(state)


def _meta_text(flag: Flag) -> str:
    """The flags.meta column: the wire Flag without its states (`environments` is its last member)."""
    meta = wire.flag_to_json(replace(flag, states={}))
    meta.pop("environments")
    return _dumps(meta)


def _published(flag: Flag) -> Published:
    """Fresh JSON texts for every part of a flag."""
    return Published(flag, _meta_text(flag), {env: _dumps(_state_data(s)) for env, s in flag.states.items()})


def _parse_flags(flag_rows: list[Any], state_rows: Iterable[Any]) -> tuple[list[Published], list[Flag]]:
    """Rows of `flags` and `states` as live flags (with the stored JSON texts) and archived ones."""
    texts: dict[str, dict[str, str]] = {}
    for flag_key, env, data in state_rows:
        texts.setdefault(flag_key, {})[env] = data
    live: list[Published] = []
    archived: list[Flag] = []
    for key, meta, is_archived in flag_rows:
        flag_texts = texts.get(key, {})
        states = {env: wire.state_from_json(env, json.loads(t)) for env, t in flag_texts.items()}
        # bounded: a variant value stored before nesting was limited must not break every list read; such a
        # flag is served from a fresh encoding of what was kept, not from the stored text
        flag = replace(wire.flag_from_json(load_bounded(meta)), states=states)
        if is_archived:
            archived.append(flag)
        elif meta.count("[") + meta.count("{") >= MAX_STORED_DEPTH:
            live.append(Published(flag, _meta_text(flag), flag_texts))
        else:
            live.append(Published(flag, meta, flag_texts))
    return live, archived


class Store:
    def __init__(self, db: str | Path | Engine, on_commit: Callable[[], None] | None = None) -> None:
        self.db: Engine = open_engine(db) if isinstance(db, (str, Path)) else db
        self.on_commit = on_commit
        # signs each new audit head in the write's own transaction (signing.Signer.sign); None: unsigned
        self.sign_head: Callable[[str, int, str], str] | None = None
        self._lock = threading.RLock()  # one user of the connection at a time, one writer in this process
        self._pending: list[AuditEntry] = []  # audit entries of the open transaction
        self.model = ReadModel()
        self._recent: deque[Event] = deque(maxlen=20000)  # newest events, so live delivery never reads the db
        self.segments: dict[str, Segment] = {}  # key -> segment, for evaluation (governance_store keeps it)
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
                cutoff = wire.iso(_now() - timedelta(days=1))
                self.db.execute(
                    f"DELETE FROM idempotency WHERE {self.db.time_sql('created_at')} < {self.db.time_sql('?')}",
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
        live, archived = _parse_flags(
            self.db.execute("SELECT key, meta, archived FROM flags").fetchall(),
            self.db.execute("SELECT flag, environment, data FROM states"),
        )
        if live and not all(_published(p.flag) == p for p in (live[0], live[-1])):
            # written by a version of flagops whose JSON differs from this one's: serve this one's
            live = [_published(p.flag) for p in live]
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
            versions = {k: v for k, v in self.db.execute("SELECT key, version FROM environments")}
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
        marks = ",".join("?" * len(keys))
        return _parse_flags(
            self.db.execute(f"SELECT key, meta, archived FROM flags WHERE key IN ({marks})", keys).fetchall(),
            self.db.execute(f"SELECT flag, environment, data FROM states WHERE flag IN ({marks})", keys),
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

    # --- writes ----------------------------------------------------------------------------------

    def _replay(self, actor: str, idem: Idem | None) -> WriteResult | None:
        if idem is None:
            return None
        row = self.db.execute(
            "SELECT fingerprint, status, body, etag FROM idempotency WHERE actor=? AND key=?", (actor, idem.key)
        ).fetchone()
        if row is None:
            return None
        if row[0] != idem.fingerprint:
            raise Problem(
                422,
                "Idempotency-Key was already used with a different request; use a new key for a new change",
                field="Idempotency-Key",
                title="Idempotency key reused",
            )
        return WriteResult(status=row[1], body=stored_json(row[2]), etag=row[3], replayed=True)

    def _check_version(self, state: FlagState, if_match: int | None, key: str) -> None:
        if if_match is None:
            raise Problem(
                428,
                "If-Match is required: send the version you last saw (the ETag) so a stale "
                "view never overwrites someone else's change",
                field="If-Match",
            )
        if if_match != state.version:
            raise Problem(
                412,
                f"{key} in {state.environment} changed: you sent If-Match {if_match}, the current "
                f"version is {state.version}; review the current state and retry",
                field="If-Match",
                extra={"currentVersion": state.version, "current": _state_data(state)},
            )

    def _audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        flag: str,
        environment: str | None,
        reason: str,
        ticket: str | None,
        idem: Idem | None,
        before: Any,
        after: Any,
        origin: ChangeOrigin | None,
    ) -> AuditEntry:
        seq = self.head_sequence + 1 if not self._pending else self._pending[-1].sequence + 1
        prev = self._head_hash if not self._pending else (self._pending[-1].hash or GENESIS)
        columns = (
            seq,
            wire.iso(at),
            actor,
            action,
            flag,
            environment,
            reason,
            ticket,
            idem.key if idem else None,
            _dumps(before),
            _dumps(after),
            _dumps(wire.origin_to_json(origin)),
            prev,
        )
        digest = entry_hash(columns)
        self.db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (*columns, digest))
        self.db.execute(
            "INSERT INTO meta VALUES ('head', ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
            (f"{seq}:{digest}",),
        )
        if self.sign_head is not None:  # the anchor outside the database: see flagops/audit_chain.py
            self.db.execute(
                "INSERT INTO meta VALUES ('head_sig', ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                (self.sign_head(self.instance, seq, digest),),
            )
        entry = row_to_entry((*columns, digest))
        self._pending.append(entry)
        return entry

    def _bump(self, environments: list[str]) -> None:
        for env in environments:
            self.db.execute("UPDATE environments SET version = version + 1 WHERE key=?", (env,))

    def _remember(self, actor: str, idem: Idem | None, result: WriteResult, at: datetime) -> None:
        if idem is not None:
            self.db.execute(
                "INSERT INTO idempotency VALUES (?,?,?,?,?,?,?)",
                (actor, idem.key, idem.fingerprint, result.status, _dumps(result.body), result.etag, wire.iso(at)),
            )

    def _commit(
        self, entries: list[AuditEntry], changed: list[Published], archived: list[Flag], envs: list[str]
    ) -> None:
        """COMMIT (durable), then publish the new state to memory: content first, versions last."""
        if entries:
            self.db.announce(entries[-1].sequence)
        self.db.commit()
        self.model.publish(changed, archived, {env: self.model.env_version[env] + 1 for env in envs})
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
            self.db.begin_write()
            try:
                if self.db.shared:
                    self._catch_up()
                return fn()
            except BaseException:
                self.db.rollback()
                raise
            finally:
                self._pending = []

    def patch(
        self,
        key: str,
        environment: str,
        change: StateChange,
        *,
        if_match: int | None,
        actor: str,
        reason: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
        idem: Idem | None = None,
        also: AlsoWrite | None = None,
    ) -> WriteResult:
        def run() -> WriteResult:
            current = self._replay_or_current(actor, idem, key, environment, if_match)
            if isinstance(current, WriteResult):
                return current
            flag, state = current
            return self._apply_state(
                flag,
                state,
                state.with_changes(change),
                action="flag.updated",
                actor=actor,
                reason=reason,
                ticket=ticket,
                origin=origin,
                idem=idem,
                also=also,
            )

        return self._write(run)

    def restore(
        self,
        key: str,
        environment: str,
        to_version: int,
        *,
        if_match: int | None,
        actor: str,
        reason: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
        idem: Idem | None = None,
        also: AlsoWrite | None = None,
    ) -> WriteResult:
        def run() -> WriteResult:
            current = self._replay_or_current(actor, idem, key, environment, if_match)
            if isinstance(current, WriteResult):
                return current
            flag, state = current
            row = self.db.execute(
                "SELECT data FROM state_history WHERE flag=? AND environment=? AND version=?",
                (key, environment, to_version),
            ).fetchone()
            if row is None:
                raise Problem(
                    422,
                    f"toVersion: {key} in {environment} has no version {to_version} (current: {state.version})",
                    field="toVersion",
                )
            old = wire.state_from_json(environment, json.loads(row[0]))
            target = replace(
                state,
                enabled=old.enabled,
                rollout=old.rollout,
                rules=old.rules,
                default_variant=old.default_variant,
                off_variant=old.off_variant,
            )
            return self._apply_state(
                flag,
                state,
                target,
                action="flag.restored",
                actor=actor,
                reason=reason,
                ticket=ticket,
                origin=origin,
                idem=idem,
                restored_from=to_version,
                also=also,
            )

        return self._write(run)

    def _replay_or_current(
        self, actor: str, idem: Idem | None, key: str, environment: str, if_match: int | None
    ) -> WriteResult | tuple[Flag, FlagState]:
        """Inside a write transaction: the stored response of a replayed Idempotency-Key, or the flag and
        its state in `environment` after checking If-Match (raises a Problem for unknown or stale)."""
        replay = self._replay(actor, idem)
        if replay is not None:
            self.db.rollback()
            return replay
        flag = self.flag(key)
        self.environment(environment)
        state = flag.states[environment]
        self._check_version(state, if_match, key)
        return flag, state

    def _apply_state(
        self,
        flag: Flag,
        state: FlagState,
        target: FlagState,
        *,
        action: str,
        actor: str,
        reason: str,
        ticket: str | None,
        origin: ChangeOrigin | None,
        idem: Idem | None,
        restored_from: int | None = None,
        also: AlsoWrite | None = None,
    ) -> WriteResult:
        env = state.environment
        if target == state:  # nothing would change: no new version, no audit entry, say so
            result = WriteResult(200, {**flag_json(flag, env), "noop": True}, f'"{state.version}"')
            self._remember(actor, idem, result, _now())
            self.db.commit()
            return result
        now = _now()
        new_state = replace(target, version=state.version + 1, updated_at=now, updated_by=actor)
        data = _state_data(new_state)
        text = _dumps(data)
        updated = self.db.execute(
            "UPDATE states SET version=?, data=? WHERE flag=? AND environment=? AND version=?",
            (new_state.version, text, flag.key, env, state.version),
        )
        if updated.rowcount != 1:  # the database, not memory, has the last word on the version
            raise Problem(
                412,
                f"{flag.key} in {env} was changed by another writer; review the current state and retry",
                field="If-Match",
            )
        self.db.execute("INSERT INTO state_history VALUES (?,?,?,?)", (flag.key, env, new_state.version, text))
        after = dict(data, restoredFrom=restored_from) if restored_from is not None else data
        if also is not None and also.note:
            after = {**after, **also.note}  # e.g. the change request applied: hashed with the row
        entry = self._audit(
            at=now,
            actor=actor,
            action=action,
            flag=flag.key,
            environment=env,
            reason=reason,
            ticket=ticket,
            idem=idem,
            before=_state_data(state),
            after=after,
            origin=origin,
        )
        self._bump([env])
        new_flag = replace(flag, states={**flag.states, env: new_state})
        result = WriteResult(200, flag_json(new_flag, env), f'"{new_state.version}"', sequence=entry.sequence)
        entries = [entry] if also is None else [entry, *also.write(new_state, entry)]
        self._remember(actor, idem, result, now)
        self._commit(entries, [Published(new_flag, None, {env: text})], [], [env])
        return result

    def create(
        self, flag: Flag, *, actor: str, reason: str, origin: ChangeOrigin | None = None, idem: Idem | None = None
    ) -> WriteResult:
        def run() -> WriteResult:
            replay = self._replay(actor, idem)
            if replay is not None:
                self.db.rollback()
                return replay
            if flag.key in self.model.flags or flag.key in self.model.archived:
                raise Problem(
                    409,
                    f"a flag with key {flag.key!r} already exists"
                    + (" (archived)" if flag.key in self.model.archived else ""),
                    field="key",
                )
            entry, published = self._insert_flag(flag, actor, reason, origin, idem)
            result = WriteResult(201, flag_json(published.flag), None, sequence=entry.sequence)
            self._remember(actor, idem, result, entry.at)
            self._commit([entry], [published], [], [e.key for e in self.environments])
            return result

        return self._write(run)

    def _stamped(self, flag: Flag, actor: str) -> Flag:
        return replace(flag, states={k: replace(s, updated_by=actor) for k, s in flag.states.items()})

    def _insert_flag(
        self, flag: Flag, actor: str, reason: str, origin: ChangeOrigin | None, idem: Idem | None
    ) -> tuple[AuditEntry, Published]:
        published = _published(self._stamped(flag, actor))
        flag = published.flag
        self.db.execute("INSERT INTO flags VALUES (?,?,0)", (flag.key, published.meta_text))
        for env, state in flag.states.items():
            data = published.state_texts[env]
            self.db.execute("INSERT INTO states VALUES (?,?,?,?)", (flag.key, env, state.version, data))
            self.db.execute("INSERT INTO state_history VALUES (?,?,?,?)", (flag.key, env, state.version, data))
        self._bump([e.key for e in self.environments])
        entry = self._audit(
            at=flag.created_at or _now(),
            actor=actor,
            action="flag.created",
            flag=flag.key,
            environment=None,
            reason=reason,
            ticket=flag.ticket,
            idem=idem,
            before=None,
            after=flag_json(flag),
            origin=origin,
        )
        return entry, published

    def seed(self, flags: list[Flag], actor: str, reason: str) -> None:
        """Bulk-create (the demo data) in one transaction."""

        def run() -> WriteResult:
            entries = [
                self._insert_flag(f, actor, reason, None, None)[0]
                for f in flags
                if not (f.key in self.model.flags or f.key in self.model.archived)
            ]
            if entries:
                self.db.announce(entries[-1].sequence)
            self.db.commit()
            self._load()
            if entries and self.on_commit is not None:
                self.on_commit()
            return WriteResult(201, {}, None)

        self._write(run)

    def archive(
        self,
        key: str,
        *,
        actor: str,
        reason: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
        idem: Idem | None = None,
    ) -> WriteResult:
        def run() -> WriteResult:
            replay = self._replay(actor, idem)
            if replay is not None:
                self.db.rollback()
                return replay
            flag = self.flag(key)
            archived = replace(flag, archived=True)
            self.db.execute("UPDATE flags SET archived=1, meta=? WHERE key=?", (_meta_text(archived), key))
            now = _now()
            entry = self._audit(
                at=now,
                actor=actor,
                action="flag.archived",
                flag=key,
                environment=None,
                reason=reason,
                ticket=ticket,
                idem=idem,
                before=flag_json(flag),
                after={"archived": True},
                origin=origin,
            )
            envs = [e.key for e in self.environments]
            self._bump(envs)
            result = WriteResult(200, flag_json(archived), None, sequence=entry.sequence)
            self._remember(actor, idem, result, now)
            self._commit([entry], [], [archived], envs)
            return result

        return self._write(run)

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
