"""ChangeFeed: keeps a LiveFlags store's flags current while the console is open.

The backend's `watch()` stream (SSE) applies each change in place; a small periodic request is the
liveness probe, and `list_flags()` (cheap: ETag / 304) resyncs after every reconnect and is the polling
fallback when the backend has no stream. Failures move the connection state to "reconnecting (n)" and
then "stale since HH:MM:SS" with exponential backoff; the last-known flags stay in place. A service that
hangs (accepts connections, never answers) is caught by the probe's own deadline (`probe_timeout`), and
the data is called stale once nothing has been heard from the service for `stale_after` seconds, whether
or not a retry has finished by then: a hung service shows "stale" about 5 s after it stopped answering
instead of after the HTTP client's retries gave up.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime

from flagops.backends.base import FlagBackend
from flagops.errors import FlagOpsError, Forbidden, Unauthorized
from flagops.tui.live.connection import ConnectionState, Link, backoff_delay
from flagops.tui.live.store import LiveFlags

PROBE_INTERVAL = 2.0  # seconds between liveness probes (tests set a faster one on the feed)


class ChangeFeed:
    """The change loop for one store: `run()` until cancelled (the app restarts it on an environment switch)."""

    STALE_AFTER_ATTEMPTS = 3  # after this many failed attempts the data is called stale

    def __init__(
        self,
        backend: FlagBackend,
        store: LiveFlags,
        *,
        probe_interval: float = PROBE_INTERVAL,
        probe_timeout: float = 3.0,
        stale_after: float = 5.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.backend = backend
        self.store = store
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.stale_after = stale_after
        self.poll_interval = poll_interval
        self.last_event_id: int | None = None  # where the stream resumes after a reconnect
        self._heard_at: float | None = None  # loop time of the last answer from the service
        self._heard_at_wall: datetime | None = None
        self._stale_timer: asyncio.Task[None] | None = None

    async def load(self) -> None:
        self.store.replace_all(await self.backend.list_flags(self.store.environment))

    async def run(self) -> None:
        """Keep the flags current until cancelled. Never raises a backend error; shows it instead."""
        self.last_event_id = None  # a (re)started feed follows the store's environment from its start
        attempts = 0
        try:
            while True:
                try:
                    await self.load()
                    self._heard()
                    attempts = 0
                    self._cancel_stale_timer()
                    use_stream = self.backend.capabilities.stream
                    self.store.set_connection(ConnectionState(Link.LIVE, polling=not use_stream))
                    if use_stream:
                        await self._follow_stream()
                    else:
                        await self._poll()
                except asyncio.CancelledError:
                    raise
                except (Unauthorized, Forbidden) as exc:
                    self.store.fail(exc.message)
                    return
                except Exception as exc:
                    attempts += 1
                    message = exc.message if isinstance(exc, FlagOpsError) else type(exc).__name__
                    since = self._heard_at_wall or datetime.now(UTC)
                    stale = attempts >= self.STALE_AFTER_ATTEMPTS or self._silent_for() >= self.stale_after
                    link = Link.STALE if stale else Link.RECONNECTING
                    self.store.set_connection(ConnectionState(link, attempts, since, error=message))
                    if not stale:
                        self._start_stale_timer()
                    await asyncio.sleep(backoff_delay(attempts))
        finally:
            self._cancel_stale_timer()

    # -- how long since the service answered ------------------------------------------------------------

    def _heard(self) -> None:
        """The service just answered: the data is current as of now."""
        self._heard_at = asyncio.get_running_loop().time()
        self._heard_at_wall = datetime.now(UTC)

    def _silent_for(self) -> float:
        if self._heard_at is None:
            return float("inf")
        return asyncio.get_running_loop().time() - self._heard_at

    def _start_stale_timer(self) -> None:
        """Call the data stale `stale_after` seconds after the last answer, even while a retry still hangs."""
        if self._stale_timer is not None and not self._stale_timer.done():
            return

        async def mark_stale() -> None:
            await asyncio.sleep(max(0.0, self.stale_after - self._silent_for()))
            if self.store.connection.link is Link.RECONNECTING:
                self.store.set_connection(replace(self.store.connection, link=Link.STALE))

        self._stale_timer = asyncio.ensure_future(mark_stale())

    def _cancel_stale_timer(self) -> None:
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None

    # -- following the service ---------------------------------------------------------------------------

    async def _follow_stream(self) -> None:
        """Apply stream events; a probe task checks the service is still there (the stream may be quiet)."""
        stream = self.backend.watch(self.store.environment, self.last_event_id)
        probe = asyncio.ensure_future(self._probe())
        next_event = asyncio.ensure_future(anext(stream))
        try:
            while True:
                done, _ = await asyncio.wait({probe, next_event}, return_when=asyncio.FIRST_COMPLETED)
                if probe in done:
                    probe.result()  # raises the probe's failure
                    raise RuntimeError("probe ended")
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    raise FlagOpsError("The live stream ended.") from None
                self._heard()
                self.last_event_id = max(event.id, self.last_event_id or 0)
                self.store.apply_event(event)
                next_event = asyncio.ensure_future(anext(stream))
        finally:
            for task in (probe, next_event):
                task.cancel()
            await asyncio.gather(probe, next_event, return_exceptions=True)
            aclose = getattr(stream, "aclose", None)  # async generators have it; other iterators may not
            if aclose is not None:
                with contextlib.suppress(Exception):  # closing a broken stream may fail too: it is gone
                    await aclose()

    async def _probe(self) -> None:
        """Every `probe_interval`, ask the service something small; raises when it is gone or hangs.

        The stream reconnects quietly by itself, so without this a dead service would look "live". A full
        resync is not needed here: the stream resumes from the last event id, and every reconnect of
        `run` starts with a full (ETag-cached) list anyway. With 50,000 flags a full list per probe
        would cost a second of parsing on the UI's event loop.
        """
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                # the HTTP client's own timeouts and retries take far longer than an on-call person
                # should look at data they believe is live
                await asyncio.wait_for(self.backend.environments(), self.probe_timeout)
            except TimeoutError:
                raise FlagOpsError(f"The flag service did not answer within {self.probe_timeout:g} s.") from None
            self._heard()

    async def _poll(self) -> None:
        """Poll the list; the probe runs beside it, so a hung service is noticed while a poll waits."""

        async def polls() -> None:
            while True:
                await asyncio.sleep(self.poll_interval)
                await self.load()
                self._heard()

        tasks = [asyncio.ensure_future(polls()), asyncio.ensure_future(self._probe())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises the failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
