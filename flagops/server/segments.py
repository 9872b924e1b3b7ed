"""Segments: saved predicates (all conditions must hold) that flag rules reference with `op: in_segment`.

Kept in the database and, for evaluation, in memory (`Store.segments`): every segment write replaces the
in-memory copy after its commit, and a replica reloads it when another one's segment rows arrive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from flagops.governance import ApprovalPolicy, Segment
from flagops.model import AuditEntry, Rule
from flagops.server.governance_store import Governance, text_field
from flagops.server.problems import Problem, invalid
from flagops.server.store import Idem, Store, WriteResult
from flagops.v1 import governance as g

SEGMENT_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
MAX_CONDITIONS = 50


class Segments:
    def __init__(self, governance: Governance) -> None:
        self.gov = governance
        self.store = governance.store
        with self.store._lock:
            self._reload()
        self.store.on_entries.append(self._on_entries)

    def _reload(self) -> None:
        rows = self.store.db.execute("SELECT data FROM segments").fetchall()
        self.store.segments = {s.key: s for s in (g.segment_from_json(json.loads(r[0])) for r in rows)}

    def _on_entries(self, entries: list[AuditEntry]) -> None:
        if any(e.action.startswith("segment.") for e in entries):
            self._reload()

    def get(self, key: str) -> Segment:
        segment = self.store.segments.get(key)
        if segment is None:
            raise Problem(404, f"no segment {key[:100]!r}", field="key")
        return segment

    def all(self) -> list[Segment]:
        return sorted(self.store.segments.values(), key=lambda s: s.key)

    def check_rules(self, rules: Iterable[Rule] | None, field: str = "rules") -> None:
        """422 for a rule that references a segment that does not exist (or names none, or several)."""
        for i, rule in enumerate(rules or ()):
            if rule.op != g.SEGMENT_RULE_OP:
                continue
            if len(rule.values) != 1:
                raise Problem(422, f"{field}[{i}].values: an in_segment rule names exactly one segment key")
            if rule.values[0] not in self.store.segments:
                raise Problem(
                    422, f"{field}[{i}].values: no segment {rule.values[0][:100]!r}", field=f"{field}[{i}].values"
                )

    def _parse(self, d: Any, *, creating: bool) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise Problem(422, "body: expected a JSON object", field="body")
        allowed = {"name", "description", "conditions", "changeReason"} | ({"key"} if creating else set())
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise Problem(422, f"{unknown[0][:40]}: unknown field; allowed: {', '.join(sorted(allowed))}")
        out: dict[str, Any] = {"reason": text_field(d, "changeReason")}
        try:
            if creating or "name" in d:
                name = d.get("name")
                if not isinstance(name, str) or not name.strip() or len(name) > 200:
                    raise ValueError("name: expected a non-empty string of at most 200 characters")
                out["name"] = name
            if "description" in d:
                description = d.get("description")
                if not isinstance(description, str) or len(description) > 2000:
                    raise ValueError("description: expected a string of at most 2000 characters")
                out["description"] = description
            if creating or "conditions" in d:
                conditions = g.conditions_from_json(d)
                if not 1 <= len(conditions) <= MAX_CONDITIONS:
                    raise ValueError(f"conditions: expected 1-{MAX_CONDITIONS} conditions")
                out["conditions"] = conditions
        except ValueError as exc:
            raise invalid(str(exc)) from None
        return out

    def _write(self, segment: Segment, action: str, actor: str, reason: str, idem: Idem | None) -> WriteResult:
        return write_segment(self.gov, segment, action, actor, reason, idem)

    def create(self, actor: str, body: Any, idem: Idem | None) -> WriteResult:
        if not isinstance(body, dict) or not isinstance(body.get("key"), str) or not SEGMENT_KEY.match(body["key"]):
            raise Problem(422, "key: expected 1-100 of a-z 0-9 _ . - (starting with a letter or digit)", field="key")
        parsed = self._parse(body, creating=True)
        key = body["key"]

        def run() -> WriteResult:
            replay = self.store._replay(actor, idem)
            if replay is not None:
                self.store.db.rollback()
                return replay
            if self.store.db.execute("SELECT 1 FROM segments WHERE key=?", (key,)).fetchone():
                raise Problem(409, f"a segment with key {key!r} already exists", field="key")
            now = self.gov.clock()
            segment = Segment(
                key,
                parsed["name"],
                parsed.get("description", ""),
                parsed["conditions"],
                1,
                now,
                now,
                actor,
            )
            return self._write(segment, "segment.created", actor, parsed["reason"], idem)

        return self.store._write(run)

    def update(self, actor: str, key: str, body: Any, if_match: int | None, idem: Idem | None) -> WriteResult:
        parsed = self._parse(body, creating=False)

        def run() -> WriteResult:
            replay = self.store._replay(actor, idem)
            if replay is not None:
                self.store.db.rollback()
                return replay
            row = self.store.db.execute("SELECT data FROM segments WHERE key=?", (key,)).fetchone()
            if row is None:
                raise Problem(404, f"no segment {key[:100]!r}", field="key")
            current = g.segment_from_json(json.loads(row[0]))
            if if_match is None:
                raise Problem(428, "If-Match is required: send the segment version you last saw", field="If-Match")
            if if_match != current.version:
                raise Problem(
                    412,
                    f"segment {key} changed: you sent If-Match {if_match}, the current version is {current.version}",
                    field="If-Match",
                    extra={"currentVersion": current.version},
                )
            segment = replace(
                current,
                name=parsed.get("name", current.name),
                description=parsed.get("description", current.description),
                conditions=parsed.get("conditions", current.conditions),
                version=current.version + 1,
                updated_at=self.gov.clock(),
                updated_by=actor,
            )
            return self._write(segment, "segment.updated", actor, parsed["reason"], idem)

        return self.store._write(run)


def write_segment(
    gov: Governance, segment: Segment, action: str, actor: str, reason: str, idem: Idem | None
) -> WriteResult:
    """Inside a write transaction: store the segment, its audit row; commit; then serve it to evaluation."""
    data = g.segment_to_json(segment)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    gov.store.db.execute(
        "INSERT INTO segments VALUES (?,?) ON CONFLICT (key) DO UPDATE SET data=excluded.data", (segment.key, text)
    )
    entry = gov.step(
        action=action,
        actor=actor,
        flag="",
        environment=None,
        reason=reason,
        after=data,
        entity=f"segment:{segment.key}",
        idem=idem,
    )
    result = WriteResult(201 if action == "segment.created" else 200, data, f'"{segment.version}"')
    gov.store._remember(actor, idem, result, entry.at)
    gov.store._commit([entry], [], [], [])
    gov.store.segments = {**gov.store.segments, segment.key: segment}  # after the commit, as flags
    return result


def seed_segments(store: Store, segments: Iterable[Segment], actor: str, reason: str) -> None:
    """The demo's segments, each created (with its audit row) unless one with its key exists."""
    gov = Governance(store, ApprovalPolicy())
    for segment in segments:

        def run(segment: Segment = segment) -> WriteResult:
            if store.db.execute("SELECT 1 FROM segments WHERE key=?", (segment.key,)).fetchone():
                store.db.rollback()
                return WriteResult(200, {}, None)
            now = gov.clock()
            stamped = replace(segment, created_at=now, updated_at=now, updated_by=actor)
            return write_segment(gov, stamped, "segment.created", actor, reason, None)

        store._write(run)
