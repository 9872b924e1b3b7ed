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

`Store` comes in three layers, each its own module: store_reads.py (opening the database, the in-memory copy,
catching up with replicas, every read), store_transactions.py (the discipline every write follows), and this
module (the flag writes themselves).
"""

from __future__ import annotations

import json
from dataclasses import replace

from flagops.model import AuditEntry, ChangeOrigin, Flag, FlagState, StateChange
from flagops.server.codec import flag_json
from flagops.server.flag_rows import compact_json, encode_flag, meta_text, state_data
from flagops.server.problems import Problem
from flagops.server.readmodel import Published
from flagops.server.store_reads import DEFAULT_ENVIRONMENTS, utc_now
from flagops.server.store_transactions import AlsoWrite, Idem, StoreTransactions, WriteResult
from flagops.v1 import wire

__all__ = ["DEFAULT_ENVIRONMENTS", "AlsoWrite", "Idem", "Store", "WriteResult"]


class Store(StoreTransactions):
    """The flag writes (create, change, restore, archive, the demo seed) on top of the write discipline
    (store_transactions.py) and the reads (store_reads.py)."""

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
            self._remember(actor, idem, result, utc_now())
            self.db.commit()
            return result
        now = utc_now()
        new_state = replace(target, version=state.version + 1, updated_at=now, updated_by=actor)
        data = state_data(new_state)
        text = compact_json(data)
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
            before=state_data(state),
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
        published = encode_flag(self._stamped(flag, actor))
        flag = published.flag
        self.db.execute("INSERT INTO flags VALUES (?,?,0)", (flag.key, published.meta_text))
        for env, state in flag.states.items():
            data = published.state_texts[env]
            self.db.execute("INSERT INTO states VALUES (?,?,?,?)", (flag.key, env, state.version, data))
            self.db.execute("INSERT INTO state_history VALUES (?,?,?,?)", (flag.key, env, state.version, data))
        self._bump([e.key for e in self.environments])
        entry = self._audit(
            at=flag.created_at or utc_now(),
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
            self.db.execute("UPDATE flags SET archived=1, meta=? WHERE key=?", (meta_text(archived), key))
            now = utc_now()
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
