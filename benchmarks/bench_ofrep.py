"""Benchmark of OFREP bulk evaluation beside /v1/evaluate, over real loopback HTTP. Prints numbers; asserts nothing.

    .venv/bin/python -m benchmarks.bench_ofrep [--sizes 300 5000] [--seconds 5] [--clients 4]

For each size, a fresh service with that many flags (benchmarks/flaggen.py; a quarter of the prod states get a
targeting rule), `--rate-limit 0`, no access log; then, `--clients` threads each with its own keep-alive
connection, for `--seconds` each:

1. OFREP bulk, 200: every live flag evaluated for a new context on every request (no cache can help);
2. OFREP bulk, 304: the same context with If-None-Match (what a polling client-side provider sends);
3. /v1/evaluate of every flag for one new context: the same work through the service's own API, which takes
   at most 1,000 requests per call, so one unit is ceil(N / 1000) calls;
4. OFREP single evaluation (one flag per request), for scale.

Throughput is units per second over all clients; latency percentiles are per unit, as a client sees it.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_server import start
from benchmarks.flaggen import generate_flags
from flagops.model import Rule
from flagops.server.store import Store


def seed_db(path: Path, n: int) -> list[str]:
    flags = []
    for i, flag in enumerate(generate_flags(n)):
        prod = flag.states["prod"]
        if i % 4 == 0:  # realistic targeting: some flags check an attribute before bucketing
            prod = replace(prod, rules=(Rule(f"r{i}", "plan", "in", ("enterprise",), prod.default_variant),))
        flags.append(replace(flag, states={**flag.states, "prod": prod}))
    store = Store(path)
    store.seed(flags, actor="bench", reason="benchmark data")
    store.close()
    return [f.key for f in flags]


def load(
    url: str, headers: dict[str, str], clients: int, seconds: float, unit: Callable[[httpx.Client, int], None]
) -> tuple[float, float, float]:
    """(units/s, p50 ms, p99 ms) of `unit` run by `clients` threads for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = itertools.count()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            unit(client, next(counter))  # warm: connection open, caches as a running service has them
            while time.perf_counter() < stop:
                t = time.perf_counter()
                unit(client, next(counter))
                mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        return 0.0, float("nan"), float("nan")

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000

    return len(latencies) / elapsed, pick(0.50), pick(0.99)


def bench_size(n: int, seconds: float, clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db, tokens = Path(tmp) / "bench.db", Path(tmp) / "tokens.yaml"
        token = secrets.token_urlsafe(24)
        tokens.write_text(
            yaml.safe_dump(
                [
                    {
                        "actor": "bench",
                        "sha256": hashlib.sha256(token.encode()).hexdigest(),
                        "scopes": ["flags:read"],
                        "environments": "*",
                    }
                ]
            )
        )
        keys = seed_db(db, n)
        proc, url = start(db, tokens)
        headers = {"Authorization": f"Bearer {token}", "X-Flagops-Environment": "prod"}
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                first = c.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u0"}})
                assert first.status_code == 200 and len(first.json()["flags"]) == n, first.text[:200]
                etag, size = first.headers["etag"], len(first.content)

            def ofrep_bulk(client: httpx.Client, i: int) -> None:
                r = client.post(
                    "/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": f"user-{i}", "plan": "free"}}
                )
                assert r.status_code == 200

            def ofrep_304(client: httpx.Client, i: int) -> None:
                r = client.post(
                    "/ofrep/v1/evaluate/flags",
                    json={"context": {"targetingKey": "u0"}},
                    headers={"If-None-Match": etag},
                )
                assert r.status_code == 304

            def v1_all(client: httpx.Client, i: int) -> None:
                ctx = {"targetingKey": f"user-{i}", "plan": "free"}
                for start_at in range(0, n, 1000):
                    batch = [{"flagKey": k, "context": ctx} for k in keys[start_at : start_at + 1000]]
                    r = client.post("/v1/evaluate", json={"environment": "prod", "requests": batch})
                    assert r.status_code == 200

            def ofrep_single(client: httpx.Client, i: int) -> None:
                r = client.post(
                    f"/ofrep/v1/evaluate/flags/{keys[i % n]}", json={"context": {"targetingKey": f"user-{i}"}}
                )
                assert r.status_code in (200, 400)

            calls = -(-n // 1000)
            print(f"{n} flags (bulk answer {size / 1e3:,.0f} kB), {clients} clients, {seconds:g} s each:")
            for name, unit in (
                (f"OFREP bulk, 200 (all {n} flags, new context)", ofrep_bulk),
                ("OFREP bulk, If-None-Match -> 304", ofrep_304),
                (f"/v1/evaluate, all {n} flags, new context ({calls} call{'s' * (calls > 1)})", v1_all),
                ("OFREP single flag", ofrep_single),
            ):
                rate, p50, p99 = load(url, headers, clients, seconds, unit)
                print(f"  {name:58} {rate:8.1f} /s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 5000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    for n in args.sizes:
        bench_size(n, args.seconds, args.clients)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
