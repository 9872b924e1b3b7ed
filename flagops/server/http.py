"""Request plumbing shared by the routes: bounded JSON bodies, precondition headers, JSON responses."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi import Security
from fastapi.security import HTTPBearer
from starlette.requests import Request
from starlette.responses import Response

from flagops.server.limits import MAX_DEPTH, check_body
from flagops.server.problems import Problem, invalid
from flagops.server.store import Idem

# documents the bearer scheme in OpenAPI; the token itself is checked by auth.Authenticator
BEARER: Any = Security(HTTPBearer(auto_error=False, description="A token from the service's tokens file."))
_VERSION = re.compile(r"^[0-9]{1,18}$")
_IDEM = re.compile(r"^[\x21-\x7e]{1,200}$")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=dumps(body), status_code=status, media_type="application/json", headers=headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: Request, limit: int, *, optional: bool = False) -> Any:
    """The request's JSON body, read with a size cap; 413/415/400 problems for anything else."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isascii() or not length.isdigit() or int(length) > limit):
        raise Problem(413, f"request body is larger than {limit} bytes", field="body")
    ctype = request.headers.get("content-type")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Problem(413, f"request body is larger than {limit} bytes", field="body")
    if not raw.strip():
        if optional:
            return None
        raise Problem(400, "request body is empty; expected a JSON object", field="body")
    if ctype is not None and "json" not in ctype.lower():
        raise Problem(415, f"Content-Type must be application/json, not {ctype[:60]!r}", field="Content-Type")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise Problem(422, f"body: nested deeper than {MAX_DEPTH} levels", field="body") from None
    except ValueError as exc:
        raise Problem(400, f"malformed JSON: {str(exc)[:200]}", field="body") from None
    try:
        check_body(value)  # depth and number ranges, before any parser or the database sees the value
    except ValueError as exc:
        raise invalid(str(exc)) from None
    return value


def parse_if_match(value: str | None) -> int | None:
    """The version an If-Match names (`"7"`, `W/"7"` or `7`); None when absent (the store answers 428)."""
    if value is None:
        return None
    v = value.strip()
    if v == "*":
        raise Problem(
            428,
            "If-Match: * is not accepted; send the version you last saw so a stale view never "
            "overwrites someone else's change",
            field="If-Match",
        )
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"')
    if not _VERSION.match(v):
        raise Problem(412, f"If-Match {value[:40]!r} does not name a version of this flag state", field="If-Match")
    return int(v)


def if_none_match(request: Request, etag: str) -> bool:
    """True when the client's If-None-Match already names `etag` (answer 304)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def idempotency(request: Request, body: Any) -> Idem | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _IDEM.match(key):
        raise Problem(400, "Idempotency-Key must be 1-200 visible ASCII characters", field="Idempotency-Key")
    canonical = json.dumps(
        [request.method, request.url.path, sorted(request.query_params.multi_items()), body],
        sort_keys=True,
        separators=(",", ":"),
    )
    return Idem(key, hashlib.sha256(canonical.encode()).hexdigest())
