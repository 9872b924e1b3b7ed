"""The live endpoints: the change stream, audit, metrics and evaluation."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from flagops.server import openapi
from flagops.server.codec import audit_to_json
from flagops.server.evaluate import evaluate, parse_requests
from flagops.server.http import BEARER, json_response, read_json
from flagops.server.limits import utc_time
from flagops.server.metrics import BASE_STEP, MAX_POINTS, RETENTION, parse_ingest
from flagops.server.problems import Problem, invalid

if TYPE_CHECKING:
    from flagops.server.auth import Principal
    from flagops.server.service import Service

_SEQ = re.compile(r"^[0-9]{1,18}$")
# a list-typed query default is built once, here, not in the signature (FastAPI reads it, never mutates it)
_FLAG_KEYS_QUERY = Query(None, description="flag keys (repeat); default: all live")


def add_routes(app: FastAPI, svc: Service) -> None:
    store = svc.store

    @app.get("/v1/stream", tags=["live"], response_class=StreamingResponse)
    async def stream(
        request: Request,
        environment: str | None = Query(None, max_length=100),
        _: Any = BEARER,
        last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    ) -> Response:
        """Server-Sent Events (flag.updated, flag.created, flag.archived); `id:` is the audit sequence."""
        principal = svc.require(request, "flags:read", environment)
        if environment is not None:
            store.environment(environment)
        last: int | None = None
        if last_event_id is not None and last_event_id.strip():
            if not _SEQ.match(last_event_id.strip()):
                raise Problem(
                    400, "Last-Event-ID must be an event id (an audit sequence number)", field="Last-Event-ID"
                )
            last = int(last_event_id)
        envs = frozenset({environment}) if environment is not None else principal.environments
        return StreamingResponse(
            svc.broker.events(envs, last, principal.environments),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/audit", tags=["audit"])
    async def audit(
        request: Request,
        _: Any = BEARER,
        flag: str | None = Query(None, max_length=200),
        environment: str | None = Query(None, max_length=100),
        entity: str | None = Query(
            None,
            max_length=300,
            pattern=r"^(flag|segment|change-request|review):.+$",
            description="flag:KEY (its writes, change requests and reviews), segment:KEY, change-request:ID, review:ID",
        ),
        since: str | None = Query(
            None, max_length=60, description="An audit sequence (entries after it) or an ISO time"
        ),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Response:
        """Who changed what, when and why; newest first."""
        principal = svc.require(request, "audit:read", environment)
        if environment is not None:
            store.environment(environment)
        since_seq = since_time = None
        if since is not None:
            if _SEQ.match(since):
                since_seq = int(since)
            else:
                try:
                    since_time = utc_time(since, "since")
                except ValueError as exc:
                    raise invalid(f"{exc} (or give an audit sequence number)") from None
        entries = await run_in_threadpool(
            store.audit,
            flag=flag,
            entity=entity,
            environment=environment,
            since_sequence=since_seq,
            since_time=since_time,
            limit=limit,
            environments=principal.environments,
        )
        return json_response({"entries": [audit_to_json(e, principal.environments) for e in entries]})

    @app.get("/v1/audit/verify", tags=["audit"])
    async def verify(request: Request, _: Any = BEARER) -> Response:
        """Recompute the hash chain, check the head's signature and every state row; say where it breaks."""
        _whole_log(svc, svc.require(request, "audit:read"), "verify")
        public = svc.signer.public_raw if svc.signer is not None else None
        return json_response(await run_in_threadpool(store.verify, public, svc.signing_problem))

    @app.get("/v1/audit/export", tags=["audit"])
    async def export(request: Request, _: Any = BEARER) -> Response:
        """Every audit and state row as stored, with the signed head: check it offline with
        `flagops audit-bundle verify FILE`."""
        _whole_log(svc, svc.require(request, "audit:read"), "export")
        if svc.signer is None:
            raise Problem(409, "this service has no audit signing key; an export could not be verified")
        bundle = await run_in_threadpool(store.export, svc.signer.public_b64, svc.signer.key_id)
        return json_response(bundle, headers={"Content-Disposition": 'attachment; filename="audit-bundle.json"'})

    @app.post("/v1/metrics", tags=["metrics"], status_code=202, openapi_extra=openapi.body(openapi.METRICS))
    async def ingest(request: Request, _: Any = BEARER) -> Response:
        """Report evaluation and error counts (all validated before any is recorded)."""
        principal = svc.require(request, "metrics:write")
        raw = await read_json(request, svc.max_body)
        now = datetime.now(UTC).timestamp()
        try:
            env, at, counts = parse_ingest(
                raw, {f.key for f in store.flags()}, {e.key for e in store.environments}, now
            )
        except ValueError as exc:
            raise invalid(str(exc)) from None
        if not principal.may_touch(env):
            raise Problem(403, f"this token ({principal.actor}) may not report metrics for {env}", field="environment")
        for flag_key, evaluations, errors in counts:
            svc.metrics.record(flag_key, env, at, evaluations, errors)
        return json_response({"accepted": len(counts)}, 202)

    @app.get("/v1/metrics/flags", tags=["metrics"])
    async def series_many(
        request: Request,
        environment: str = Query(..., max_length=100),
        _: Any = BEARER,
        flag: list[str] | None = _FLAG_KEYS_QUERY,
        window: int = Query(300, ge=BASE_STEP, le=RETENTION, description="seconds"),
        step: int = Query(30, ge=BASE_STEP, le=RETENTION, description="seconds; a multiple of 10"),
    ) -> Response:
        """The series of many flags in one request (a dashboard's worth), same shape as the single one."""
        svc.require(request, "flags:read", environment)
        store.environment(environment)
        _check_step(window, step)
        keys = flag if flag else [f.key for f in store.flags()]
        if len(keys) > 1000:
            raise Problem(422, "flag: at most 1000 flags per request", field="flag")
        for key in keys:
            if store.live_flag(key) is None:
                raise Problem(404, f"no flag {key[:100]!r}", field="flag")
        return json_response({"series": [svc.metrics.series(k, environment, window, step) for k in keys]})

    @app.get("/v1/metrics/flags/{key}", tags=["metrics"])
    async def series(
        request: Request,
        key: str,
        environment: str = Query(..., max_length=100),
        _: Any = BEARER,
        window: int = Query(900, ge=BASE_STEP, le=RETENTION, description="seconds"),
        step: int = Query(BASE_STEP, ge=BASE_STEP, le=RETENTION, description="seconds; a multiple of 10"),
    ) -> Response:
        """Evaluations per variant and errors of one flag, as a zero-filled time series."""
        svc.require(request, "flags:read", environment)
        store.environment(environment)
        store.flag(key)
        _check_step(window, step)
        return json_response(svc.metrics.series(key, environment, window, step))

    @app.get("/metrics", tags=["metrics"], response_class=Response)
    async def prometheus(request: Request, _: Any = BEARER) -> Response:
        """Prometheus text exposition (needs a token with flags:read)."""
        principal = svc.require(request, "flags:read")
        gauges: list[tuple[str, str, dict[str, str], float]] = [
            ("flagops_stream_subscribers", "Open /v1/stream connections.", {}, len(svc.broker.subscribers)),
            ("flagops_audit_sequence", "Sequence of the newest audit entry.", {}, store.head_sequence),
        ]
        for env in store.environments:
            if not principal.may_touch(env.key):
                continue
            flags = store.flags()
            on = sum(1 for f in flags if (s := f.states.get(env.key)) is not None and s.enabled)
            gauges.append(("flagops_flags", "Live flags by state.", {"environment": env.key, "state": "on"}, on))
            gauges.append(
                ("flagops_flags", "Live flags by state.", {"environment": env.key, "state": "off"}, len(flags) - on)
            )
        return Response(
            svc.metrics.prometheus(gauges, principal.environments),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    @app.post("/v1/evaluate", tags=["evaluate"], openapi_extra=openapi.body(openapi.EVALUATE))
    async def evaluate_batch(request: Request, _: Any = BEARER) -> Response:
        """Evaluate flags for contexts: rules in order, then deterministic bucketing."""
        principal = svc.require(request, "flags:read")
        raw = await read_json(request, svc.max_body)
        try:
            env, requests = parse_requests(raw)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        store.environment(env)
        if not principal.may_touch(env):
            raise Problem(
                403, f"this token ({principal.actor}) may not access environment {env[:60]!r}", field="environment"
            )
        decisions = []
        now = datetime.now(UTC).timestamp()
        for flag_key, context, default in requests:
            flag = store.live_flag(flag_key)
            decision = evaluate(flag, env, flag_key, context, default, store.segments)
            decisions.append(decision)
            if flag is not None:
                variant = decision["variant"]
                svc.metrics.record(flag_key, env, now, {variant: 1} if variant else {}, 0)
        return json_response({"requestId": f"r-{uuid.uuid4().hex[:16]}", "environment": env, "decisions": decisions})


def _whole_log(svc: Service, principal: Principal, what: str) -> None:
    """Verifying and exporting read every environment's history: only tokens for every environment."""
    if principal.environments is not None and not all(e.key in principal.environments for e in svc.store.environments):
        raise Problem(403, f"only tokens for every environment may {what} the whole audit log", field="environment")


def _check_step(window: int, step: int) -> None:
    if step % BASE_STEP:
        raise Problem(422, f"step: must be a multiple of {BASE_STEP} seconds", field="step")
    if window // step > MAX_POINTS:
        raise Problem(422, f"window/step: at most {MAX_POINTS} points", field="step")
