"""Dashboard and palette with many flags: how long one dashboard refresh and one palette search take.

    .venv/bin/python -m benchmarks.bench_tui_extras               # 50,000 flags
    .venv/bin/python -m benchmarks.bench_tui_extras --flags 5000

The dashboard redraws its panels every 2 s (ranking by error rate and by last change over every flag);
the palette searches the flags on every keystroke. Both run on the UI thread, so both must stay well under
a frame (~16 ms) to keep typing and scrolling smooth. Measured in the real screens, headless, on a store
holding `--flags` generated flags (benchmarks/flaggen.py) with an error rate for every one of them (the
worst case: the metrics sweep has covered everything). The backend only answers the audit feed (empty):
this measures drawing and ranking, not the network.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.widgets import Static

from benchmarks.flaggen import generate_flags
from flagops.config import Profile
from flagops.model import BackendCapabilities, Environment
from flagops.tui.host import ActionKind, Destination
from flagops.tui.live.error_rates import ErrorRateFeed
from flagops.tui.live.store import FlagMetrics, LiveFlags
from flagops.tui.palette import PALETTE_PROVIDERS, FlagsProvider
from flagops.tui.screens.dashboard_screen import DashboardScreen


class QuietBackend:
    """Answers what the dashboard asks besides the store: an empty audit feed, no metrics windows."""

    name = "bench"
    capabilities = BackendCapabilities()

    async def audit(self, **_: Any) -> list[Any]:
        return []


class BenchApp(App[None]):
    """A console host (flagops/tui/host.py) with the store and nothing else: the flows are not measured."""

    COMMANDS = App.COMMANDS | PALETTE_PROVIDERS

    def __init__(self, store: LiveFlags) -> None:
        super().__init__()
        self.backend: Any = QuietBackend()
        self.ops: Any = None
        self.environment = "prod"
        self.environments = [Environment("prod", "Production", True)]
        self.readonly = False
        self.profile = Profile(name="bench", url="http://bench.invalid")
        self.store = store
        self.error_rates = ErrorRateFeed(self.backend, store)

    def compose(self) -> ComposeResult:
        yield Static("bench")

    def current_environment(self) -> Environment:
        return self.environments[0]

    def open_flag(self, key: str) -> None: ...

    def goto_flag(self, typed: str = "") -> None: ...

    def start_action(self, kind: ActionKind, key: str) -> None: ...

    def switch_environment(self, environment: str) -> None: ...

    def go_to(self, name: Destination, select: str | None = None) -> None: ...

    def check_size(self) -> None: ...


def build_store(n: int) -> LiveFlags:
    store = LiveFlags("prod")
    store.replace_all(generate_flags(n))
    rng = random.Random(3)
    for key in store.flags:
        rate = rng.random() * 0.05
        store.metrics[key] = FlagMetrics(rate, 100.0, tuple(rate * rng.random() for _ in range(10)), 0.0)
    return store


async def run(n: int, rounds: int) -> None:
    store = build_store(n)
    app = BenchApp(store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = DashboardScreen()
        app.push_screen(screen)
        await pilot.pause(0.5)
        timings = []
        for _ in range(rounds):
            start = time.perf_counter()
            screen.render_panels()
            timings.append((time.perf_counter() - start) * 1000)
        print(
            f"dashboard refresh, {n:,} flags: median {statistics.median(timings):.1f} ms, "
            f"worst {max(timings):.1f} ms ({rounds} rounds)"
        )

        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert CommandPalette.is_open(app)
        provider = FlagsProvider(app.screen)
        queries = ["checkout", "pay", "kill", "search-v2", "x", "fraud score", "zzzz"]
        timings = []
        for query in queries * max(1, rounds // len(queries)):
            start = time.perf_counter()
            hits = [hit async for hit in provider.search(query)]
            timings.append((time.perf_counter() - start) * 1000)
            assert hits is not None
        print(
            f"palette flag search, {n:,} flags: median {statistics.median(timings):.1f} ms, "
            f"worst {max(timings):.1f} ms ({len(timings)} searches)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    asyncio.run(run(args.flags, args.rounds))


if __name__ == "__main__":
    main()
