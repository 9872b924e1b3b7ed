"""Break-glass reviews: a kill of a kill-switch flag where approval is required is applied at once, and opens a
review (in the kill's own transaction) that stays open until someone other than the one who pulled it
acknowledges it. Each step is an audit row in the one chain (Governance.step)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from flagops.governance import Review
from flagops.model import AuditEntry, FlagState
from flagops.server.auth import Principal
from flagops.server.governance_store import PROBLEMS, Governance
from flagops.server.problems import Problem
from flagops.server.store import AlsoWrite, WriteResult
from flagops.v1 import governance as g


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class Reviews:
    def __init__(self, governance: Governance) -> None:
        self.gov = governance

    def opening_review(
        self, flag_key: str, environment: str, actor: str, reason: str, ticket: str | None, opened: list[Review]
    ) -> AlsoWrite:
        """The AlsoWrite for a break-glass kill: the review opens in the kill's own transaction."""

        def open_review(new_state: FlagState, kill: AuditEntry) -> list[AuditEntry]:
            number = self.gov._next_number("reviews")
            review = Review(f"rv-{number}", flag_key, environment, kill.sequence, actor, reason, kill.at)
            data = g.review_to_json(review)
            self.gov.store.db.execute(
                "INSERT INTO reviews VALUES (?,?,?,?,1,?)",
                (review.id, number, flag_key, environment, _dumps(data)),
            )
            opened.append(review)
            return [
                self.gov.step(
                    action="review.opened",
                    actor=actor,
                    flag=flag_key,
                    environment=environment,
                    reason=reason,
                    after=data,
                    entity=f"review:{review.id}",
                    ticket=ticket,
                    at=kill.at,
                )
            ]

        return AlsoWrite(write=open_review)

    def find(self, environment: str | None, open_only: bool | None, visible: frozenset[str] | None) -> list[Review]:
        sql, args = "SELECT data FROM reviews WHERE 1=1", list[Any]()
        if environment is not None:
            sql += " AND environment=?"
            args.append(environment)
        if open_only is not None:
            sql += " AND open=?"
            args.append(1 if open_only else 0)
        with self.gov.store._lock:
            rows = self.gov.store.db.execute(sql + " ORDER BY number DESC LIMIT 1000", args).fetchall()
        found = [g.review_from_json(json.loads(r[0])) for r in rows]
        return [r for r in found if visible is None or r.environment in visible]

    def acknowledge(self, principal: Principal, review_id: str, comment: str) -> Review:
        store = self.gov.store

        def run() -> WriteResult:
            row = store.db.execute("SELECT data FROM reviews WHERE id=?", (review_id,)).fetchone()
            if row is None:
                raise Problem(404, f"no review {review_id[:60]!r}", field="id")
            review = g.review_from_json(json.loads(row[0]))
            if "flags:approve" not in principal.scopes or not principal.may_touch(review.environment):
                raise Problem(
                    403, f"this token ({principal.actor}) may not acknowledge reviews in {review.environment}"
                )
            if principal.actor == review.actor:
                raise Problem(
                    403,
                    f"{principal.actor} pulled this kill switch; someone else must review it",
                    title="Self review",
                    type_=PROBLEMS + "self-review",
                )
            if not review.is_open:
                raise Problem(409, f"{review.id} was already acknowledged by {review.acknowledged_by}")
            done = replace(review, acknowledged_by=principal.actor, acknowledged_at=self.gov.clock(), comment=comment)
            data = g.review_to_json(done)
            store.db.execute(
                "UPDATE reviews SET open=0, data=? WHERE id=?",
                (_dumps(data), done.id),
            )
            entry = self.gov.step(
                action="review.acknowledged",
                actor=principal.actor,
                flag=done.flag_key,
                environment=done.environment,
                reason=comment,
                after=data,
                entity=f"review:{done.id}",
            )
            store._commit([entry], [], [], [])
            return WriteResult(200, data, None, sequence=entry.sequence)

        return g.review_from_json(store._write(run).body)
