"""ErrorRateFeed: error rates and a short trend per flag, for a LiveFlags store.

Visible rows first (the flags table says which ones are on screen), then a slow sweep over the rest so
"sort by error rate" converges; each round is one batch through the metrics port
(`metrics_source(backend).series_many`). Errors are quiet: the last numbers stay, and the source's
health (shown by the faces) says it is failing.
"""

from __future__ import annotations

import asyncio
import contextlib

from flagops.backends.base import FlagBackend
from flagops.errors import FlagOpsError
from flagops.metrics.paired import metrics_source
from flagops.tui.live.store import FlagMetrics, LiveFlags


class ErrorRateFeed:
    """The metrics loop for one store: `run()` until cancelled (the app restarts it on an environment switch)."""

    def __init__(
        self,
        backend: FlagBackend,
        store: LiveFlags,
        *,
        interval: float = 3.0,
        window: int = 300,
        step: int = 30,
        batch: int = 200,
    ) -> None:
        self.backend = backend
        self.store = store
        self.interval = interval
        self.window = window  # seconds of history each error rate covers
        self.step = step
        self.batch = batch  # flags per metrics request: visible rows, then a sweep of the rest
        self._visible: list[str] = []
        self._sweep_position = 0
        self._wakeup = asyncio.Event()

    def set_visible(self, keys: list[str]) -> None:
        """The rows on screen: their metrics are fetched first and kept fresh."""
        if keys != self._visible:
            self._visible = keys
            self._wakeup.set()

    async def run(self) -> None:
        """Keep error rates fresh for visible rows and sweep the rest."""
        self._sweep_position = 0  # a (re)started feed sweeps the store's environment from its start
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            due = [k for k in self._visible if k in self.store.flags and self._is_due(k, now)]
            due += self._sweep_batch(now, max(0, self.batch - len(due)))
            if due:
                await self._fetch(due)
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):  # woken early by new visible rows, or on time
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.interval / 3)

    def _is_due(self, key: str, now: float) -> bool:
        current = self.store.metrics.get(key)
        return current is None or now - current.fetched_at >= self.interval

    def _sweep_batch(self, now: float, size: int) -> list[str]:
        flags = self.store.flags
        if size <= 0 or not flags:
            return []
        keys = list(flags)
        batch: list[str] = []
        for _ in range(min(len(keys), size * 4)):
            self._sweep_position %= len(keys)
            key = keys[self._sweep_position]
            self._sweep_position += 1
            current = self.store.metrics.get(key)
            # swept rows refresh slowly: they only feed the sort order
            if current is None or now - current.fetched_at >= self.interval * 10:
                batch.append(key)
                if len(batch) >= size:
                    break
        return batch

    async def _fetch(self, keys: list[str]) -> None:
        """One batch through the metrics port (a Prometheus source answers it with two queries)."""
        environment = self.store.environment
        loop = asyncio.get_running_loop()
        variants = {k: [v.key for v in f.variants] for k in keys if (f := self.store.flags.get(k)) is not None}
        try:
            found = await metrics_source(self.backend).series_many(
                keys, environment, window_seconds=self.window, step_seconds=self.step, variants=variants
            )
        except FlagOpsError:
            return  # the source's health says so; the last numbers stay, and faces mark them
        fetched: dict[str, FlagMetrics] = {}
        for key, series in found.items():
            trend: tuple[float, ...] = ()
            if series.has_errors:
                # steps without traffic (often the current, partial one) say nothing about errors
                trend = tuple(p.errors / p.total for p in series.points if p.total)
            fetched[key] = FlagMetrics(series.error_rate, series.evaluations_per_minute(), trend, loop.time())
        self.store.put_metrics(environment, fetched)
