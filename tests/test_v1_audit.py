"""The v1 audit entry: typed snapshots on the client, and the same JSON written back for --json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flagops.model import Flag, FlagState
from flagops.v1 import wire
from flagops.v1.audit import audit_from_json, audit_to_json

AT = datetime(2026, 3, 14, 3, 12, tzinfo=UTC)
STATE = FlagState("prod", True, 25.0, "on", "off", 7, updated_at=AT, updated_by="alice")
FLAG = Flag("checkout", "Checkout", states={"prod": STATE, "dev": FlagState("dev", False, 0.0, "on", "off", 1)})


def _entry(action: str, environment: str | None, before: Any, after: Any) -> dict[str, Any]:
    return {
        "sequence": 12,
        "at": wire.iso(AT),
        "actor": "alice",
        "action": action,
        "flag": "checkout",
        "environment": environment,
        "reason": "errors on checkout",
        "ticket": "INC-1",
        "idempotencyKey": "k-1",
        "before": before,
        "after": after,
        "origin": {"runbook": "panic", "runId": "r-1", "step": 2, "tool": "flagops"},
        "prevHash": "a" * 64,
        "hash": "b" * 64,
    }


def test_every_action_reads_typed_and_writes_back_the_same_json() -> None:
    off = wire.state_to_json(FlagState("prod", False, 25.0, "on", "off", 8, updated_at=AT, updated_by="bob"))
    restored = dict(wire.state_to_json(STATE), version=9, restoredFrom=7)
    shapes = [
        _entry("flag.updated", "prod", wire.state_to_json(STATE), off),
        _entry("flag.restored", "prod", off, restored),
        _entry("flag.created", None, None, wire.flag_to_json(FLAG)),
        _entry("flag.archived", None, wire.flag_to_json(FLAG), {"archived": True}),
    ]
    for shape in shapes:
        assert audit_to_json(audit_from_json(shape)) == shape
    update, restore, created, archived = (audit_from_json(s) for s in shapes)
    assert update.before == STATE and update.after is not None and update.after.enabled is False
    assert restore.restored_from == 7 and restore.after is not None and restore.after.version == 9
    assert created.flag is not None and created.flag.states["dev"].version == 1 and created.after is None
    assert archived.flag is not None and archived.before is None


def test_a_snapshot_that_does_not_parse_reads_as_none() -> None:
    entry = audit_from_json(_entry("flag.updated", "prod", "<not shown: nested too deep>", {"enabled": "yes"}))
    assert entry.before is None and entry.after is None and entry.reason == "errors on checkout"
