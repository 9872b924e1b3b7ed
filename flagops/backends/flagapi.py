"""The v1 Flag API adapter: `FlagBackend` over async httpx (see DESIGN.md section 3 and flagops/v1/wire.py).

Resilience (timeouts, retries, Retry-After, circuit breaker) lives in `backends/http.py`; this module maps
calls to endpoints, JSON to the domain model, and failures to typed errors that name the flag and the
environment. The flag list is cached per environment by ETag (a 304 costs no parsing). `watch()` follows
the SSE stream and reconnects by itself with Last-Event-ID; `stream` reports how that is going.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from flagops.backends.flagapi_governance import GovernanceCalls
from flagops.backends.http import (
    CircuitBreaker,
    ResilientClient,
    RetryPolicy,
    StaleVersion,
    error_for,
    retry_after_seconds,
    transport_error,
)
from flagops.backends.responses import json_of as _json
from flagops.backends.responses import parsed as _parse
from flagops.errors import Conflict, FlagOpsError, Forbidden, Invalid, NotFound, Unauthorized
from flagops.metrics.v1 import V1Metrics
from flagops.model import (
    AuditEntry,
    AuditVerification,
    BackendCapabilities,
    ChangeEvent,
    ChangeOrigin,
    Decision,
    Environment,
    EvaluationRequest,
    Flag,
    MetricSeries,
    StateChange,
)
from flagops.secrets import Secret
from flagops.v1 import flag_list, wire
from flagops.v1.audit import audit_from_json

# governance steps ride the same stream: the console reads its approvals lists again when one arrives
STREAM_EVENTS = frozenset(
    {"flag.updated", "flag.created", "flag.archived", "change-request.updated", "review.updated", "segment.updated"}
)


@dataclass
class StreamStatus:
    """How the live stream is doing, for a header that says live / reconnecting (n) / stale since."""

    state: str = "idle"  # idle | connecting | live | reconnecting | failed
    reconnects: int = 0
    last_event_id: int | None = None
    last_error: str | None = None
    connected_at: datetime | None = None
    lost_at: datetime | None = None

    def reset(self, last_event_id: int | None) -> None:
        """Start over in place (a face may hold a reference to this object)."""
        fresh = StreamStatus(state="connecting", last_event_id=last_event_id)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))


def _path_key(key: str) -> str:
    return quote(key, safe="")


def _body_text(response: httpx.Response, what: str) -> str:
    """The body as text, decoded the way json.loads decodes bytes (UTF-8, or UTF-16/32 by BOM)."""
    body = response.content
    try:
        return body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError:
        raise Invalid(
            f"{what}: the service did not answer with JSON (HTTP {response.status_code}). "
            "Is the profile's URL the Flag API?"
        ) from None


def _parse_flag_list(text: str, what: str, status: int) -> list[Flag]:
    """A flag list, parsed flag by flag with repeated values shared (flagops.v1.flag_list): at 50,000
    flags, parsing the whole document first would leave the console ~100 MB bigger for good."""
    try:
        return flag_list.flag_list_from_json(text)
    except json.JSONDecodeError:
        raise Invalid(
            f"{what}: the service did not answer with JSON (HTTP {status}). Is the profile's URL the Flag API?"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Invalid(
            f"{what}: the service sent data flagops cannot read ({exc}). "
            "Is the URL a v1 Flag API, and are both sides up to date?"
        ) from None


class FlagApiBackend(GovernanceCalls):
    name = "flagapi"

    def __init__(
        self,
        url: str,
        token: Secret,
        *,
        verify_tls: bool = True,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.capabilities = BackendCapabilities(approvals=True, segments=True)
        self.url = url.rstrip("/")
        self._client = ResilientClient(
            self.url, token, verify=verify_tls, policy=policy, breaker=breaker, transport=transport
        )
        self._flag_cache: dict[str, tuple[str, list[Flag]]] = {}  # environment -> (ETag, flags)
        self._environments: list[Environment] | None = None
        self.stream = StreamStatus()
        self.metrics_source = V1Metrics(self._client)  # the service's own metrics, behind the metrics port
        self._reviews_opened: dict[str, str] = {}  # idempotency key -> the break-glass review that write opened

    def __repr__(self) -> str:
        return f"FlagApiBackend({self.url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> FlagApiBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- reads ------------------------------------------------------------------------------

    async def environments(self) -> list[Environment]:
        what = "list environments"
        response = await self._client.request("GET", "/v1/environments", what=what)
        data = _json(response, what)
        envs = _parse(what, lambda d: [wire.environment_from_json(e) for e in d["environments"]], data)
        self._environments = envs
        return list(envs)

    async def list_flags(self, environment: str) -> list[Flag]:
        what = f"list flags in {environment}"
        cached = self._flag_cache.get(environment)
        headers = {"If-None-Match": cached[0]} if cached else None
        response = await self._client.request(
            "GET", "/v1/flags", what=what, params={"environment": environment}, headers=headers, ok=(304,)
        )
        if response.status_code == 304 and cached:
            return list(cached[1])
        etag = response.headers.get("ETag")
        status, text = response.status_code, _body_text(response, what)
        del response  # its body (33 MB at 50,000 flags) goes now, not after the parse
        flags = _parse_flag_list(text, what, status)
        if etag:
            self._flag_cache[environment] = (etag, flags)
        return list(flags)

    async def get_flag(self, key: str, environment: str | None = None) -> Flag:
        what = f"read {key}" + (f" in {environment}" if environment else "")
        response = await self._client.request(
            "GET", f"/v1/flags/{_path_key(key)}", what=what, params={"environment": environment}
        )
        flag: Flag = _parse(what, wire.flag_from_json, _json(response, what))
        if environment is not None and environment not in flag.states:
            raise NotFound(
                f"{what}: the flag has no state in environment {environment!r}. "
                "Check the environment name (flagops status FLAG shows them all)."
            )
        return flag

    # --- writes -----------------------------------------------------------------------------

    async def _fresh_or_none(self, key: str, environment: str) -> Flag | None:
        try:
            return await self.get_flag(key, environment)
        except FlagOpsError:
            return None

    async def _write(
        self,
        method: str,
        path: str,
        *,
        what: str,
        key: str,
        environment: str,
        body: dict[str, Any],
        expected_version: int,
        idempotency_key: str,
    ) -> Flag:
        headers = {"If-Match": f'"{expected_version}"', "Idempotency-Key": idempotency_key}
        try:
            response = await self._client.request(
                method, path, what=what, params={"environment": environment}, json=body, headers=headers
            )
        except Conflict as exc:
            fresh = await self._fresh_or_none(key, environment)
            state = fresh.state(environment) if fresh else None
            if state is not None and isinstance(exc, StaleVersion):
                who = f" by {state.updated_by}" if state.updated_by else ""
                message = (
                    f"{what}: {key} in {environment} changed since you looked: you had version "
                    f"{expected_version}, it is now version {state.version}{who} "
                    f"({'on' if state.enabled else 'off'}, rollout {state.rollout:g}%). "
                    "Review the fresh state and run the change again if it is still needed."
                )
                raise Conflict(message, fresh=fresh) from None
            raise Conflict(exc.message, fresh=fresh) from None
        self._flag_cache.pop(environment, None)
        self._remember_review(idempotency_key, response.headers.get("Flagops-Review"))
        flag: Flag = _parse(what, wire.flag_from_json, _json(response, what))
        return flag

    async def update_state(
        self,
        key: str,
        environment: str,
        change: StateChange,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        body = wire.patch_body(change, reason, ticket, origin)
        return await self._write(
            "PATCH",
            f"/v1/flags/{_path_key(key)}",
            what=f"change {key} in {environment}",
            key=key,
            environment=environment,
            body=body,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    async def restore(
        self,
        key: str,
        environment: str,
        to_version: int,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        body: dict[str, Any] = {"toVersion": to_version, "changeReason": reason}
        if ticket:
            body["ticket"] = ticket
        if origin is not None:
            body["origin"] = wire.origin_to_json(origin)
        return await self._write(
            "POST",
            f"/v1/flags/{_path_key(key)}/restore",
            what=f"roll back {key} in {environment} to version {to_version}",
            key=key,
            environment=environment,
            body=body,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    # --- audit, metrics, evaluation ---------------------------------------------------------

    async def audit(
        self,
        *,
        flag: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        what = "read the audit log"
        params = {"flag": flag, "environment": environment, "since": wire.iso(since), "limit": limit}
        response = await self._client.request("GET", "/v1/audit", what=what, params=params)
        entries: list[AuditEntry] = _parse(
            what, lambda d: [audit_from_json(e) for e in d["entries"]], _json(response, what)
        )
        return entries

    async def verify_audit(self) -> AuditVerification:
        what = "verify the audit log"
        response = await self._client.request("GET", "/v1/audit/verify", what=what)
        data = _json(response, what)

        def parse(d: dict[str, Any]) -> AuditVerification:
            broken = d.get("brokenAt")
            return AuditVerification(
                ok=bool(d["ok"]),
                checked=int(d.get("checked", 0)),
                broken_at=int(broken) if broken is not None else None,
                problem=d.get("problem"),
            )

        verification: AuditVerification = _parse(what, parse, data)
        return verification

    async def export_audit_bundle(self) -> dict[str, Any]:
        """The signed audit export (GET /v1/audit/export), as sent: flagops.audit_chain.verify_bundle checks it."""
        what = "export the audit log"
        response = await self._client.request("GET", "/v1/audit/export", what=what)
        data = _json(response, what)
        if not isinstance(data, dict):
            raise Invalid(f"{what}: the service sent data flagops cannot read (not a JSON object)")
        return data

    async def metrics(
        self, key: str, environment: str, *, window_seconds: int = 300, step_seconds: int = 10
    ) -> MetricSeries:
        return await self.metrics_source.series(
            key, environment, window_seconds=window_seconds, step_seconds=step_seconds
        )

    async def evaluate(self, environment: str, requests: list[EvaluationRequest]) -> list[Decision]:
        what = f"evaluate in {environment}"
        body = {
            "environment": environment,
            "requests": [
                {"flagKey": r.flag_key, "context": r.context, "defaultValue": r.default_value} for r in requests
            ],
        }
        response = await self._client.request("POST", "/v1/evaluate", what=what, json=body, retry=True)

        def parse(d: dict[str, Any]) -> list[Decision]:
            items = d["decisions"] if isinstance(d, dict) and "decisions" in d else d["results"]
            return [
                Decision(
                    flag_key=str(x.get("flagKey", "")),
                    variant=x.get("variant"),
                    value=x.get("value"),
                    reason=str(x.get("reason", "")),
                    rule_id=x.get("ruleId"),
                    error=x.get("error"),
                )
                for x in items
            ]

        decisions: list[Decision] = _parse(what, parse, _json(response, what))
        return decisions

    # --- the live stream --------------------------------------------------------------------

    async def watch(self, environment: str, last_event_id: int | None = None) -> AsyncIterator[ChangeEvent]:
        """Yield changes until cancelled, reconnecting with backoff and Last-Event-ID.

        Authentication/permission/not-found problems are raised (retrying cannot fix them); everything
        else is a reason to reconnect, counted in `self.stream`.
        """
        what = f"follow changes in {environment}"
        rng = random.Random()  # noqa: S311 - reconnect jitter, not a secret
        delay = 0.2
        self.stream.reset(last_event_id)
        while True:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if self.stream.last_event_id is not None:
                headers["Last-Event-ID"] = str(self.stream.last_event_id)
            server_retry: float | None = None
            try:
                async with self._client.http.stream(
                    "GET",
                    "/v1/stream",
                    params={"environment": environment},
                    headers=headers,
                    timeout=httpx.Timeout(5.0, read=60.0),  # heartbeats arrive well within a minute
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        error = error_for(response, what)
                        if isinstance(error, (Unauthorized, Forbidden, NotFound)):
                            self.stream.state = "failed"
                            self.stream.last_error = error.message
                            raise error
                        if response.status_code in (429, 503):
                            server_retry = retry_after_seconds(response)
                        raise _Reconnect(error.message)
                    self.stream.state = "live"
                    self.stream.connected_at = datetime.now().astimezone()
                    self.stream.last_error = None
                    delay = 0.2
                    async for event_type, event_id, data, retry_ms in _sse_events(response.aiter_lines()):
                        if retry_ms is not None:
                            server_retry = retry_ms / 1000
                        if event_type not in STREAM_EVENTS or data is None:
                            continue
                        if event_id is not None:
                            self.stream.last_event_id = event_id
                        try:
                            event = wire.event_from_json(event_id or 0, event_type, json.loads(data))
                        except ValueError:
                            continue  # one unreadable event must not end the stream
                        if event.flag is not None and event.environment:
                            self._flag_cache.pop(event.environment, None)
                        yield event
                    raise _Reconnect("the service closed the stream")
            except _Reconnect as exc:
                self.stream.last_error = str(exc)
            except httpx.HTTPError as exc:
                self.stream.last_error = transport_error(exc, self.url, what).message
            if self.stream.state == "live":
                self.stream.lost_at = datetime.now().astimezone()
            self.stream.state = "reconnecting"
            self.stream.reconnects += 1
            delay = min(10.0, rng.uniform(0.2, delay * 3))
            await asyncio.sleep(server_retry if server_retry is not None else delay)


class _Reconnect(Exception):
    pass


async def _sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, int | None, str | None, int | None]]:
    """Minimal text/event-stream parser: yields (event type, id, data, retry ms) per dispatched event."""
    event_type = "message"
    event_id: int | None = None
    data: list[str] = []
    retry: int | None = None
    async for line in lines:
        if line == "":
            if data or retry is not None:
                yield event_type, event_id, "\n".join(data) if data else None, retry
            event_type, data, retry = "message", [], None
            continue
        if line.startswith(":"):
            continue  # comment / heartbeat
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event_type = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            with contextlib.suppress(ValueError):  # an id that is not a sequence number: keep the last one
                event_id = int(value)
        elif name == "retry" and value.isdigit():
            retry = int(value)
