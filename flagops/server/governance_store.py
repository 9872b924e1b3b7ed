"""Change requests and break-glass reviews in the service's database, each step an audit row in the one chain.

Every step runs in the store's write transaction (Store._write): the request or review row, its audit entry
and the `audit_entity` row that says what the entry is about commit together and durably before the caller
hears of it. An apply is the flag write itself (Store.patch/restore) with the change request's rows joined to
its transaction (AlsoWrite), so a change request can never read "applied" without the flag having changed,
nor the other way round. Reads come from the database (these lists are small), so replicas agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from flagops.governance import ApprovalPolicy, ChangeRequest, RequestStatus, Verdict
from flagops.model import AuditEntry, Flag, FlagState, StateChange
from flagops.server.auth import Principal
from flagops.server.problems import Problem
from flagops.server.store import AlsoWrite, Idem, Store, WriteResult
from flagops.v1 import governance as g
from flagops.v1 import wire

PROBLEMS = "https://flagops.dev/problems/"
MIN_TEXT, MAX_TEXT = 8, 1000
SWEEPER = "flagops-policy"  # the actor of expiry rows
DEFAULT_EXPIRY = 24 * 3600  # a voluntary change request (no rule applies) expires like the default rule


def now_utc() -> datetime:
    return datetime.now(UTC)


def text_field(d: dict[str, Any], name: str) -> str:
    """A reason or comment: required, 8-1000 characters, kept exactly as sent (faces render it inert)."""
    value = d.get(name)
    if not isinstance(value, str) or len(value.strip()) < MIN_TEXT:
        raise Problem(422, f"{name}: required, at least {MIN_TEXT} characters (say why)", field=name)
    if len(value) > MAX_TEXT:
        raise Problem(422, f"{name}: longer than {MAX_TEXT} characters", field=name)
    return value


def approval_required(flag: Flag, environment: str, approvers: int) -> Problem:
    return Problem(
        409,
        f"{flag.key} in {environment} is {flag.risk_level.value} risk: the policy requires {approvers} approval"
        f"{'s' if approvers != 1 else ''} for changes; open a change request",
        title="Approval required",
        type_=PROBLEMS + "approval-required",
        extra={"approvers": approvers, "changeRequests": "/v1/change-requests"},
    )


def is_kill(change: StateChange) -> bool:
    return (
        change.enabled is False and change.rollout is None and change.rules is None and change.default_variant is None
    )


class Governance:
    def __init__(self, store: Store, policy: ApprovalPolicy, clock: Callable[[], datetime] = now_utc) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock

    # --- shared step plumbing ---------------------------------------------------------------------

    def step(
        self,
        *,
        action: str,
        actor: str,
        flag: str,
        environment: str | None,
        reason: str,
        after: dict[str, Any],
        entity: str,
        change_request: str | None = None,
        ticket: str | None = None,
        idem: Idem | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Inside a write transaction: one audit row for a governance step, and what it is about."""
        entry = self.store._audit(
            at=at or self.clock(),
            actor=actor,
            action=action,
            flag=flag,
            environment=environment,
            reason=reason,
            ticket=ticket,
            idem=idem,
            before=None,
            after=after,
            origin=None,
        )
        self.store.db.execute("INSERT INTO audit_entity VALUES (?,?,?)", (entry.sequence, entity, change_request))
        return entry

    def _next_number(self, table: str) -> int:
        row = self.store.db.execute(f"SELECT COALESCE(MAX(number), 0) FROM {table}").fetchone()  # noqa: S608
        return int(row[0]) + 1

    # --- change requests: reads -------------------------------------------------------------------

    def _read(self, cr_id: str) -> ChangeRequest:
        row = self.store.db.execute("SELECT data FROM change_requests WHERE id=?", (cr_id,)).fetchone()
        if row is None:
            raise Problem(404, f"no change request {cr_id[:60]!r}", field="id")
        return g.change_request_from_json(json.loads(row[0]))

    def seen(self, cr: ChangeRequest) -> ChangeRequest:
        """As it reads now: an open request past its expiry reads as expired (the sweep records it)."""
        if cr.status.is_open and self.clock() >= cr.expires_at:
            return replace(cr, status=RequestStatus.EXPIRED)
        return cr

    def change_request(self, cr_id: str) -> ChangeRequest:
        with self.store._lock:
            return self.seen(self._read(cr_id))

    def change_requests(
        self, environment: str | None, status: RequestStatus | None, flag: str | None, visible: frozenset[str] | None
    ) -> list[ChangeRequest]:
        sql, args = "SELECT data FROM change_requests WHERE 1=1", list[Any]()
        if environment is not None:
            sql += " AND environment=?"
            args.append(environment)
        if flag is not None:
            sql += " AND flag=?"
            args.append(flag)
        with self.store._lock:
            rows = self.store.db.execute(sql + " ORDER BY number DESC LIMIT 1000", args).fetchall()
        found = [self.seen(g.change_request_from_json(json.loads(r[0]))) for r in rows]
        return [
            cr
            for cr in found
            if (status is None or cr.status is status) and (visible is None or cr.environment in visible)
        ]

    # --- change requests: steps -------------------------------------------------------------------

    def _save(self, cr: ChangeRequest, *, new: bool = False) -> dict[str, Any]:
        data = g.change_request_to_json(cr)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if new:
            number = int(cr.id.removeprefix("cr-"))
            self.store.db.execute(
                "INSERT INTO change_requests VALUES (?,?,?,?,?,?,?)",
                (cr.id, number, cr.flag_key, cr.environment, cr.status.value, data["expiresAt"], text),
            )
        else:
            self.store.db.execute(
                "UPDATE change_requests SET status=?, data=? WHERE id=?", (cr.status.value, text, cr.id)
            )
        return data

    def _cr_step(self, cr: ChangeRequest, action: str, actor: str, reason: str, **kw: Any) -> AuditEntry:
        data = self._save(cr, new=action == "change-request.created")
        return self.step(
            action=action,
            actor=actor,
            flag=cr.flag_key,
            environment=cr.environment,
            reason=reason,
            after=data,
            entity=f"change-request:{cr.id}",
            change_request=cr.id,
            **kw,
        )

    def create(
        self,
        principal: Principal,
        environment: str,
        flag_key: str,
        change: StateChange | None,
        restore_to: int | None,
        reason: str,
        ticket: str | None,
        if_match: int | None,
        idem: Idem | None,
    ) -> WriteResult:
        store = self.store

        def run() -> WriteResult:
            replay = store._replay(principal.actor, idem)
            if replay is not None:
                store.db.rollback()
                return replay
            flag = store.flag(flag_key)
            state = flag.states[environment]
            store._check_version(state, if_match, flag_key)
            if (
                restore_to is not None
                and not store.db.execute(
                    "SELECT 1 FROM state_history WHERE flag=? AND environment=? AND version=?",
                    (flag_key, environment, restore_to),
                ).fetchone()
            ):
                raise Problem(422, f"restoreToVersion: {flag_key} in {environment} has no version {restore_to}")
            rule = self.policy.rule_for(environment, flag.risk_level)
            now = self.clock()
            cr = ChangeRequest(
                id=f"cr-{self._next_number('change_requests')}",
                flag_key=flag_key,
                environment=environment,
                base_version=state.version,
                change=change,
                restore_to_version=restore_to,
                reason=reason,
                ticket=ticket,
                author=principal.actor,
                created_at=now,
                expires_at=now + timedelta(seconds=rule.expires_after_seconds if rule else DEFAULT_EXPIRY),
                status=RequestStatus.PENDING,
                required_approvals=rule.approvers if rule else 1,
            )
            entry = self._cr_step(cr, "change-request.created", principal.actor, reason, ticket=ticket, idem=idem)
            result = WriteResult(201, g.change_request_to_json(cr), None, sequence=entry.sequence)
            store._remember(principal.actor, idem, result, now)
            store._commit([entry], [], [], [])
            return result

        return store._write(run)

    def _open_for_step(self, cr_id: str) -> ChangeRequest:
        """Inside a write: the request, which must be open; an expired one gets its expiry row first (committed
        even though the caller is refused: it did expire)."""
        cr = self._read(cr_id)
        if cr.status.is_open and self.clock() >= cr.expires_at:
            expired = replace(cr, status=RequestStatus.EXPIRED)
            entry = self._cr_step(expired, "change-request.expired", SWEEPER, "not applied before it expired")
            self.store._commit([entry], [], [], [])
            raise Problem(409, f"{cr.id} expired at {wire.iso(cr.expires_at)}; open a new change request")
        if not cr.status.is_open:
            raise Problem(409, f"{cr.id} is {cr.status.value}; only pending or approved requests take this step")
        return cr

    def verdict(self, principal: Principal, cr_id: str, comment: str, approve: bool) -> ChangeRequest:
        store = self.store

        def run() -> WriteResult:
            cr = self._open_for_step(cr_id)
            self._may_review(principal, cr)
            if principal.actor == cr.author:
                what = "approve" if approve else "reject"
                raise Problem(
                    403,
                    f"{principal.actor} wrote {cr.id} and may not {what} it (four eyes)"
                    + ("" if approve else "; cancel it instead"),
                    title="Self approval",
                    type_=PROBLEMS + "self-approval",
                )
            if any(v.actor == principal.actor for v in cr.verdicts):
                raise Problem(409, f"{principal.actor} already gave a verdict on {cr.id}")
            current = store.flag(cr.flag_key).states[cr.environment].version
            if approve and current != cr.base_version:
                raise Problem(
                    412,
                    f"{cr.flag_key} in {cr.environment} changed since {cr.id} was written (version "
                    f"{cr.base_version}, now {current}); the approval would cover a different diff",
                    field="baseVersion",
                    extra={"currentVersion": current},
                )
            verdicts = (*cr.verdicts, Verdict(principal.actor, self.clock(), comment, approve))
            approvals = sum(1 for v in verdicts if v.approve)
            status = RequestStatus.REJECTED if not approve else cr.status
            if approve and approvals >= cr.required_approvals:
                status = RequestStatus.APPROVED
            updated = replace(cr, verdicts=verdicts, status=status)
            action = "change-request.approved" if approve else "change-request.rejected"
            entry = self._cr_step(updated, action, principal.actor, comment)
            store._commit([entry], [], [], [])
            return WriteResult(200, g.change_request_to_json(updated), None, sequence=entry.sequence)

        return g.change_request_from_json(store._write(run).body)

    def _may_review(self, principal: Principal, cr: ChangeRequest) -> None:
        rule = self.policy.rule_for(cr.environment, self.store.flag(cr.flag_key).risk_level)
        scope = rule.approver_scope if rule else "flags:approve"
        if scope not in principal.scopes or not principal.may_touch(cr.environment):
            raise Problem(
                403, f"this token ({principal.actor}) may not review changes in {cr.environment} (needs {scope})"
            )

    def cancel(self, principal: Principal, cr_id: str, comment: str) -> ChangeRequest:
        store = self.store

        def run() -> WriteResult:
            cr = self._open_for_step(cr_id)
            if principal.actor != cr.author:
                raise Problem(403, f"only the author ({cr.author}) may cancel {cr.id}; reject it instead")
            updated = replace(cr, status=RequestStatus.CANCELLED)
            entry = self._cr_step(updated, "change-request.cancelled", principal.actor, comment)
            store._commit([entry], [], [], [])
            return WriteResult(200, g.change_request_to_json(updated), None, sequence=entry.sequence)

        return g.change_request_from_json(store._write(run).body)

    def apply(self, principal: Principal, cr_id: str, if_match: int | None) -> tuple[ChangeRequest, WriteResult]:
        """The flag write the request describes, through Store.patch/restore, with the request's rows in the
        same transaction; refused (409) unless approved, (412) when the flag moved since it was written."""
        with self.store._lock:
            cr = self.seen(self._read(cr_id))
        if cr.status is RequestStatus.EXPIRED:
            self.store._write(lambda: self._expire(cr_id))  # records the expiry, then refuses (409)
        if principal.actor != cr.author and principal.actor not in {v.actor for v in cr.approvals}:
            raise Problem(403, f"only the author or an approver of {cr.id} may apply it")
        if cr.status is not RequestStatus.APPROVED:  # checked again inside the write (close)
            raise self._not_approved(cr)
        if if_match is None:
            raise Problem(428, "If-Match is required: send the change request's baseVersion", field="If-Match")
        if if_match != cr.base_version:
            raise Problem(412, f"If-Match {if_match} is not {cr.id}'s baseVersion {cr.base_version}", field="If-Match")
        applied: list[ChangeRequest] = []

        def close(new_state: FlagState, flag_entry: AuditEntry) -> list[AuditEntry]:
            current = self.seen(self._read(cr_id))  # again, inside the flag write's transaction
            if current.status is not RequestStatus.APPROVED:
                raise self._not_approved(current)
            self.store.db.execute(
                "INSERT INTO audit_entity VALUES (?,?,?)", (flag_entry.sequence, f"flag:{cr.flag_key}", cr_id)
            )
            done = replace(
                current,
                status=RequestStatus.APPLIED,
                applied_by=principal.actor,
                applied_at=flag_entry.at,
                applied_version=new_state.version,
            )
            applied.append(done)
            return [self._cr_step(done, "change-request.applied", principal.actor, cr.reason)]

        also = AlsoWrite(write=close, note={"changeRequest": cr_id})
        common: dict[str, Any] = {"if_match": if_match, "actor": principal.actor, "reason": cr.reason}
        if cr.change is not None:
            result = self.store.patch(cr.flag_key, cr.environment, cr.change, ticket=cr.ticket, also=also, **common)
        else:
            assert cr.restore_to_version is not None
            result = self.store.restore(
                cr.flag_key, cr.environment, cr.restore_to_version, ticket=cr.ticket, also=also, **common
            )
        if not applied:  # the write changed nothing (the flag already is as requested): still refuse quietly
            raise Problem(409, f"{cr_id}: the flag already is in the requested state; nothing was applied")
        return applied[0], result

    @staticmethod
    def _not_approved(cr: ChangeRequest) -> Problem:
        return Problem(
            409,
            f"{cr.id} is {cr.status.value} ({len(cr.approvals)} of {cr.required_approvals} approvals); "
            "only an approved request can be applied",
        )

    def sweep(self) -> int:
        """Record every open request past its expiry as expired (an audit row each); how many."""
        store = self.store
        stamp = wire.iso(self.clock())
        expires, now = store.db.time_sql("expires_at"), store.db.time_sql("?")  # the engine's, no input
        due_sql = f"SELECT id FROM change_requests WHERE status IN ('pending','approved') AND {expires} <= {now}"  # noqa: S608
        with store._lock:
            due = [r[0] for r in store.db.execute(due_sql + " ORDER BY number", (stamp,)).fetchall()]
        for cr_id in due:
            try:
                store._write(partial(self._expire, cr_id))
            except Problem:
                continue  # another step got there first
        return len(due)

    def _expire(self, cr_id: str) -> WriteResult:
        self._open_for_step(cr_id)  # commits the expiry row and raises 409 when due
        self.store.db.rollback()
        return WriteResult(200, {}, None)
