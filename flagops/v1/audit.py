"""The v1 audit entry: as the service stores and serves it (`AuditRecord`), and as the client reads it
(`flagops.model.AuditEntry`, with typed snapshots).

On the wire an entry's `before` and `after` are JSON snapshots whose shape depends on the action:
- flag.updated / flag.restored (one environment): a State each; a restore's `after` also has `restoredFrom`;
- flag.created (every environment): `before` null, `after` the whole Flag as created;
- flag.archived (every environment): `before` the whole Flag as it was, `after` {"archived": true}.
The service keeps these as stored JSON, because its hash chain covers the stored text exactly. The client
parses them into `FlagState`s (or the whole `Flag`), and `audit_to_json` writes the same shapes back for
`--json` output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flagops.model import JSON, AuditEntry, ChangeOrigin, Flag, FlagState
from flagops.v1.wire import (
    _opt_str,
    _str,
    flag_from_json,
    flag_to_json,
    iso,
    origin_from_json,
    origin_to_json,
    parse_time,
    state_from_json,
    state_to_json,
)

ARCHIVED_AFTER = {"archived": True}  # what the service records as an archive's `after`


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit row as the service keeps it: `before`/`after` are the stored JSON snapshots, kept as they
    are (the hash chain and the scoping of flag-wide entries work on them, never on parsed states)."""

    sequence: int
    at: datetime
    actor: str
    action: str
    flag_key: str
    environment: str | None
    reason: str
    ticket: str | None = None
    idempotency_key: str | None = None
    before: JSON = None
    after: JSON = None
    origin: ChangeOrigin | None = None
    prev_hash: str | None = None
    hash: str | None = None
    entity: str | None = None  # "flag:KEY" | "segment:KEY" | "change-request:ID" | "review:ID"; None: flag:KEY
    change_request: str | None = None  # the change request this row belongs to (its steps, and its apply)


def _state(environment: str, snapshot: Any) -> FlagState | None:
    """A snapshot that does not parse (a row cut short by the service's limits) reads as "no snapshot":
    one odd row must not fail a whole audit page."""
    if not isinstance(snapshot, dict):
        return None
    try:
        return state_from_json(environment, snapshot)
    except ValueError:
        return None


def _flag(snapshot: Any) -> Flag | None:
    if not isinstance(snapshot, dict):
        return None
    try:
        return flag_from_json(snapshot)
    except ValueError:
        return None


def audit_from_json(d: Any) -> AuditEntry:
    if not isinstance(d, dict):
        raise ValueError("audit entry: expected an object")
    at = parse_time(d.get("at"), "at")
    if at is None:
        raise ValueError("at: missing")
    action = _str(d, "action", "")
    environment = _opt_str(d, "environment")
    raw_before, raw_after = d.get("before"), d.get("after")
    before = after = None
    flag = None
    restored_from = None
    if action == "flag.created":
        flag = _flag(raw_after)
    elif action == "flag.archived":
        flag = _flag(raw_before)
    elif environment is not None:
        before, after = _state(environment, raw_before), _state(environment, raw_after)
        restored = raw_after.get("restoredFrom") if isinstance(raw_after, dict) else None
        if isinstance(restored, int) and not isinstance(restored, bool):
            restored_from = restored
    return AuditEntry(
        sequence=int(d["sequence"]),
        at=at,
        actor=_str(d, "actor", ""),
        action=action,
        flag_key=_str(d, "flag", ""),
        environment=environment,
        reason=_str(d, "reason", ""),
        ticket=_opt_str(d, "ticket"),
        idempotency_key=_opt_str(d, "idempotencyKey"),
        before=before,
        after=after,
        origin=origin_from_json(d.get("origin")),
        prev_hash=_opt_str(d, "prevHash"),
        hash=_opt_str(d, "hash"),
        restored_from=restored_from,
        flag=flag,
        entity=_opt_str(d, "entity"),
        change_request=_opt_str(d, "changeRequest"),
    )


def _snapshots_to_json(entry: AuditEntry) -> tuple[Any, Any]:
    if entry.action == "flag.created":
        return None, flag_to_json(entry.flag) if entry.flag is not None else None
    if entry.action == "flag.archived":
        if entry.flag is None:
            return None, None
        return flag_to_json(entry.flag), dict(ARCHIVED_AFTER)
    before = state_to_json(entry.before) if entry.before is not None else None
    after = state_to_json(entry.after) if entry.after is not None else None
    if after is not None and entry.restored_from is not None:
        after["restoredFrom"] = entry.restored_from
    return before, after


def audit_json(entry: AuditEntry | AuditRecord, before: Any, after: Any) -> dict[str, Any]:
    """The wire audit entry, with `before`/`after` already in their wire shape (the service passes its
    stored snapshots, scoped to what the token may see)."""
    body = {
        "sequence": entry.sequence,
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "flag": entry.flag_key,
        "environment": entry.environment,
        "reason": entry.reason,
        "ticket": entry.ticket,
        "idempotencyKey": entry.idempotency_key,
        "before": before,
        "after": after,
        "origin": origin_to_json(entry.origin),
        "prevHash": entry.prev_hash,
        "hash": entry.hash,
    }
    if entry.entity is not None:  # the service always knows it (governance); an older source's entry has none
        body.update(entity=entry.entity, changeRequest=entry.change_request)
    return body


def audit_to_json(entry: AuditEntry) -> dict[str, Any]:
    """The entry in the wire shape `audit_from_json` reads (what `flagops audit --json` prints)."""
    return audit_json(entry, *_snapshots_to_json(entry))
