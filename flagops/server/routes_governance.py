"""Governance endpoints: the policy, change requests (four eyes), break-glass reviews, segments; and the gate the
flag write routes pass through (approval required, break-glass kills, segment references)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from flagops.governance import RequestStatus, Review
from flagops.model import Flag, StateChange
from flagops.server import codec
from flagops.server.auth import Principal
from flagops.server.governance_store import Governance, approval_required, is_kill, text_field
from flagops.server.http import BEARER, idempotency, json_response, parse_if_match, read_json
from flagops.server.problems import Problem, invalid
from flagops.server.reviews import Reviews
from flagops.server.segments import Segments
from flagops.server.store import AlsoWrite
from flagops.v1 import governance as g

if TYPE_CHECKING:
    from flagops.server.app import Service

log = logging.getLogger("flagops.server")
SWEEP_SECONDS = 30.0
STATUS_QUERY = Query(None, description="pending, approved, rejected, applied, expired or cancelled")
ENV = Query(..., max_length=100, description="Environment key, e.g. prod.")


@dataclass
class Gate:
    """What the flag write routes ask before writing."""

    governance: Governance
    segments: Segments
    reviews: Reviews

    def for_patch(
        self,
        principal: Principal,
        flag: Flag,
        environment: str,
        change: StateChange,
        reason: str,
        ticket: str | None,
    ) -> tuple[AlsoWrite | None, list[Review]]:
        """None: write as usual; an AlsoWrite: a break-glass kill (the review opens with it); raises 409 when
        the policy requires a change request."""
        self.segments.check_rules(change.rules)
        rule = self.governance.policy.rule_for(environment, flag.risk_level)
        if rule is None:
            return None, []
        if is_kill(change) and flag.kill_switch:  # never block the panic button
            opened: list[Review] = []
            return self.reviews.opening_review(flag.key, environment, principal.actor, reason, ticket, opened), opened
        raise approval_required(flag, environment, rule.approvers)

    def for_restore(self, flag: Flag, environment: str) -> None:
        rule = self.governance.policy.rule_for(environment, flag.risk_level)
        if rule is not None:
            raise approval_required(flag, environment, rule.approvers)

    def for_create(self, flag: Flag) -> None:
        for env, state in flag.states.items():
            self.segments.check_rules(state.rules, f"environments.{env}.rules")


def _comment(raw: Any) -> str:
    if not isinstance(raw, dict):
        raise Problem(422, 'body: expected a JSON object {"comment"}', field="body")
    unknown = sorted(set(raw) - {"comment"})
    if unknown:
        raise Problem(422, f"{unknown[0][:40]}: unknown field; allowed: comment", field=unknown[0][:40])
    return text_field(raw, "comment")


def _cr_body(raw: Any, flag: Flag) -> tuple[StateChange | None, int | None, str, str | None]:
    if not isinstance(raw, dict):
        raise Problem(422, "body: expected a JSON object", field="body")
    allowed = {"flag", "change", "restoreToVersion", "changeReason", "ticket"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise Problem(422, f"{unknown[0][:40]}: unknown field; allowed: {', '.join(sorted(allowed))}")
    reason = text_field(raw, "changeReason")
    ticket = raw.get("ticket")
    if ticket is not None and (not isinstance(ticket, str) or len(ticket) > 200):
        raise Problem(422, "ticket: expected a string of at most 200 characters, or null", field="ticket")
    has_change, restore = raw.get("change") is not None, raw.get("restoreToVersion")
    if has_change == (restore is not None):
        raise Problem(422, "change: send exactly one of change and restoreToVersion", field="change")
    if restore is not None:
        if isinstance(restore, bool) or not isinstance(restore, int) or restore < 1:
            raise Problem(422, "restoreToVersion: expected a version number", field="restoreToVersion")
        return None, restore, reason, ticket
    try:
        g.change_from_json(raw["change"])  # the shape, with fields named change.*
        change, _, _, _ = codec.parse_patch({**raw["change"], "changeReason": reason}, flag)  # variants exist
    except ValueError as exc:
        message = str(exc)
        raise invalid(message if message.startswith("change") else f"change.{message}") from None
    return change, None, reason, ticket


def _every_environment(principal: Principal) -> Principal:
    if principal.environments is not None:  # a segment applies wherever a rule references it
        raise Problem(403, "only tokens for every environment may change segments", field="environment")
    return principal


def add_routes(app: FastAPI, svc: Service) -> Gate:
    store = svc.store
    gov = Governance(store, svc.policy)
    segments = Segments(gov)
    review_store = Reviews(gov)
    gate = Gate(gov, segments, review_store)

    async def sweep_forever(_: Service) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await run_in_threadpool(gov.sweep)
            except Exception:  # a failed sweep must not end the sweeping; the next one retries
                log.exception("change request expiry sweep failed")

    svc.background.append(sweep_forever)

    def cr_json(cr: Any) -> dict[str, Any]:
        return g.change_request_to_json(cr)

    @app.get("/v1/policy", tags=["governance"])
    async def policy(request: Request, _: Any = BEARER) -> Response:
        """Which changes need approval, how many approvers, and who may approve."""
        svc.require(request, "flags:read")
        return json_response(g.policy_to_json(gov.policy))

    @app.post("/v1/change-requests", tags=["governance"], status_code=201)
    async def create_change_request(
        request: Request,
        environment: str = ENV,
        _: Any = BEARER,
        if_match: str | None = Header(None, alias="If-Match"),
        idem_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Response:
        """Propose a change (or a restore) for approval. If-Match: the flag state version it was written against."""
        principal = svc.require(request, "flags:write", environment)
        store.environment(environment)
        raw = await read_json(request, svc.max_body)
        idem = idempotency(request, raw)
        key = raw.get("flag") if isinstance(raw, dict) else None
        if not isinstance(key, str):
            raise Problem(422, "flag: expected the flag key", field="flag")
        flag = store.flag(key)
        change, restore, reason, ticket = _cr_body(raw, flag)
        if change is not None:
            segments.check_rules(change.rules, "change.rules")
        result = await run_in_threadpool(
            gov.create, principal, environment, key, change, restore, reason, ticket, parse_if_match(if_match), idem
        )
        headers = {"Location": f"/v1/change-requests/{result.body['id']}"}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return json_response(result.body, result.status, headers)

    @app.get("/v1/change-requests", tags=["governance"])
    async def list_change_requests(
        request: Request,
        environment: str | None = Query(None, max_length=100),
        status: RequestStatus | None = STATUS_QUERY,
        flag: str | None = Query(None, max_length=200),
        _: Any = BEARER,
    ) -> Response:
        """Change requests, newest first."""
        principal = svc.require(request, "flags:read", environment)
        found = await run_in_threadpool(gov.change_requests, environment, status, flag, principal.environments)
        return json_response({"changeRequests": [cr_json(cr) for cr in found]})

    @app.get("/v1/change-requests/{cr_id}", tags=["governance"])
    async def show_change_request(request: Request, cr_id: str, _: Any = BEARER) -> Response:
        principal = svc.require(request, "flags:read")
        cr = await run_in_threadpool(gov.change_request, cr_id)
        if not principal.may_touch(cr.environment):
            raise Problem(404, f"no change request {cr_id[:60]!r}", field="id")
        return json_response(cr_json(cr))

    async def verdict(request: Request, cr_id: str, approve: bool) -> Response:
        principal = svc.require(request, "flags:approve")
        comment = _comment(await read_json(request, svc.max_body))
        return json_response(cr_json(await run_in_threadpool(gov.verdict, principal, cr_id, comment, approve)))

    @app.post("/v1/change-requests/{cr_id}/approve", tags=["governance"])
    async def approve(request: Request, cr_id: str, _: Any = BEARER) -> Response:
        """Approve (flags:approve; never the author; 412 when the flag moved since)."""
        return await verdict(request, cr_id, True)

    @app.post("/v1/change-requests/{cr_id}/reject", tags=["governance"])
    async def reject(request: Request, cr_id: str, _: Any = BEARER) -> Response:
        """Reject (flags:approve; the author cancels instead)."""
        return await verdict(request, cr_id, False)

    @app.post("/v1/change-requests/{cr_id}/cancel", tags=["governance"])
    async def cancel(request: Request, cr_id: str, _: Any = BEARER) -> Response:
        """Withdraw (the author only)."""
        principal = svc.require(request, "flags:write")
        comment = _comment(await read_json(request, svc.max_body))
        return json_response(cr_json(await run_in_threadpool(gov.cancel, principal, cr_id, comment)))

    @app.post("/v1/change-requests/{cr_id}/apply", tags=["governance"])
    async def apply(
        request: Request, cr_id: str, _: Any = BEARER, if_match: str | None = Header(None, alias="If-Match")
    ) -> Response:
        """Apply an approved request through the normal write path. If-Match: its baseVersion."""
        principal = svc.require(request, "flags:write")
        cr = await run_in_threadpool(gov.change_request, cr_id)
        if not principal.may_touch(cr.environment):
            raise Problem(403, f"this token ({principal.actor}) may not write {cr.environment}", field="environment")
        done, result = await run_in_threadpool(gov.apply, principal, cr_id, parse_if_match(if_match))
        headers = {"ETag": result.etag} if result.etag else None
        return json_response({"changeRequest": cr_json(done), "flag": result.body}, 200, headers)

    @app.get("/v1/reviews", tags=["governance"])
    async def reviews(
        request: Request,
        environment: str | None = Query(None, max_length=100),
        open_: bool | None = Query(None, alias="open"),
        _: Any = BEARER,
    ) -> Response:
        """Post-hoc reviews of break-glass kills, newest first."""
        principal = svc.require(request, "flags:read", environment)
        found = await run_in_threadpool(review_store.find, environment, open_, principal.environments)
        return json_response({"reviews": [g.review_to_json(r) for r in found]})

    @app.post("/v1/reviews/{review_id}/acknowledge", tags=["governance"])
    async def acknowledge(request: Request, review_id: str, _: Any = BEARER) -> Response:
        """Acknowledge a break-glass kill (flags:approve; not the one who pulled it)."""
        principal = svc.require(request, "flags:approve")
        comment = _comment(await read_json(request, svc.max_body))
        review = await run_in_threadpool(review_store.acknowledge, principal, review_id, comment)
        return json_response(g.review_to_json(review))

    @app.get("/v1/segments", tags=["segments"])
    async def list_segments(request: Request, _: Any = BEARER) -> Response:
        svc.require(request, "flags:read")
        return json_response({"segments": [g.segment_to_json(s) for s in segments.all()]})

    @app.get("/v1/segments/{key}", tags=["segments"])
    async def show_segment(request: Request, key: str, _: Any = BEARER) -> Response:
        svc.require(request, "flags:read")
        segment = segments.get(key)
        return json_response(g.segment_to_json(segment), headers={"ETag": f'"{segment.version}"'})

    @app.post("/v1/segments", tags=["segments"], status_code=201)
    async def create_segment(
        request: Request, _: Any = BEARER, idem_key: str | None = Header(None, alias="Idempotency-Key")
    ) -> Response:
        principal = _every_environment(svc.require(request, "flags:write"))
        raw = await read_json(request, svc.max_body)
        result = await run_in_threadpool(segments.create, principal.actor, raw, idempotency(request, raw))
        headers = {"Location": f"/v1/segments/{result.body['key']}", "ETag": result.etag or ""}
        return json_response(result.body, result.status, headers)

    @app.patch("/v1/segments/{key}", tags=["segments"])
    async def update_segment(
        request: Request,
        key: str,
        _: Any = BEARER,
        if_match: str | None = Header(None, alias="If-Match"),
        idem_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Response:
        principal = _every_environment(svc.require(request, "flags:write"))
        raw = await read_json(request, svc.max_body)
        result = await run_in_threadpool(
            segments.update, principal.actor, key, raw, parse_if_match(if_match), idempotency(request, raw)
        )
        return json_response(result.body, result.status, {"ETag": result.etag or ""})

    return gate
