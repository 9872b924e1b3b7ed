"""Benchmark of the reference Flag API service over real loopback HTTP. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/bench_server.py [--flags 10000] [--patches 300] [--subscribers 100]

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
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flagops.model import Flag, FlagState, Variant  # noqa: E402
from flagops.server.store import Store  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def seed_db(path: Path, n: int) -> None:
    now = datetime.now(timezone.utc)
    flags = [Flag(key=f"bench-flag-{i:05d}", name=f"Bench flag {i}", owner=f"team-{i % 12}", tags=("bench",),
                  variants=(Variant("on", True), Variant("off", False)), created_at=now,
                  states={env: FlagState(env, i % 3 == 0, float(i % 101), "on", "off", 1, updated_at=now)
                          for env in ("dev", "staging", "prod")})
             for i in range(n)]
    store = Store(path)
    store.seed(flags, actor="bench", reason="benchmark data")
    store.close()


def start(db: Path, tokens: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "flagops.server", "--port", "0", "--db", str(db), "--tokens",
                             str(tokens), "--rate-limit", "0", "--no-access-log"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, m.group(1)
    raise SystemExit("service did not start")


def bench_list(url: str, headers: dict[str, str], n: int) -> None:
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
            c.patch(f"/v1/flags/{key}", params={"environment": "prod"}, headers={"If-Match": f'"{v}"'},
                    json={"rollout": 50 + i, "changeReason": "benchmark change"}).raise_for_status()
            t = time.perf_counter()
            c.get("/v1/flags", params={"environment": "prod"}).read()
            after_change.append(time.perf_counter() - t)
    print(f"list {n} flags (prod, {size / 1e6:.1f} MB JSON):")
    print(f"  first request after start (every flag serialized): {ms(cold)}")
    print(f"  repeat, 200 from the cached body:  median {ms(statistics.median(warm))}")
    print(f"  If-None-Match -> 304:              median {ms(statistics.median(not_modified))}, "
          f"p95 {ms(sorted(not_modified)[189])}")
    print(f"  right after one change (200):      median {ms(statistics.median(after_change))}")


def bench_patch(url: str, headers: dict[str, str], n: int) -> None:
    def run(keys: list[str], rounds: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            versions = {k: c.get(f"/v1/flags/{k}", params={"environment": "dev"}).json()["environments"]["dev"]
                        ["version"] for k in keys}
            for i in range(rounds):
                k = keys[i % len(keys)]
                r = c.patch(f"/v1/flags/{k}", params={"environment": "dev"}, headers={"If-Match": f'"{versions[k]}"'},
                            json={"rollout": i % 100, "changeReason": "benchmark throughput"})
                r.raise_for_status()
                versions[k] = r.json()["environments"]["dev"]["version"]

    t = time.perf_counter()
    run([f"bench-flag-{i:05d}" for i in range(100, 110)], n)
    seq = time.perf_counter() - t
    workers = 8
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda w: run([f"bench-flag-{200 + w * 10 + j:05d}" for j in range(10)], n // workers),
                      range(workers)))
    conc = time.perf_counter() - t
    print(f"PATCH throughput (fsynced before acknowledged, {n} writes each):")
    print(f"  sequential, 1 client:   {n / seq:.0f} writes/s ({ms(seq / n)} each)")
    print(f"  concurrent, {workers} clients: {(n // workers) * workers / conc:.0f} writes/s")


async def bench_sse(url: str, headers: dict[str, str], subscribers: int, rounds: int = 5) -> None:
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
                "version"]
            sent = time.perf_counter()
            (await client.patch(f"/v1/flags/{key}", params={"environment": "prod"}, headers={"If-Match": f'"{v}"'},
                                json={"rollout": i, "changeReason": "benchmark fan-out"})).raise_for_status()
            while len(received[i]) < subscribers:
                await asyncio.sleep(0.005)
            latencies.append([t - sent for t in received[i]])
            await asyncio.sleep(0.2)
        await asyncio.gather(*tasks)
    allv = sorted(x for row in latencies for x in row)
    print(f"delivery of one change to {subscribers} SSE subscribers ({rounds} changes; from sending the PATCH):")
    print(f"  median {ms(statistics.median(allv))}, p95 {ms(allv[int(len(allv) * 0.95) - 1])}, "
          f"last subscriber (mean over changes) {ms(statistics.mean(max(row) for row in latencies))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags", type=int, default=10000)
    parser.add_argument("--patches", type=int, default=300)
    parser.add_argument("--subscribers", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, tokens = Path(tmp) / "bench.db", Path(tmp) / "tokens.yaml"
        token = secrets.token_urlsafe(24)
        tokens.write_text(yaml.safe_dump([{"actor": "bench", "sha256": hashlib.sha256(token.encode()).hexdigest(),
                                           "scopes": ["flags:read", "flags:write", "audit:read", "metrics:write"],
                                           "environments": "*"}]))
        t = time.perf_counter()
        seed_db(db, args.flags)
        print(f"seeded {args.flags} flags x 3 environments in {time.perf_counter() - t:.1f} s")
        proc, url = start(db, tokens)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            bench_list(url, headers, args.flags)
            bench_patch(url, headers, args.patches)
            asyncio.run(bench_sse(url, headers, args.subscribers))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
