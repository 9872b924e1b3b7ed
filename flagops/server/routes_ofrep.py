"""The OFREP endpoints: `POST /ofrep/v1/evaluate/flags/{key}` (one flag) and `POST /ofrep/v1/evaluate/flags`
(every live flag, with ETag / If-None-Match -> 304).

Auth is the service's own Bearer tokens (scope flags:read). The environment comes from the
`X-Flagops-Environment` header; without it, a token limited to exactly one environment evaluates there.
Errors leave in OFREP's shape (`{key?, errorCode, errorDetails}`), not problem+json, because that is what the
OpenFeature providers parse: 400 for a bad request or context, 404 FLAG_NOT_FOUND, 401/403/429 by status
(429 with Retry-After in seconds), 500 GENERAL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Header, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from flagops.server import openapi_ofrep
from flagops.server.evaluate import evaluate
from flagops.server.http import BEARER, if_none_match, json_response, read_json
from flagops.server.ofrep import (
    ENVIRONMENT_HEADER,
    FLAG_NOT_FOUND,
    GENERAL,
    PARSE_ERROR,
    BulkAnswers,
    OfrepError,
    answer,
    context_fingerprint,
    parse_context,
)
from flagops.server.problems import Problem

if TYPE_CHECKING:
    from flagops.server.service import Service

log = logging.getLogger("flagops.server")
# above this many flags a bulk answer is computed off the event loop, so streams and kills are not held up
_THREAD_THRESHOLD = 1000
_ENV_HEADER = Header(
    None,
    alias=ENVIRONMENT_HEADER,
    description="Environment to evaluate in; optional when the token allows exactly one.",
)


def _error_response(error: OfrepError, key: str | None = None) -> Response:
    return json_response(error.body(key), error.status, error.headers or None)


def _from_problem(problem: Problem) -> OfrepError:
    """A service Problem (auth, rate limit, body) as an OFREP error an SDK understands."""
    if problem.status in (401, 403, 429):
        return OfrepError(problem.status, GENERAL, problem.detail, problem.headers)
    if problem.status in (400, 413, 415):  # unreadable body: malformed JSON, too large, not JSON
        return OfrepError(400, PARSE_ERROR, problem.detail)
    return OfrepError(400, GENERAL, problem.detail)


def add_routes(app: FastAPI, svc: Service) -> None:
    store = svc.store
    bulk_answers = BulkAnswers()

    async def _environment(request: Request, header: str | None) -> str:
        address = request.client.host if request.client is not None else ""  # wrong-token limits per address
        principal = svc.auth.authenticate(request.headers.get("authorization"), address)  # 401 / 429 Problems
        if "flags:read" not in principal.scopes:
            raise OfrepError(403, GENERAL, f"this token ({principal.actor}) lacks the flags:read scope")
        env = (header or "").strip()
        if not env:
            allowed = sorted(principal.environments) if principal.environments is not None else None
            if allowed is None or len(allowed) != 1:
                names = ", ".join(allowed if allowed is not None else (e.key for e in store.environments))
                raise OfrepError(
                    400,
                    GENERAL,
                    f"which environment? Send the {ENVIRONMENT_HEADER} header (this token may use: {names})",
                )
            env = allowed[0]
        try:
            store.environment(env)
        except Problem as exc:
            raise OfrepError(400, GENERAL, f"{ENVIRONMENT_HEADER}: {exc.detail}") from None
        if not principal.may_touch(env):
            raise OfrepError(403, GENERAL, f"this token ({principal.actor}) may not read environment {env[:60]!r}")
        return env

    async def _context(request: Request) -> dict[str, Any]:
        return parse_context(await read_json(request, svc.max_body, optional=True))

    def _archived(key: str) -> bool:
        try:
            store.flag(key)
        except Problem as exc:
            return bool(exc.extra.get("archived"))
        return False

    async def single(request: Request, key: str, header: str | None) -> Response:
        env = await _environment(request, header)
        context = await _context(request)
        flag = store.live_flag(key)
        if flag is None or env not in flag.states:
            why = "is archived" if flag is None and _archived(key) else f"does not exist in {env}"
            raise OfrepError(404, FLAG_NOT_FOUND, f"flag {key[:100]!r} {why}")
        decision = evaluate(flag, env, key, context, None, svc.store.segments)
        result = answer(flag, env, decision)
        if decision["variant"]:  # an evaluation a client acted on: counted as /v1/evaluate counts it
            svc.metrics.record(key, env, datetime.now(UTC).timestamp(), {decision["variant"]: 1}, 0)
        if result.error is not None:
            raise result.error
        return json_response(result.body)

    async def bulk(request: Request, header: str | None) -> Response:
        env = await _environment(request, header)
        context = await _context(request)
        # the version is read before the flags, so the body is never older than the ETag that names it
        version = store.env_version(env)
        etag = f'"{store.instance}.{env}.{version}.{context_fingerprint(context)}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if if_none_match(request, etag):
            return Response(status_code=304, headers=headers)
        flags = store.flags()
        if len(flags) > _THREAD_THRESHOLD:
            body = await run_in_threadpool(bulk_answers.body, flags, env, context, version)
        else:
            body = bulk_answers.body(flags, env, context, version, svc.store.segments)
        return Response(body, media_type="application/json", headers=headers)

    @app.post(
        "/ofrep/v1/evaluate/flags/{key}", tags=["ofrep"], response_class=Response, openapi_extra=openapi_ofrep.SINGLE
    )
    async def ofrep_single(
        request: Request, key: str, _: Any = BEARER, environment: str | None = _ENV_HEADER
    ) -> Response:
        """OFREP single flag evaluation (the OpenFeature server-side providers call it per evaluation)."""
        return await _answering(lambda: single(request, key, environment), key)

    @app.post("/ofrep/v1/evaluate/flags", tags=["ofrep"], response_class=Response, openapi_extra=openapi_ofrep.BULK)
    async def ofrep_bulk(
        request: Request,
        _: Any = BEARER,
        environment: str | None = _ENV_HEADER,
        if_none: str | None = Header(None, alias="If-None-Match"),
    ) -> Response:
        """OFREP bulk evaluation of every live flag (the client-side providers poll it with If-None-Match)."""
        return await _answering(lambda: bulk(request, environment), None)


async def _answering(handler: Callable[[], Awaitable[Response]], key: str | None) -> Response:
    """Run an OFREP handler; every error leaves in OFREP's shape."""
    try:
        return await handler()
    except OfrepError as exc:
        return _error_response(exc, key)
    except Problem as exc:
        return _error_response(_from_problem(exc), key)
    except Exception:
        log.exception("OFREP evaluation failed (flag %s)", (key or "*")[:100])
        return _error_response(OfrepError(500, GENERAL, "internal error; the service log has details"), key)
