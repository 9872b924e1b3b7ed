"""The console's own record of the changes it made through Unleash: an append-only, hash-chained JSONL file.

Unleash OSS stores no change reason, ticket or idempotency key, so flagops keeps them here, in the file the
session names (in the XDG state dir, or `FLAGOPS_STATE_DIR`): an `intent` line before each write (so a crash
mid-write still leaves the reason on record) and an `outcome` line after it with the Unleash event ids the write
produced. The audit view
joins these lines to Unleash's event log by event id. Each line carries the hash of the one before, so an edited,
deleted or reordered line is found by `verify()`. The file is shared by every flagops process on the machine
(appends take an exclusive lock and are fsync'ed) but not across machines.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flagops.model import AuditVerification


def current_actor() -> str:
    """Who is at the keyboard: FLAGOPS_ACTOR, else the OS user (Unleash itself only knows the token's name)."""
    actor = os.environ.get("FLAGOPS_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _digest(prev: str | None, record: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != "hash"}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(((prev or "") + body).encode()).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class ChangeLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"ChangeLog({str(self.path)!r})"

    def _read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                value = {"corrupt": line[:200]}
            records.append(value if isinstance(value, dict) else {"corrupt": str(value)[:200]})
        return records

    def records(self) -> list[dict[str, Any]]:
        return [r for r in self._read() if "corrupt" not in r]

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add `record` (seq, prevHash and hash are filled in) durably; returns what was written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            os.chmod(self.path, 0o600)
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                lines = [line for line in handle.read().splitlines() if line.strip()]
                last: dict[str, Any] = {}
                if lines:
                    try:
                        last = json.loads(lines[-1])
                    except ValueError:
                        last = {}
                full = {**record, "seq": int(last.get("seq", len(lines))) + 1, "prevHash": last.get("hash")}
                full["hash"] = _digest(full["prevHash"], full)
                handle.seek(0, os.SEEK_END)
                handle.write(json.dumps(full, sort_keys=True, separators=(",", ":")) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return full

    def intent(self, **fields: Any) -> dict[str, Any]:
        return self.append(
            {"kind": "intent", "id": uuid.uuid4().hex, "at": now_iso(), "actor": current_actor(), **fields}
        )

    def outcome(self, intent: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
        return self.append({"kind": "outcome", "intent": intent["id"], "at": now_iso(), "status": status, **fields})

    def verify(self) -> AuditVerification:
        prev: str | None = None
        checked = 0
        for index, record in enumerate(self._read(), start=1):
            seq = record.get("seq", index)
            if "corrupt" in record:
                return AuditVerification(False, checked, broken_at=index, problem="line is not valid JSON")
            if record.get("prevHash") != prev:
                return AuditVerification(
                    False,
                    checked,
                    broken_at=int(seq),
                    problem="prevHash does not match the line before (deleted or reordered)",
                )
            if record.get("hash") != _digest(prev, record):
                return AuditVerification(False, checked, broken_at=int(seq), problem="line was changed")
            prev = record.get("hash")
            checked += 1
        return AuditVerification(True, checked)

    def for_server(self, server: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """(intents by id, outcomes by intent id) of changes made against `server`."""
        intents: dict[str, dict[str, Any]] = {}
        outcomes: dict[str, dict[str, Any]] = {}
        for record in self.records():
            if record.get("kind") == "intent" and record.get("server") == server:
                intents[str(record.get("id"))] = record
            elif record.get("kind") == "outcome":
                outcomes[str(record.get("intent"))] = record
        return intents, {k: v for k, v in outcomes.items() if k in intents}

    def by_idempotency_key(self, server: str, key: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        intents, outcomes = self.for_server(server)
        for intent in reversed(list(intents.values())):
            if intent.get("idempotencyKey") == key:
                return intent, outcomes.get(str(intent["id"]))
        return None
