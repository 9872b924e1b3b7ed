"""LiveFlags: the flags of one environment, kept current while the console is open.

Two loops feed it:
- the change loop: the backend's `watch()` stream (SSE) applies each change in place; a small periodic
  request is the liveness probe, and `list_flags()` (cheap: ETag / 304) resyncs after every reconnect
  and is the polling fallback when the backend has no stream. Failures move the connection state to
  "reconnecting (n)" and then "stale since HH:MM:SS" with exponential backoff; the last-known flags
  stay in place. A service that hangs (accepts connections, never answers) is caught by the probe's
  own deadline (`probe_timeout`), and the data is called stale once nothing has been heard from the
  service for `stale_after` seconds, whether or not a retry has finished by then: a hung service shows
  "stale" about 5 s after it stopped answering instead of after the HTTP client's retries gave up.
- the metrics loop: error rates and a short trend per flag, visible rows first (the table tells us which
  ones are on screen), then a slow sweep over the rest so "sort by error rate" converges; each round is
  one batch through the metrics port (`metrics_source(backend).series_many`).

It does not import Textual: listeners are plain callables, so the widgets decide how to repaint.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum

from flagops import timefmt
from flagops.backends.base import FlagBackend
from flagops.errors import FlagOpsError, Forbidden, Unauthorized
from flagops.metrics.paired import metrics_source
from flagops.model import ChangeEvent, Flag
from flagops.search import FlagIndex


class Link(str, Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    FAILED = "failed"  # retrying cannot help (the token is not accepted)


@dataclass(frozen=True)
class ConnectionState:
    link: Link
    attempts: int = 0  # failed attempts since the connection was lost
    stale_since: datetime | None = None  # when the data stopped being current
    polling: bool = False  # True when updates come from polling, not the stream
    error: str | None = None  # the last failure, in words

    def label(self) -> str:
        """'live', 'reconnecting (3)', 'stale since 03:12:09' — what the header shows."""
        if self.link is Link.LIVE:
            return "live (polling)" if self.polling else "live"
        if self.link is Link.RECONNECTING:
            return f"reconnecting ({self.attempts})"
        if self.link is Link.STALE and self.stale_since is not None:
            return f"stale since {timefmt.when(self.stale_since)}"  # a date too when it was not today
        if self.link is Link.FAILED:
            return "not authorized"
        if self.link is Link.CONNECTING and self.attempts:
            return f"connecting ({self.attempts})"
        return self.link.value


@dataclass(frozen=True)
class FlagMetrics:
    error_rate: float | None  # None: the platform has no error source, or not fetched yet
    evaluations_per_minute: float
    trend: tuple[float, ...]  # error rate per step, oldest first (empty when no error source)
    fetched_at: float  # loop time


FlagsListener = Callable[[set[str]], None]  # keys whose flag or metrics changed
ConnectionListener = Callable[[ConnectionState], None]
ReloadListener = Callable[[], None]  # everything changed (first load, environment switch, resync)
EventListener = Callable[[ChangeEvent], None]  # every stream event, before it is applied (change requests too)


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 15.0) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to `cap`."""
    delay: float = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * random.uniform(0.8, 1.2)


class LiveFlags:
    """The current environment's flags, an index to search them, and how current they are."""

    STALE_AFTER_ATTEMPTS = 3  # after this many failed attempts the data is called stale

    def __init__(
        self,
        backend: FlagBackend,
        environment: str,
        *,
        probe_interval: float = 2.0,
        probe_timeout: float = 3.0,
        stale_after: float = 5.0,
        poll_interval: float = 1.0,
        metrics_interval: float = 3.0,
        metrics_window: int = 300,
        metrics_step: int = 30,
        metrics_batch: int = 200,
    ) -> None:
        self.backend = backend
        self.environment = environment
        self.flags: dict[str, Flag] = {}
        self.index = FlagIndex([], environment)
        self._index_ready = True  # False while the first full list is being indexed in a thread
        self._index_pending: set[str] = set()  # keys changed while the index was being built
        self._index_generation = 0
        self._index_task: asyncio.Task[None] | None = None
        self.metrics: dict[str, FlagMetrics] = {}
        self.connection = ConnectionState(Link.CONNECTING)
        self.loaded = False
        self.last_event_id: int | None = None
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.stale_after = stale_after
        self._heard_at: float | None = None  # loop time of the last answer from the service
        self._heard_at_wall: datetime | None = None
        self._stale_timer: asyncio.Task[None] | None = None
        self.poll_interval = poll_interval
        self.metrics_interval = metrics_interval
        self.metrics_window = metrics_window
        self.metrics_step = metrics_step
        self.metrics_batch = metrics_batch  # flags per metrics request: visible rows, then a sweep of the rest
        self._flags_listeners: list[FlagsListener] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._reload_listeners: list[ReloadListener] = []
        self._event_listeners: list[EventListener] = []
        self._visible: list[str] = []
        self._sweep_position = 0
        self._metrics_wakeup = asyncio.Event()

    # -- listeners ---------------------------------------------------------------------------------

    def on_flags(self, listener: FlagsListener) -> None:
        self._flags_listeners.append(listener)

    def on_connection(self, listener: ConnectionListener) -> None:
        self._connection_listeners.append(listener)

    def on_reload(self, listener: ReloadListener) -> None:
        self._reload_listeners.append(listener)

    def on_event(self, listener: EventListener) -> None:
        """Every event of the stream, flag or not (the approvals follow change-request events this way)."""
        self._event_listeners.append(listener)

    def remove_listener(self, listener: object) -> None:
        """Stop calling `listener` (a widget that goes away must not be called back)."""
        for listeners in (
            self._flags_listeners,
            self._connection_listeners,
            self._reload_listeners,
            self._event_listeners,
        ):
            while listener in listeners:
                listeners.remove(listener)  # type: ignore[arg-type]

    def _emit_flags(self, keys: set[str]) -> None:
        if keys:
            for listener in list(self._flags_listeners):
                listener(keys)

    def _emit_reload(self) -> None:
        for listener in list(self._reload_listeners):
            listener()

    def _set_connection(self, state: ConnectionState) -> None:
        if state != self.connection:
            self.connection = state
            for listener in list(self._connection_listeners):
                listener(state)

    # -- data --------------------------------------------------------------------------------------

    def get(self, key: str) -> Flag | None:
        return self.flags.get(key)

    def replace_all(self, flags: Iterable[Flag]) -> None:
        """Take a full list (first load, resync after a reconnect, a poll); tells listeners what changed."""
        fresh = {flag.key: flag for flag in flags}
        if not self.loaded:
            self.flags = fresh
            self.loaded = True
            self._start_index_build()
            self._emit_reload()
            return
        changed = {key for key, flag in fresh.items() if self.flags.get(key) != flag}
        removed = set(self.flags) - set(fresh)
        if not changed and not removed:
            return
        added = {key for key in changed if key not in self.flags}
        for key in removed:
            del self.flags[key]
            self._index_remove(key)
            self.metrics.pop(key, None)
        for key in changed:
            self.flags[key] = fresh[key]
            self._index_update(fresh[key])
        if added or removed:
            self._emit_reload()  # the set of rows changed: the table re-runs its query
        else:
            self._emit_flags(changed)

    def apply_event(self, event: ChangeEvent) -> None:
        """One change from the stream: update that flag in place."""
        for listener in list(self._event_listeners):
            listener(event)
        self.last_event_id = max(event.id, self.last_event_id or 0)
        if event.environment not in (None, self.environment):
            return
        if event.type == "flag.archived" or (event.flag is not None and event.flag.archived):
            if self.flags.pop(event.flag_key, None) is not None:
                self._index_remove(event.flag_key)
                self.metrics.pop(event.flag_key, None)
                self._emit_reload()
            return
        if event.flag is None:
            return  # nothing to show yet; the next probe resyncs
        is_new = event.flag_key not in self.flags
        self.flags[event.flag_key] = event.flag
        self._index_update(event.flag)
        if is_new:
            self._emit_reload()
        else:
            self._emit_flags({event.flag_key})

    def put(self, flag: Flag) -> None:
        """A flag this console just changed or fetched (e.g. after an action): show it at once."""
        if flag.state(self.environment) is None:
            return
        is_new = flag.key not in self.flags
        self.flags[flag.key] = flag
        self._index_update(flag)
        if is_new:
            self._emit_reload()
        else:
            self._emit_flags({flag.key})

    def search(self, query: str) -> list[Flag]:
        if not self._index_ready:
            if not query.strip():
                # the first paint does not wait for the index: every flag, in key order (the index's
                # own order for an empty query, so nothing moves when it is ready)
                return [self.flags[key] for key in sorted(self.flags)]
            self._finish_index_now()  # typed before the background build finished
        return self.index.search(query)

    # -- the search index: built off the event loop after the first paint --------------------------------

    def _start_index_build(self) -> None:
        self._index_ready = False
        self._index_pending = set()
        snapshot = list(self.flags.values())
        generation = self._index_generation = self._index_generation + 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._install_index(FlagIndex(snapshot, self.environment), generation)
            return
        environment = self.environment

        def make() -> FlagIndex:
            index = FlagIndex(snapshot, environment)
            index.search("warm up")  # search.py builds some tables on the first real query; do it here too
            return index

        async def build() -> None:
            self._install_index(await asyncio.to_thread(make), generation)

        self._index_task = loop.create_task(build())

    def _finish_index_now(self) -> None:
        if self._index_task is not None:
            self._index_task.cancel()
            self._index_task = None
        self._install_index(FlagIndex(list(self.flags.values()), self.environment), self._index_generation)

    def _install_index(self, index: FlagIndex, generation: int) -> None:
        if generation != self._index_generation or self._index_ready:
            return  # the environment changed meanwhile, or a synchronous build won
        # changes that arrived while it was being built
        for key in self._index_pending:
            flag = self.flags.get(key)
            if flag is None:
                index.remove(key)
            else:
                index.update(flag)
        self._index_pending = set()
        self.index = index
        self._index_ready = True
        self._index_task = None
        if len(self.flags) >= 5000:
            # Tens of thousands of long-lived objects (flags and index): keep the cyclic GC from walking
            # them on every full collection (a 0.3 s pause at 50,000 flags, felt as a stuck keystroke).
            # Refcounting still frees them when replaced; they hold no reference cycles. Only for big lists,
            # because freezing also pins whatever cyclic garbage exists at that moment.
            gc.freeze()

    def _index_update(self, flag: Flag) -> None:
        if self._index_ready:
            self.index.update(flag)
        else:
            self._index_pending.add(flag.key)

    def _index_remove(self, key: str) -> None:
        if self._index_ready:
            self.index.remove(key)
        else:
            self._index_pending.add(key)

    async def switch_environment(self, environment: str) -> None:
        """Forget the old environment's flags and load the new one's (the caller restarts `run`)."""
        self.environment = environment
        self.flags = {}
        self.metrics = {}
        self.index = FlagIndex([], environment)
        self._index_ready = True
        self._index_pending = set()
        self._index_generation += 1
        if self._index_task is not None:
            self._index_task.cancel()
            self._index_task = None
        self.loaded = False
        self.last_event_id = None
        self._sweep_position = 0
        self._set_connection(ConnectionState(Link.CONNECTING))
        self._emit_reload()

    # -- the change loop ----------------------------------------------------------------------------

    async def load(self) -> None:
        self.replace_all(await self.backend.list_flags(self.environment))

    async def run(self) -> None:
        """Keep the flags current until cancelled. Never raises a backend error; shows it instead."""
        attempts = 0
        try:
            while True:
                try:
                    await self.load()
                    self._heard()
                    attempts = 0
                    self._cancel_stale_timer()
                    use_stream = self.backend.capabilities.stream
                    self._set_connection(ConnectionState(Link.LIVE, polling=not use_stream))
                    if use_stream:
                        await self._follow_stream()
                    else:
                        await self._poll()
                except asyncio.CancelledError:
                    raise
                except (Unauthorized, Forbidden) as exc:
                    self.fail(exc.message)
                    return
                except Exception as exc:
                    attempts += 1
                    message = exc.message if isinstance(exc, FlagOpsError) else type(exc).__name__
                    since = self._heard_at_wall or datetime.now(UTC)
                    stale = attempts >= self.STALE_AFTER_ATTEMPTS or self._silent_for() >= self.stale_after
                    link = Link.STALE if stale else Link.RECONNECTING
                    self._set_connection(ConnectionState(link, attempts, since, error=message))
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
            if self.connection.link is Link.RECONNECTING:
                self._set_connection(replace(self.connection, link=Link.STALE))

        self._stale_timer = asyncio.ensure_future(mark_stale())

    def _cancel_stale_timer(self) -> None:
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None

    def connect_failed(self, attempts: int, message: str) -> None:
        """Startup could not reach the service yet (no data to call stale): 'connecting (n)'."""
        self._set_connection(ConnectionState(Link.CONNECTING, attempts, error=message))

    def fail(self, message: str) -> None:
        """Stop claiming anything about freshness: the service refuses us (shown in the header)."""
        self._set_connection(ConnectionState(Link.FAILED, stale_since=datetime.now(UTC), error=message))

    async def _follow_stream(self) -> None:
        """Apply stream events; a probe task checks the service is still there (the stream may be quiet)."""
        stream = self.backend.watch(self.environment, self.last_event_id)
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
                self.apply_event(event)
                next_event = asyncio.ensure_future(anext(stream))
        finally:
            for task in (probe, next_event):
                task.cancel()
            await asyncio.gather(probe, next_event, return_exceptions=True)
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    pass

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

    # -- the metrics loop ----------------------------------------------------------------------------

    def set_visible(self, keys: list[str]) -> None:
        """The rows on screen: their metrics are fetched first and kept fresh."""
        if keys != self._visible:
            self._visible = keys
            self._metrics_wakeup.set()

    async def run_metrics(self) -> None:
        """Keep error rates fresh for visible rows and sweep the rest; errors are quiet (data stays)."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            due = [k for k in self._visible if k in self.flags and self._is_due(k, now)]
            due += self._sweep_batch(now, max(0, self.metrics_batch - len(due)))
            if due:
                await self._fetch_metrics(due)
            self._metrics_wakeup.clear()
            try:
                await asyncio.wait_for(self._metrics_wakeup.wait(), timeout=self.metrics_interval / 3)
            except TimeoutError:
                pass

    def _is_due(self, key: str, now: float) -> bool:
        current = self.metrics.get(key)
        return current is None or now - current.fetched_at >= self.metrics_interval

    def _sweep_batch(self, now: float, size: int) -> list[str]:
        if size <= 0 or not self.flags:
            return []
        keys = list(self.flags)
        batch: list[str] = []
        for _ in range(min(len(keys), size * 4)):
            self._sweep_position %= len(keys)
            key = keys[self._sweep_position]
            self._sweep_position += 1
            current = self.metrics.get(key)
            # swept rows refresh slowly: they only feed the sort order
            if current is None or now - current.fetched_at >= self.metrics_interval * 10:
                batch.append(key)
                if len(batch) >= size:
                    break
        return batch

    async def _fetch_metrics(self, keys: list[str]) -> None:
        """One batch through the metrics port (a Prometheus source answers it with two queries)."""
        environment = self.environment
        loop = asyncio.get_running_loop()
        variants = {k: [v.key for v in f.variants] for k in keys if (f := self.flags.get(k)) is not None}
        try:
            found = await metrics_source(self.backend).series_many(
                keys, environment, window_seconds=self.metrics_window, step_seconds=self.metrics_step, variants=variants
            )
        except FlagOpsError:
            return  # the source's health says so; the last numbers stay, and faces mark them
        changed: set[str] = set()
        for key, series in found.items():
            if environment != self.environment or key not in self.flags:
                continue
            trend: tuple[float, ...] = ()
            if series.has_errors:
                # steps without traffic (often the current, partial one) say nothing about errors
                trend = tuple(p.errors / p.total for p in series.points if p.total)
            fresh = FlagMetrics(series.error_rate, series.evaluations_per_minute(), trend, loop.time())
            old = self.metrics.get(key)
            self.metrics[key] = fresh
            if old is None or (old.error_rate, old.trend, old.evaluations_per_minute) != (
                fresh.error_rate,
                fresh.trend,
                fresh.evaluations_per_minute,
            ):
                changed.add(key)
        self._emit_flags(changed)
