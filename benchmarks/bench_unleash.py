"""Unleash adapter benchmark: what the console's reads and a kill cost against a real Unleash 7.5.1.

    bash tests/unleash/install.sh && .venv/bin/python -m benchmarks.bench_unleash [--flags 300] [--rounds 20]

Starts PostgreSQL and Unleash exactly as the test suite does (tests/unleash/unleash_harness.py), creates
--flags features in production (half on, rollouts 0-100, a few state changes each so the event log is not
empty), then times, over --rounds each: list_flags (cold: a fresh backend; warm: the console's 1 s poll with
the incremental version cache), get_flag, audit of one flag, and the whole kill path through ops (plan, apply,
read back until served) with the time to effect. Prints median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flagops.backends.unleash import UnleashBackend
from flagops.backends.unleash.changelog import ChangeLog
from flagops.ops import Ops
from flagops.secrets import Secret
from tests.unleash.unleash_harness import start_postgres, start_unleash


def seed(client: httpx.Client, count: int) -> list[str]:
    keys = []
    for i in range(count):
        key = f"bench-{i:04d}"
        client.post("/api/admin/projects/default/features", json={"name": key, "type": "release"}).raise_for_status()
        env = f"/api/admin/projects/default/features/{key}/environments/production"
        client.post(
            f"{env}/strategies",
            json={
                "name": "flexibleRollout",
                "parameters": {"rollout": str(i % 101), "stickiness": "default", "groupId": key},
            },
        ).raise_for_status()
        if i % 2 == 0:
            client.post(f"{env}/on").raise_for_status()
        keys.append(key)
    return keys


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{name:<34} median {statistics.median(ordered) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   (n={len(ordered)})"
    )


async def timed(rounds: int, make: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        await make(i)
        samples.append(time.perf_counter() - started)
    return samples


async def measure(url: str, token: str, keys: list[str], rounds: int, state: Path) -> None:
    log = ChangeLog(state / "unleash-changes.jsonl")

    async def cold(_: int) -> None:
        fresh = UnleashBackend(url, Secret(token), changelog=log)
        try:
            await fresh.list_flags("production")
        finally:
            await fresh.aclose()

    backend = UnleashBackend(url, Secret(token), changelog=log)
    try:
        flags = await backend.list_flags("production")
        print(f"flags listed in production: {len(flags)}")
        report("list_flags, cold (new backend)", await timed(rounds, cold))
        report("list_flags, warm (console poll)", await timed(rounds, lambda _: backend.list_flags("production")))
        report("get_flag (every environment)", await timed(rounds, lambda i: backend.get_flag(keys[i])))
        report("audit of one flag", await timed(rounds, lambda i: backend.audit(flag=keys[i])))
        ops = Ops(backend)
        effects: list[float] = []

        async def kill(i: int) -> None:
            key = keys[2 * i]  # the even ones are on
            plan = await ops.plan_kill(key, "production")
            applied = await ops.apply(plan, reason="benchmark kill, not an incident")
            assert applied.confirmed and applied.time_to_effect is not None
            effects.append(applied.time_to_effect)

        report("kill: plan + apply + read back", await timed(min(rounds, len(keys) // 2), kill))
        report("kill: time to effect (apply->served)", effects)
    finally:
        await backend.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    pg = start_postgres()
    try:
        server = start_unleash(pg)
        print(f"PostgreSQL + Unleash 7.5.1 up in {time.perf_counter() - started:.1f} s")
        try:
            with server.client() as client:
                seeded = time.perf_counter()
                keys = seed(client, args.flags)
                print(f"seeded {len(keys)} features in {time.perf_counter() - seeded:.1f} s")
            with tempfile.TemporaryDirectory() as state:
                asyncio.run(measure(server.url, server.admin_token, keys, args.rounds, Path(state)))
        finally:
            server.stop()
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)


if __name__ == "__main__":
    main()
