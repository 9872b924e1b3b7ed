"""Benchmark of the reference Flag API service over real loopback HTTP. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/bench_server.py [--flags 1000,10000,50000] [--patches 600] [--rounds 5]
        [--subscribers 100] [--compare-with DIR]

Each flag count gets a fresh database and service, all running at once; the writes are measured in rounds,
every service in turn, so drifting machine load hits all counts alike. The numbers are printed side by side,
with the change of write throughput from the smallest to the largest count (the target: no more than 20 %
lower).
--compare-with DIR also runs the service from another checkout (e.g. an unpacked older commit) on the same
data, alternating with this one, for a before/after comparison in one run and under one machine load.

1. list N flags: the first request after start (server cold: every flag serialized), a repeat (cached body),
   a conditional request answered 304, and a list right after one change (one flag re-serialized);
2. PATCH throughput: sequential (one client) and concurrent (8 clients, different flags), every write
   fsynced before it is acknowledged;
3. delivery latency of one change to M SSE subscribers: from sending the PATCH to each subscriber's
   receipt of the event.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.service_proc import listening_url  # noqa: E402 - after sys.path has the repo root
from flagops.model import Flag, FlagState, Variant  # noqa: E402 - after sys.path has the repo root
from flagops.server.store import Store  # noqa: E402 - after sys.path has the repo root


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def seed_db(path: Path, n: int) -> None:
    now = datetime.now(UTC)
    flags = [
        Flag(
            key=f"bench-flag-{i:05d}",
            name=f"Bench flag {i}",
            owner=f"team-{i % 12}",
            tags=("bench",),
            variants=(Variant("on", True), Variant("off", False)),
            created_at=now,
            states={
                env: FlagState(env, i % 3 == 0, float(i % 101), "on", "off", 1, updated_at=now)
                for env in ("dev", "staging", "prod")
            },
        )
        for i in range(n)
    ]
    store = Store(path)
    store.seed(flags, actor="bench", reason="benchmark data")
    store.close()


def start(db: Path, tokens: Path, server_path: str | None = None) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = server_path or str(REPO)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    # cwd too: `python -m` puts the working directory first on sys.path
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flagops.server",
            "--port",
            "0",
            "--db",
            str(db),
            "--tokens",
            str(tokens),
            "--rate-limit",
            "0",
            "--no-access-log",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=root,
    )
    return proc, listening_url(proc, "service")


def bench_list(url: str, headers: dict[str, str], n: int) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        t = time.perf_counter()
        r = c.get("/v1/flags", params={"environment": "prod"})
        cold = time.perf_counter() - t
        assert r.status_code == 200 and len(r.json()["flags"]) == n
        size = len(r.content)
        etag = r.headers["etag"]
        warm = []
        for _ in range(20):
            t = time.perf_counter()
            c.get("/v1/flags", params={"environment": "prod"}).read()
            warm.append(time.perf_counter() - t)
        not_modified = []
        for _ in range(200):
            t = time.perf_counter()
            r = c.get("/v1/flags", params={"environment": "prod"}, headers={"If-None-Match": etag})
            not_modified.append(time.perf_counter() - t)
            assert r.status_code == 304
        after_change = []
        for i in range(10):
            key = f"bench-flag-{i:05d}"
            v = c.get(f"/v1/flags/{key}", params={"environment": "prod"}).json()["environments"]["prod"]["version"]
            c.patch(
                f"/v1/flags/{key}",
                params={"environment": "prod"},
                headers={"If-Match": f'"{v}"'},
                json={"rollout": 50 + i, "changeReason": "benchmark change"},
            ).raise_for_status()
            t = time.perf_counter()
            c.get("/v1/flags", params={"environment": "prod"}).read()
            after_change.append(time.perf_counter() - t)
    return {
        "list body (MB)": f"{size / 1e6:.1f}",
        "list: first after start": ms(cold),
        "list: repeat (cached)": ms(statistics.median(warm)),
        "list: If-None-Match 304": ms(statistics.median(not_modified)),
        "list: right after one change": ms(statistics.median(after_change)),
    }


@dataclass
class PatchTotals:
    """PATCH measurements of one service, summed over the interleaved rounds."""

    seq_writes: int = 0
    seq_time: float = 0.0
    conc_writes: int = 0
    conc_time: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of the concurrent writes
    versions: dict[str, int] = field(default_factory=dict)  # the flags' dev versions, read once, then tracked


def bench_patch_round(url: str, headers: dict[str, str], n: int, workers: int, totals: PatchTotals) -> None:
    versions = totals.versions  # each flag has one writer: no 412s, and no reads inside the timed part
    if not versions:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            for k in [f"bench-flag-{i:05d}" for i in range(100, 110 + workers * 10 + 100)]:
                versions[k] = c.get(f"/v1/flags/{k}", params={"environment": "dev"}).json()["environments"]["dev"][
                    "version"
                ]

    def run(keys: list[str], rounds: int, latencies: list[float] | None) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            for i in range(rounds):
                k = keys[i % len(keys)]
                started = time.perf_counter()
                r = c.patch(
                    f"/v1/flags/{k}",
                    params={"environment": "dev"},
                    headers={"If-Match": f'"{versions[k]}"'},
                    json={"rollout": i % 100, "changeReason": "benchmark throughput"},
                )
                r.raise_for_status()
                if latencies is not None:
                    latencies.append(time.perf_counter() - started)
                versions[k] = r.json()["environments"]["dev"]["version"]

    t = time.perf_counter()
    run([f"bench-flag-{i:05d}" for i in range(100, 110)], n, None)  # flags 100-109: every count has them
    totals.seq_time += time.perf_counter() - t
    totals.seq_writes += n
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(
            pool.map(
                lambda w: run(
                    [f"bench-flag-{200 + w * 10 + j:05d}" for j in range(10)], n // workers, totals.latencies
                ),
                range(workers),
            )
        )
    totals.conc_time += time.perf_counter() - t
    totals.conc_writes += (n // workers) * workers


def patch_results(totals: PatchTotals, workers: int) -> dict[str, str]:
    latencies = sorted(totals.latencies)
    return {
        "PATCH writes/s, 1 client": f"{totals.seq_writes / totals.seq_time:.0f}",
        f"PATCH writes/s, {workers} clients": f"{totals.conc_writes / totals.conc_time:.0f}",
        f"PATCH p99, {workers} clients": ms(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]),
    }


async def bench_sse(url: str, headers: dict[str, str], subscribers: int, rounds: int = 5) -> dict[str, str]:
    limits = httpx.Limits(max_connections=subscribers + 10)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as client:
        received: list[list[float]] = [[] for _ in range(rounds)]
        ready = asyncio.Event()
        opened = 0

        async def subscriber() -> None:
            nonlocal opened
            async with client.stream("GET", "/v1/stream", params={"environment": "prod"}) as r:
                lines = r.aiter_lines()
                async for line in lines:  # the opening retry: frame means we are subscribed
                    if line.startswith("retry:"):
                        break
                opened += 1
                if opened == subscribers:
                    ready.set()
                got = 0
                async for line in lines:
                    if line.startswith("id:"):
                        received[got].append(time.perf_counter())
                        got += 1
                        if got == rounds:
                            return

        tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
        await asyncio.wait_for(ready.wait(), 60)
        latencies: list[list[float]] = []
        for i in range(rounds):
            key = "bench-flag-00042"
            v = (await client.get(f"/v1/flags/{key}", params={"environment": "prod"})).json()["environments"]["prod"][
                "version"
            ]
            sent = time.perf_counter()
            (
                await client.patch(
                    f"/v1/flags/{key}",
                    params={"environment": "prod"},
                    headers={"If-Match": f'"{v}"'},
                    json={"rollout": i, "changeReason": "benchmark fan-out"},
                )
            ).raise_for_status()
            while len(received[i]) < subscribers:
                await asyncio.sleep(0.005)
            latencies.append([t - sent for t in received[i]])
            await asyncio.sleep(0.2)
        await asyncio.gather(*tasks)
    allv = sorted(x for row in latencies for x in row)
    return {
        f"SSE to {subscribers} subscribers: median": ms(statistics.median(allv)),
        f"SSE to {subscribers} subscribers: p95": ms(allv[int(len(allv) * 0.95) - 1]),
    }


@dataclass
class Running:
    column: str
    proc: subprocess.Popen[str]
    url: str
    db: Path
    results: dict[str, str]
    totals: PatchTotals = field(default_factory=PatchTotals)


def start_one(column: str, n: int, seeded: Path, tokens: Path, token: str, server_path: str | None) -> Running:
    """A service on a copy of the seeded data; its list numbers are taken at once (the first list after start
    must be the first request)."""
    db = seeded.with_name(f"run-{column.replace(' ', '-')}.db")
    shutil.copyfile(seeded, db)  # every service starts from the same data
    t = time.perf_counter()
    proc, url = start(db, tokens, server_path)
    results = {"service start (s)": f"{time.perf_counter() - t:.1f}"}
    results.update(bench_list(url, {"Authorization": f"Bearer {token}"}, n))
    return Running(column, proc, url, db, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags", default="1000,10000,50000", help="flag counts, comma-separated")
    parser.add_argument("--patches", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8, help="concurrent PATCH clients")
    parser.add_argument("--rounds", type=int, default=5, help="PATCH rounds, interleaved across the services")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument(
        "--compare-with",
        default=None,
        metavar="DIR",
        help="also run the service from this checkout (e.g. an unpacked older commit) on the "
        "same data, column by column",
    )
    args = parser.parse_args()
    counts = [int(x) for x in args.flags.split(",")]
    servers: list[tuple[str, str | None]] = [("this", None)]
    if args.compare_with:
        servers.insert(0, ("other", args.compare_with))
    load_before = os.getloadavg()
    columns: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tokens = tmp / "tokens.yaml"
        token = secrets.token_urlsafe(24)
        tokens.write_text(
            yaml.safe_dump(
                [
                    {
                        "actor": "bench",
                        "sha256": hashlib.sha256(token.encode()).hexdigest(),
                        "scopes": ["flags:read", "flags:write", "audit:read", "metrics:write"],
                        "environments": "*",
                    }
                ]
            )
        )
        running: list[Running] = []
        try:
            for n in counts:
                seeded = tmp / f"seeded-{n}.db"
                t = time.perf_counter()
                seed_db(seeded, n)
                print(f"seeded {n} flags x 3 environments in {time.perf_counter() - t:.1f} s", flush=True)
                for name, path in servers:
                    column = f"{n} {name}" if args.compare_with else str(n)
                    running.append(start_one(column, n, seeded, tokens, token, path))
                seeded.unlink()
            # the writes in rounds, every service in turn, so a change of machine load hits all of them alike
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(args.rounds):
                for svc in running:
                    bench_patch_round(svc.url, headers, args.patches // args.rounds, args.clients, svc.totals)
            for svc in running:
                svc.results.update(patch_results(svc.totals, args.clients))
                svc.results.update(asyncio.run(bench_sse(svc.url, headers, args.subscribers)))
                columns[svc.column] = svc.results
        finally:
            for svc in running:
                svc.proc.terminate()
                svc.proc.wait(10)
    load_after = os.getloadavg()
    print(
        f"\nload average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
        f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} cores"
    )
    if args.compare_with:
        print(f"'other' = the service from {args.compare_with}; 'this' = this checkout")
    names = list(columns)
    print(f"{'flags':32}" + "".join(f"{n:>12}" for n in names))
    for row in columns[names[0]]:
        print(f"{row:32}" + "".join(f"{columns[n][row]:>12}" for n in names))
    for name, _ in servers:
        cols = [c for c in names if not args.compare_with or c.endswith(" " + name)]
        for row in (k for k in columns[cols[0]] if k.startswith("PATCH writes/s")):
            first, last = float(columns[cols[0]][row]), float(columns[cols[-1]][row])
            print(
                f"{name + ': ' if args.compare_with else ''}{row}, {counts[0]} -> {counts[-1]} flags: "
                f"{(last - first) / first * 100:+.0f} % (target: no worse than -20 %)"
            )


if __name__ == "__main__":
    main()
