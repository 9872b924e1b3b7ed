"""The audit log's hash chain.

Each row's `hash` is SHA-256 over its stored columns (exactly the text in the database, so re-encoding can
never change a hash) plus the previous row's hash. Changing a row breaks its own hash; deleting one leaves a
gap in the sequence and a `prevHash` that no longer matches; deleting the newest rows is caught by the head
marker (sequence and hash of the newest row) kept in the meta table by the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flagops import wire
from flagops.model import AuditEntry, AuditVerification

GENESIS = "0" * 64


def entry_hash(columns: tuple[Any, ...]) -> str:
    """Hash of (sequence, at, actor, action, flag, environment, reason, ticket, idempotency_key, before,
    after, origin, prev_hash) as stored."""
    return hashlib.sha256(json.dumps(list(columns), separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def row_to_entry(row: tuple[Any, ...]) -> AuditEntry:
    at = wire.parse_time(row[1], "at")
    assert at is not None
    return AuditEntry(sequence=row[0], at=at, actor=row[2], action=row[3], flag_key=row[4], environment=row[5],
                      reason=row[6], ticket=row[7], idempotency_key=row[8],
                      before=json.loads(row[9]) if row[9] else None, after=json.loads(row[10]) if row[10] else None,
                      origin=wire.origin_from_json(json.loads(row[11])) if row[11] else None,
                      prev_hash=row[12], hash=row[13])


def verify_rows(rows: Iterable[tuple[Any, ...]], head: str | None) -> AuditVerification:
    """Walk the chain from the first row; report the first row that does not verify, and why."""
    expected_seq = 1
    prev = GENESIS
    checked = 0
    last: tuple[Any, ...] | None = None
    for row in rows:
        seq = row[0]
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            return AuditVerification(False, checked, broken_at=expected_seq,
                                     problem=f"entry {missing} is missing (deleted)")
        if row[12] != prev:
            return AuditVerification(False, checked, broken_at=seq,
                                     problem=f"entry {seq}: prevHash does not match the hash of entry {seq - 1} "
                                             "(an earlier entry was changed or removed)")
        if entry_hash(tuple(row[:13])) != row[13]:
            return AuditVerification(False, checked, broken_at=seq,
                                     problem=f"entry {seq} was changed after it was written (hash mismatch)")
        prev = row[13]
        expected_seq += 1
        checked += 1
        last = row
    if head is not None:
        head_seq, _, head_hash = head.partition(":")
        if last is None or int(head_seq) != last[0] or head_hash != last[13]:
            got = last[0] if last is not None else 0
            return AuditVerification(False, checked, broken_at=got + 1,
                                     problem=f"entries after {got} are missing (deleted); the log's head was "
                                             f"entry {head_seq}")
    return AuditVerification(True, checked)


def verification_json(v: AuditVerification) -> dict[str, Any]:
    return {"ok": v.ok, "checked": v.checked, "brokenAt": v.broken_at, "problem": v.problem}


def audit_query(*, flag: str | None, environment: str | None, since_sequence: int | None,
                since_time: datetime | None, limit: int, environments: frozenset[str] | None,
                time_sql: Callable[[str], str] = lambda expr: f"julianday({expr})") -> tuple[str, list[Any]]:
    """SQL for GET /v1/audit, newest first; `environments` limits it to what the token may see (its
    environments, plus flag-wide entries such as creations)."""
    sql = "SELECT * FROM audit WHERE 1=1"
    args: list[Any] = []
    if flag is not None:
        sql += " AND flag=?"
        args.append(flag)
    if environment is not None:
        sql += " AND environment=?"
        args.append(environment)
    if environments is not None:
        sql += f" AND (environment IS NULL OR environment IN ({','.join('?' * len(environments))}))"
        args.extend(sorted(environments))
    if since_sequence is not None:
        sql += " AND sequence>?"
        args.append(since_sequence)
    if since_time is not None:
        sql += f" AND {time_sql('at')}>={time_sql('?')}"  # not a string compare: ISO texts vary in precision
        args.append(wire.iso(since_time))
    sql += " ORDER BY sequence DESC LIMIT ?"
    args.append(limit)
    return sql, args
