"""Connection hygiene: read timeouts, and no error that leaves a keep-alive connection in a broken state.

- Header timeout (`HardenedH11Protocol`): a connection must deliver a complete request head within
  `header_timeout` seconds of connecting, or of its first byte after a finished request; otherwise it is
  closed. uvicorn itself only times out *idle* keep-alive connections, so a client that sends half a
  header line (or nothing at all after connecting) would hold a connection forever.
- Body timeout (`RequestGuard`): the whole request body must arrive within `body_timeout` seconds of the
  handler asking for it; otherwise the answer is 408 and the connection is closed.
- Errors (`RequestGuard`): the app's 500 answer carries `Connection: close` (see app.on_error) and the
  exception stops here, so uvicorn never closes a connection whose response looked reusable; a failure
  before any response starts gets the same problem+json 500 from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from flagops.server.problems import PROBLEM_JSON, Problem

log = logging.getLogger("flagops.server")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyTimeout(Problem):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {seconds:g} s",
            field="body",
            title="Request timeout",
            headers={"Connection": "close"},
        )


def _problem_bytes(problem: Problem) -> bytes:
    import json

    return json.dumps(problem.to_json(), separators=(",", ":")).encode()


class RequestGuard:
    """ASGI middleware around the whole app (outside Starlette's own error handling)."""

    def __init__(self, app: Any, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        body_done = False
        deadline: float | None = None
        loop = asyncio.get_running_loop()

        async def guarded_receive() -> Message:
            nonlocal body_done, deadline
            if body_done or self.body_timeout <= 0:
                return await receive()  # e.g. a streaming response listening for the disconnect
            if deadline is None:
                deadline = loop.time() + self.body_timeout
            try:
                message: Message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyTimeout(self.body_timeout) from None
            if message.get("type") != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except Exception as exc:
            if started:
                return  # the app already answered (and logged it): its answer says Connection: close
            problem = exc if isinstance(exc, Problem) else Problem(500, "internal error; the service log has details")
            if not isinstance(exc, Problem):
                log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            headers = [(b"content-type", PROBLEM_JSON.encode()), (b"connection", b"close")]
            headers += [
                (k.lower().encode(), v.encode()) for k, v in problem.headers.items() if k.lower() != "connection"
            ]
            await send({"type": "http.response.start", "status": problem.status, "headers": headers})
            await send({"type": "http.response.body", "body": _problem_bytes(problem)})


class HardenedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for each request head (see the module docstring)."""

    header_timeout: float = 10.0  # set per server by `protocol_with_header_timeout`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # bytes of a request head, not yet complete (or none yet)
        elif self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_head_timer", None) is not None:
            assert self._head_timer is not None
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None and self.header_timeout > 0:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if self.conn.their_state is h11.IDLE and not busy and not self.transport.is_closing():
            self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HardenedH11Protocol]:
    return type("HardenedH11Protocol", (HardenedH11Protocol,), {"header_timeout": seconds})
