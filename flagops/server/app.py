"""The FastAPI application: wiring, error handling, and the small endpoints.

Every error leaves as RFC 9457 problem+json. Flag routes live in routes_flags.py; the live parts (stream,
audit, metrics, evaluation) in routes_live.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from flagops.server import (
    openapi,
    openapi_governance,
    openapi_ofrep,
    routes_flags,
    routes_governance,
    routes_live,
    routes_ofrep,
)
from flagops.server.http import BEARER, dumps, json_response
from flagops.server.problems import PROBLEM_JSON, Problem
from flagops.server.service import Service

log = logging.getLogger("flagops.server")


def problem_response(problem: Problem) -> Response:
    return Response(
        content=dumps(problem.to_json()), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "header", "path", "body")]
    name = ".".join(loc) or "request"
    return Problem(422, f"{name}: {first.get('msg', 'invalid')}", field=name)


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves on this path (FastAPI routes serve exactly their methods: no HEAD)."""
    probe = {**request.scope, "method": "GET"}  # any method: a path match is PARTIAL or FULL
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(probe)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def create_app(svc: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.broker.bind(asyncio.get_running_loop())
        tasks = [asyncio.create_task(factory(svc)) for factory in svc.background]
        if svc.on_ready is not None:
            svc.on_ready()
        try:
            yield
        finally:
            svc.broker.close_all()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(
        title="flagops Flag API",
        version="1.0.0",
        lifespan=lifespan,
        description="The reference v1 Flag API service of flagops. Errors are RFC 9457 problem+json.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = svc

    def openapi_document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_governance.finish(
                openapi_ofrep.finish(
                    openapi.finish(
                        get_openapi(
                            title=app.title, version=app.version, description=app.description, routes=app.routes
                        )
                    )
                )
            )
        return app.openapi_schema

    app.openapi = openapi_document  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(_validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path[:200]}"
        if exc.status_code == 405:
            # Starlette names only the methods of the first route that matched the path; FastAPI makes
            # one route per method, so collect them all
            allowed = _allowed_methods(app, request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed on {request.url.path[:200]}; allowed: {', '.join(allowed)}"
        return problem_response(Problem(exc.status_code, detail, headers=headers))

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Response:
        # logged with the route only: never headers (they carry the token). Connection: close, because
        # Starlette re-raises after this answer and uvicorn then drops the connection: the client must
        # know not to reuse it (guard.RequestGuard stops the re-raise).
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return problem_response(
            Problem(500, "internal error; the service log has details", headers={"Connection": "close"})
        )

    @app.get("/healthz", tags=["service"])
    async def healthz() -> Response:
        return json_response(
            {"status": "ok", "flags": svc.store.flag_count(), "auditSequence": svc.store.head_sequence}
        )

    @app.get("/v1/environments", tags=["flags"])
    async def environments(request: Request, _: Any = BEARER) -> Response:
        svc.require(request, "flags:read")
        return json_response(
            {"environments": [{"key": e.key, "name": e.name, "protected": e.protected} for e in svc.store.environments]}
        )

    gate = routes_governance.add_routes(app, svc)  # policy, change requests, reviews, segments
    routes_flags.add_routes(app, svc, gate)
    routes_live.add_routes(app, svc)
    routes_ofrep.add_routes(app, svc)  # OpenFeature OFREP: /ofrep/v1/evaluate/flags[/{key}]
    return app
