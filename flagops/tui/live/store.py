"""LiveFlags: the flags of one environment as the console shows them now, and how current they are.

The feeds in this package fill it (changes.py: the stream and its fallbacks; error_rates.py: error rates);
widgets read it and subscribe to what changed. A full list is indexed for search off the event loop after
the first paint, and changes that arrive meanwhile are applied to the index once it is ready.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flagops.model import ChangeEvent, Flag
from flagops.search import FlagIndex
from flagops.tui.live.connection import ConnectionState, Link


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


class LiveFlags:
    """The current environment's flags, an index to search them, and how current they are."""

    def __init__(self, environment: str) -> None:
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
        self._flags_listeners: list[FlagsListener] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._reload_listeners: list[ReloadListener] = []
        self._event_listeners: list[EventListener] = []

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

    def set_connection(self, state: ConnectionState) -> None:
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
        """Forget the old environment's flags (the caller restarts the feeds, which load the new one's)."""
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
        self.set_connection(ConnectionState(Link.CONNECTING))
        self._emit_reload()

    # -- how current it is -------------------------------------------------------------------------------

    def connect_failed(self, attempts: int, message: str) -> None:
        """Startup could not reach the service yet (no data to call stale): 'connecting (n)'."""
        self.set_connection(ConnectionState(Link.CONNECTING, attempts, error=message))

    def fail(self, message: str) -> None:
        """Stop claiming anything about freshness: the service refuses us (shown in the header)."""
        self.set_connection(ConnectionState(Link.FAILED, stale_since=datetime.now(UTC), error=message))

    # -- error rates -------------------------------------------------------------------------------------

    def put_metrics(self, environment: str, fetched: Mapping[str, FlagMetrics]) -> None:
        """Error rates fetched for `environment`: kept for flags still shown, listeners told which moved."""
        changed: set[str] = set()
        for key, fresh in fetched.items():
            if environment != self.environment or key not in self.flags:
                continue
            old = self.metrics.get(key)
            self.metrics[key] = fresh
            if old is None or (old.error_rate, old.trend, old.evaluations_per_minute) != (
                fresh.error_rate,
                fresh.trend,
                fresh.evaluations_per_minute,
            ):
                changed.add(key)
        self._emit_flags(changed)
