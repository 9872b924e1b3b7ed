"""A transport for one-shot commands (`flagops kill`, `rollout`, `rollback`): httpx's synchronous transport,
each request in a worker thread.

httpx's own async transport imports anyio (sockets, TLS streams, task groups) at the first request: a good part
of the panic path's start-up, for concurrency that a command of four requests does not need from an event
loop. Here the requests still run at the same time (one thread each), over the same connection pool, with the
same TLS verification and timeouts. Responses are read whole, so this is not for event streams: the console
keeps the async transport.

The threads are daemons: a request the command no longer needs (the blast-radius read of a kill that turned out
to be a no-op) does not hold up the exit the way an executor's joined worker would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import httpx


def _settle(future: asyncio.Future[httpx.Response], result: httpx.Response | None, error: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile: nobody wants it
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


class ThreadedTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify: bool = True) -> None:
        self._sync = httpx.HTTPTransport(verify=verify)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[httpx.Response] = loop.create_future()

        def work() -> None:
            result, error = None, None
            try:
                result = self._send(request)
            except BaseException as exc:  # handed to the awaiting coroutine, which raises it
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: the command has finished without this answer
                loop.call_soon_threadsafe(_settle, future, result, error)

        threading.Thread(target=work, name="flagops-http", daemon=True).start()
        return await future

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = self._sync.handle_request(request)  # the body of an AsyncClient request is bytes: readable here
        try:
            raw = b"".join(response.iter_raw())  # still encoded: the client decodes it, as with any transport
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=raw, extensions=response.extensions
        )

    async def aclose(self) -> None:
        self._sync.close()
