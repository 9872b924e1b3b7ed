"""The audit log on the service side: reading rows as entries, the query behind GET /v1/audit, and the
integrity check and signed export (the checks themselves live in flagops/audit_chain.py, shared with the
client, which verifies exported bundles on its own).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flagops.audit_chain import BUNDLE_FORMAT, COLUMNS, GENESIS, ChainWalk, entry_hash, verify_rows
from flagops.model import AuditEntry, AuditVerification
from flagops.server.limits import stored_json
from flagops.v1 import wire

__all__ = [
    "GENESIS",
    "audit_query",
    "entry_hash",
    "export_bundle",
    "open_readonly",
    "row_to_entry",
    "verification_json",
    "verify_database",
    "verify_rows",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # shown for a stored time that cannot be read


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the database file. The URI is built by pathlib, which percent-encodes
    the path: a `#`, `?` or `%` in it must stay part of the file name, never start a URI fragment or
    query (`--db 'x?mode=rwc&vfs=...'` must not open something else)."""
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)


def row_to_entry(row: tuple[Any, ...]) -> AuditEntry:
    """An audit row as an entry, whatever the row holds: values that cannot be served (nested too deep, not
    JSON, a time out of range) become placeholders here, so one bad row never fails a whole audit page.
    The hash chain is checked on the stored text (verify_rows), never on these."""
    try:
        at = wire.parse_time(row[1], "at") or _EPOCH
        at.astimezone(UTC)
    except (ValueError, OverflowError):
        at = _EPOCH
    try:
        origin = wire.origin_from_json(stored_json(row[11]))
    except ValueError:
        origin = None
    return AuditEntry(
        sequence=row[0],
        at=at,
        actor=row[2],
        action=row[3],
        flag_key=row[4],
        environment=row[5],
        reason=row[6],
        ticket=row[7],
        idempotency_key=row[8],
        before=stored_json(row[9]),
        after=stored_json(row[10]),
        origin=origin,
        prev_hash=row[12],
        hash=row[13],
        entity=row[14] if len(row) > 14 and row[14] else f"flag:{row[4]}",
        change_request=row[15] if len(row) > 15 else None,
    )


def verification_json(v: AuditVerification) -> dict[str, Any]:
    return {"ok": v.ok, "checked": v.checked, "brokenAt": v.broken_at, "problem": v.problem}


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _meta(db: Any) -> dict[str, str]:
    return dict(db.execute("SELECT key, value FROM meta"))


def verify_database(db: Any, public_raw: bytes | None, signing_problem: str | None = None) -> dict[str, Any]:
    """GET /v1/audit/verify: the chain, then the head's signature, then every state row against the audit.
    `ok` is true only when all three hold; `problem` names the first that does not. `db`: a connection of its
    own inside one read snapshot (engine.reader()), SQLite or PostgreSQL, so a write committed during the
    scan cannot look like tampering."""
    from flagops.audit_chain import signature_ok

    meta = _meta(db)
    walk = ChainWalk()
    for row in db.execute("SELECT * FROM audit ORDER BY sequence"):
        if not walk.add(row):
            break
    chain = walk.result(meta.get("head"))
    body = verification_json(chain)
    signature: dict[str, Any] = {"keyId": None, "ok": None, "signedFrom": _int(meta.get("signed_from"))}
    if public_raw is not None:
        from flagops.audit_chain import key_id

        signature["keyId"] = key_id(public_raw)
        last = walk.last
        signature["ok"] = last is None or signature_ok(
            public_raw, meta.get("instance", ""), last[0], last[13], meta.get("head_sig")
        )
    body["signature"] = signature
    states_checked, state_problem = (0, None)
    if chain.ok:
        states_checked, state_problem = walk.state_problem(
            db.execute("SELECT flag, environment, version, data FROM states ORDER BY flag, environment")
        )
    body["states"] = {"checked": states_checked, "ok": chain.ok and state_problem is None}
    if chain.ok and signature["ok"] is False:
        body.update(
            ok=False,
            brokenAt=walk.last[0] if walk.last else None,
            problem=signing_problem
            or f"the audit head (entry {walk.last[0] if walk.last else 0}) is "
            f"not signed by this service's key {signature['keyId']}: the log was rewritten (its hashes "
            "recomputed) or the database was changed outside the service",
        )
    elif chain.ok and state_problem is not None:
        body.update(ok=False, problem=state_problem)
    return body


def export_bundle(db: Any, public_b64: str, key: str) -> dict[str, Any]:
    """GET /v1/audit/export: every audit row and state row exactly as stored, the head and its stored
    signature (made when that head was written; nothing is signed at export time, so exporting a tampered
    database can never bless it). `flagops audit-bundle verify FILE` checks it without the service."""
    meta = _meta(db)  # `db` is in one snapshot (engine.reader()): rows, states and head agree
    entries = [list(r) for r in db.execute("SELECT * FROM audit ORDER BY sequence")]
    states = [
        list(r) for r in db.execute("SELECT flag, environment, version, data FROM states ORDER BY flag, environment")
    ]
    seq, _, digest = meta.get("head", "0:").partition(":")
    return {
        "format": BUNDLE_FORMAT,
        "instance": meta.get("instance"),
        "exportedAt": wire.iso(datetime.now(UTC)),
        "columns": list(COLUMNS),
        "head": {"sequence": int(seq or 0), "hash": digest or None, "signedFrom": _int(meta.get("signed_from"))},
        "signature": {"algorithm": "ed25519", "keyId": key, "publicKey": public_b64, "value": meta.get("head_sig")},
        "entries": entries,
        "states": states,
    }


def audit_query(
    *,
    flag: str | None,
    environment: str | None,
    since_sequence: int | None,
    since_time: datetime | None,
    limit: int,
    environments: frozenset[str] | None,
    time_sql: Callable[[str], str] = lambda expr: f"julianday({expr})",
    entity: str | None = None,
) -> tuple[str, list[Any]]:
    """SQL for GET /v1/audit, newest first; `environments` limits it to what the token may see (its
    environments, plus flag-wide entries such as creations)."""
    # audit_entity (governance_store): what a governance row is about; flag rows have no row there
    sql = "SELECT a.*, e.entity, e.change_request FROM audit a LEFT JOIN audit_entity e ON e.sequence=a.sequence"
    sql += " WHERE 1=1"
    args: list[Any] = []
    if entity is not None:
        kind, _, name = entity.partition(":")
        if kind == "flag":  # every row about the flag: its writes and its change requests and reviews
            sql += " AND a.flag=?"  # segment rows have flag ''
            args.append(name)
        elif kind == "change-request":  # its steps, and the flag write that applied it
            sql += " AND e.change_request=?"
            args.append(name)
        else:
            sql += " AND e.entity=?"
            args.append(entity)
    if flag is not None:
        # the flag's own writes (as before governance): its change request and review rows need entity=flag:KEY
        sql += " AND a.flag=? AND (e.entity IS NULL OR e.entity=?)"
        args += [flag, f"flag:{flag}"]
    if environment is not None:
        sql += " AND a.environment=?"
        args.append(environment)
    if environments is not None:
        sql += f" AND (a.environment IS NULL OR a.environment IN ({','.join('?' * len(environments))}))"
        args.extend(sorted(environments))
    if since_sequence is not None:
        sql += " AND a.sequence>?"
        args.append(since_sequence)
    if since_time is not None:
        sql += f" AND {time_sql('a.at')}>={time_sql('?')}"  # not a string compare: ISO texts vary in precision
        args.append(wire.iso(since_time))
    sql += " ORDER BY a.sequence DESC LIMIT ?"
    args.append(limit)
    return sql, args
