"""Console budgets with many flags: first paint, search keystroke latency, memory.

    .venv/bin/python -m benchmarks.bench_tui                 # 50,000 flags, 120x40 headless terminal
    .venv/bin/python -m benchmarks.bench_tui --flags 5000 --size 80x24

What it does: starts the reference service (a real subprocess on loopback, no demo data), loads
`--flags` generated flags into it (benchmarks/flaggen.py, created through POST /v1/flags), then runs the
real console (FlagOpsApp + the flagapi backend) headless and measures:

- fetch: GET /v1/flags for the environment and parsing it (the data arriving; not part of the UI budget)
- first paint: from the moment the flag list is handed to the console's store until the screen has been
  composited with the rows (budget <= 1 s)
- search ready: until the search index, built in a thread after the first paint, is in place
- search keystroke: from a key event entering the app (typing into the `/` search box) until the screen
  update that shows the new result set has been composited (budget <= 50 ms each; median and worst)
- memory: the process's resident set size with everything loaded (budget <= 250 MB)

"Composited" is detected by wrapping App._display, which Textual calls with each screen update (also when
headless). The live loop is not started, so the service's stream does not interfere with the timings.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from textual import events
from textual.keys import _character_to_key

from benchmarks.flaggen import generate_flags
from flagops.config import Profile
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.app import FlagOpsApp
from flagops.tui.widgets.flag_table import FlagTable
from flagops.v1 import wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import start_service

QUERIES = ("checkout", "tag:payments", "pay", "owner:team-search", "stale")
ENVIRONMENT = "prod"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load_flags(url: str, token: str, count: int) -> float:
    """Create `count` generated flags in the service; returns seconds taken."""
    flags = generate_flags(count)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=60
    ) as client:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for flag in flags:
            queue.put_nowait(flag)

        async def worker() -> None:
            while not queue.empty():
                flag = queue.get_nowait()
                body = wire.flag_to_json(flag)
                envs = {env: {"enabled": s.enabled, "rollout": s.rollout} for env, s in flag.states.items()}
                payload = {
                    k: v for k, v in body.items() if k not in ("environments", "createdAt", "archived", "project")
                }
                payload.update(environments=envs, changeReason="benchmark data")
                response = await client.post("/v1/flags", json=payload)
                if response.status_code not in (200, 201, 409):
                    raise RuntimeError(f"creating {flag.key}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(8)))
    return time.perf_counter() - started


class BenchApp(FlagOpsApp):
    """The real console, with the live loop left off: the benchmark hands it the data itself."""

    def _start_live(self) -> None:
        pass


async def measure(url: str, token: str, size: tuple[int, int]) -> dict[str, Any]:
    profile = Profile(name="bench", url=url, environment=ENVIRONMENT)
    backend = open_backend(profile, Secret(token))
    app = BenchApp(profile, backend, environment=ENVIRONMENT)
    displayed: list[float] = []
    original_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            displayed.append(time.perf_counter())
        original_display(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    results: dict[str, Any] = {}

    async def next_display_after(moment: float, ready: Any = lambda: True, timeout: float = 30) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if ready():
                later = [t for t in displayed if t > moment]
                if later:
                    return later[0]
            await asyncio.sleep(0.0005)
        raise RuntimeError("no screen update")

    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5)
        started = time.perf_counter()
        flags = await backend.list_flags(ENVIRONMENT)
        results["fetch_s"] = time.perf_counter() - started
        results["flags"] = len(flags)
        table = app.screen.query_one(FlagTable)
        handed = time.perf_counter()
        app.store.replace_all(flags)
        painted = await next_display_after(handed, lambda: len(table.keys) == len(flags))
        results["first_paint_s"] = painted - handed
        while not app.store._index_ready:  # the search index is built in a thread after the first paint
            await asyncio.sleep(0.005)
        results["search_ready_s"] = time.perf_counter() - handed
        await pilot.pause(0.3)
        await pilot.press("slash")
        await pilot.pause(0.3)
        latencies: list[float] = []
        labelled: list[tuple[float, str]] = []
        for query in QUERIES:
            for i, ch in enumerate(query):
                before_keys = table.keys
                sent = time.perf_counter()
                event = events.Key(_character_to_key(ch) if not ch.isalnum() else ch, ch)
                app._driver.send_message(event)  # type: ignore[union-attr]
                shown = await next_display_after(sent, lambda before=before_keys: table.keys is not before)
                latencies.append(shown - sent)
                labelled.append((shown - sent, query[: i + 1]))
                await asyncio.sleep(0.02)  # typing speed: keystrokes do not pile up
            for _ in query:
                await pilot.press("backspace")
            await pilot.pause(0.1)
        results["keystrokes"] = len(latencies)
        results["keystroke_median_ms"] = statistics.median(latencies) * 1000
        results["keystroke_p95_ms"] = sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000
        results["keystroke_max_ms"] = max(latencies) * 1000
        results["slowest"] = ", ".join(f"{q!r} {t * 1000:.0f} ms" for t, q in sorted(labelled)[-5:])
        results["rss_mb"] = rss_mb()
    await backend.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags", type=int, default=50_000)
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="keep the service's database here and reuse it next time (creating 50,000 flags "
        "through the API takes minutes)",
    )
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        reuse = args.db is not None and args.db.exists()
        svc = start_service(Path(tmp), demo=False, db_path=args.db, extra_args=["--rate-limit", "0"])
        try:
            if reuse:
                print(f"service {svc.url}; reusing the flags in {args.db}", flush=True)
            else:
                print(f"service {svc.url}; creating {args.flags:,} flags …", flush=True)
                created_s = asyncio.run(load_flags(svc.url, svc.admin_token, args.flags))
                print(f"created in {created_s:.1f} s", flush=True)
            results = asyncio.run(measure(svc.url, svc.admin_token, (width, height)))
        finally:
            svc.stop()
    budgets = {"first_paint_s": 1.0, "keystroke_max_ms": 50.0, "rss_mb": 250.0}
    print(f"flags: {results['flags']:,}  terminal: {width}x{height}")
    print(f"fetch (GET /v1/flags + parse): {results['fetch_s']:.2f} s")
    for name, value in results.items():
        if name in ("flags", "fetch_s"):
            continue
        budget = budgets.get(name)
        verdict = "" if budget is None else ("  ok" if value <= budget else f"  OVER BUDGET ({budget})")
        shown = f"{value:.3f}" if name.endswith("_s") else f"{value:.1f}" if isinstance(value, float) else str(value)
        print(f"{name}: {shown}{verdict}")


if __name__ == "__main__":
    main()
