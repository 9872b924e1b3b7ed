"""The store's write discipline, shared by every flag write (store.py).

A write runs under the database-wide write lock in one transaction (`_write`): a replayed Idempotency-Key
returns the stored response (`_replay`); If-Match is checked against the current version (`_check_version`);
the state change, its audit entry (hash-chained onto the head, `_audit`), the environments' list versions
(`_bump`) and the idempotency record (`_remember`) commit together or not at all; and `_commit` publishes to
memory only after the commit is durable, so an acknowledged write survives SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flagops.model import AuditEntry, ChangeOrigin, Flag, FlagState
from flagops.server.audit import GENESIS, entry_hash, row_to_entry
from flagops.server.flag_rows import compact_json, state_data
from flagops.server.limits import stored_json
from flagops.server.problems import Problem
from flagops.server.readmodel import Published
from flagops.server.store_reads import StoreReads
from flagops.v1 import wire


@dataclass(frozen=True)
class Idem:
    """An Idempotency-Key and the fingerprint of the request it was sent with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class AlsoWrite:
    """More rows for a flag write's own transaction (governance: the review a break-glass kill opens, the
    change request an apply closes): `note` joins the flag row's audit `after`; `write` runs after the flag
    row, inside the transaction, and returns the audit entries it added."""

    write: Callable[[FlagState, AuditEntry], list[AuditEntry]]
    note: dict[str, Any] | None = None


@dataclass(frozen=True)
class WriteResult:
    status: int
    body: dict[str, Any]
    etag: str | None
    replayed: bool = False
    sequence: int | None = None  # the audit sequence this write produced (None: no-op or replay)


class StoreTransactions(StoreReads):
    """The steps every write takes, in its transaction (see the module docstring); no write of its own."""

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
                extra={"currentVersion": state.version, "current": state_data(state)},
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
            compact_json(before),
            compact_json(after),
            compact_json(wire.origin_to_json(origin)),
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
                (
                    actor,
                    idem.key,
                    idem.fingerprint,
                    result.status,
                    compact_json(result.body),
                    result.etag,
                    wire.iso(at),
                ),
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
