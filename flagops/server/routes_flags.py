"""Flag endpoints: list, read, create, change, restore, archive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from flagops.server import codec, openapi
from flagops.server.http import BEARER, idempotency, if_none_match, json_response, parse_if_match, read_json
from flagops.server.problems import Problem, invalid
from flagops.server.store import WriteResult

if TYPE_CHECKING:
    from flagops.server.routes_governance import Gate
    from flagops.server.service import Service

ENV_QUERY = Query(..., description="Environment key, e.g. prod.", max_length=100)


def _written(result: WriteResult, location: str | None = None) -> Response:
    headers = {}
    if result.etag:
        headers["ETag"] = result.etag
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if location:
        headers["Location"] = location
    return json_response(result.body, result.status, headers)


def add_routes(app: FastAPI, svc: Service, gate: Gate) -> None:
    store = svc.store

    @app.get("/v1/flags", tags=["flags"])
    async def list_flags(
        request: Request,
        environment: str = ENV_QUERY,
        _: Any = BEARER,
        if_none: str | None = Header(None, alias="If-None-Match"),
    ) -> Response:
        """All live (not archived) flags with `environment`'s state. ETag changes with any change there."""
        svc.require(request, "flags:read", environment)
        store.environment(environment)
        etag = store.list_etag(environment)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if if_none_match(request, etag):
            return Response(status_code=304, headers=headers)
        body, etag = store.list_body(environment)
        headers["ETag"] = etag
        return Response(body, media_type="application/json", headers=headers)

    @app.get("/v1/flags/{key}", tags=["flags"])
    async def get_flag(
        request: Request,
        key: str,
        environment: str | None = Query(None, max_length=100),
        _: Any = BEARER,
        if_none: str | None = Header(None, alias="If-None-Match"),
    ) -> Response:
        """One flag. With `environment`, that state only and `ETag` = its version; without, every state."""
        principal = svc.require(request, "flags:read", environment)
        flag = store.flag(key)
        if environment is not None:
            store.environment(environment)
            etag = f'"{flag.states[environment].version}"'
            body = codec.flag_json(flag, environment)
        else:
            visible = [e.key for e in store.environments if principal.may_touch(e.key)]
            etag = '"' + ".".join(str(flag.states[e].version) for e in visible) + '"'
            body = codec.flag_json(flag)
            body["environments"] = {e: s for e, s in body["environments"].items() if e in visible}
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if if_none_match(request, etag):
            return Response(status_code=304, headers=headers)
        return json_response(body, headers=headers)

    @app.patch("/v1/flags/{key}", tags=["flags"], openapi_extra=openapi.body(openapi.PATCH))
    async def patch_flag(
        request: Request,
        key: str,
        environment: str = ENV_QUERY,
        _: Any = BEARER,
        if_match: str | None = Header(None, alias="If-Match"),
        idem_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Response:
        """Change one environment's state. If-Match and changeReason are required."""
        principal = svc.require(request, "flags:write", environment)
        store.environment(environment)
        flag = store.flag(key)
        raw = await read_json(request, svc.max_body)
        idem = idempotency(request, raw)
        try:
            change, reason, ticket, origin = codec.parse_patch(raw, flag)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        also, opened = gate.for_patch(principal, flag, environment, change, reason, ticket)  # 409 approval-required
        result = await run_in_threadpool(
            store.patch,
            key,
            environment,
            change,
            if_match=parse_if_match(if_match),
            actor=principal.actor,
            reason=reason,
            ticket=ticket,
            origin=origin,
            idem=idem,
            also=also,
        )
        response = _written(result)
        if opened:  # a break-glass kill: applied, and its review is open
            response.headers["Flagops-Review"] = opened[0].id
        return response

    @app.post("/v1/flags/{key}/restore", tags=["flags"], openapi_extra=openapi.body(openapi.RESTORE))
    async def restore_flag(
        request: Request,
        key: str,
        environment: str = ENV_QUERY,
        _: Any = BEARER,
        if_match: str | None = Header(None, alias="If-Match"),
        idem_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Response:
        """Roll back: make a new version equal to `toVersion`."""
        principal = svc.require(request, "flags:write", environment)
        store.environment(environment)
        raw = await read_json(request, svc.max_body)
        idem = idempotency(request, raw)
        try:
            to_version, reason, ticket, origin = codec.parse_restore(raw)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        gate.for_restore(store.flag(key), environment)
        result = await run_in_threadpool(
            store.restore,
            key,
            environment,
            to_version,
            if_match=parse_if_match(if_match),
            actor=principal.actor,
            reason=reason,
            ticket=ticket,
            origin=origin,
            idem=idem,
        )
        return _written(result)

    @app.post("/v1/flags", tags=["flags"], status_code=201, openapi_extra=openapi.body(openapi.CREATE))
    async def create_flag(
        request: Request, _: Any = BEARER, idem_key: str | None = Header(None, alias="Idempotency-Key")
    ) -> Response:
        """Create a flag (metadata and initial states; unnamed environments start off)."""
        principal = svc.require(request, "flags:write")
        _all_environments(svc, principal.environments, "create flags")
        raw = await read_json(request, svc.max_body)
        idem = idempotency(request, raw)
        try:
            flag, reason, _ticket, origin = codec.parse_create(
                raw, [e.key for e in store.environments], datetime.now(UTC)
            )
        except ValueError as exc:
            raise invalid(str(exc)) from None
        gate.for_create(flag)
        result = await run_in_threadpool(
            store.create, flag, actor=principal.actor, reason=reason, origin=origin, idem=idem
        )
        return _written(result, location=f"/v1/flags/{flag.key}")

    @app.delete("/v1/flags/{key}", tags=["flags"], openapi_extra=openapi.body(openapi.ARCHIVE, required=False))
    async def archive_flag(
        request: Request,
        key: str,
        _: Any = BEARER,
        change_reason: str | None = Query(None, alias="changeReason", max_length=1000),
        idem_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Response:
        """Archive a flag (it leaves the lists; its audit history stays). Reason in the body or ?changeReason=."""
        principal = svc.require(request, "flags:write")
        _all_environments(svc, principal.environments, "archive flags")
        raw = await read_json(request, svc.max_body, optional=True)
        if raw is None:
            raw = {"changeReason": change_reason}
        idem = idempotency(request, raw)
        try:
            reason, ticket, origin = codec.parse_archive(raw)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        result = await run_in_threadpool(
            store.archive, key, actor=principal.actor, reason=reason, ticket=ticket, origin=origin, idem=idem
        )
        return _written(result)


def _all_environments(svc: Service, allowed: frozenset[str] | None, what: str) -> None:
    if allowed is not None and not all(e.key in allowed for e in svc.store.environments):
        raise Problem(403, f"only tokens for every environment may {what}", field="environment")
