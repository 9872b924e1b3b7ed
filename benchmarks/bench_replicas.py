"""Writes/s and write-to-event latency: SQLite vs PostgreSQL with 1 and 3 `flagops serve` replicas, one run.

    .venv/bin/python benchmarks/bench_replicas.py [--writes 300] [--writers 6] [--events 30]

Every setup serves the demo data (about 300 flags) with no traffic. PostgreSQL is a throwaway cluster
(tests/postgres_harness.py) with fsync on, so its commits are as durable as SQLite's (synchronous=FULL).

- writes/s: `--writers` clients, each PATCHing its own flag `--writes / --writers` times; with 3 replicas the
  clients are spread over them (every write still takes the one database-wide write lock);
- write-to-event latency: one SSE subscriber per replica; a PATCH is sent to replica 1 and the time until each
  subscriber has the event is taken (same replica, and the other replicas via LISTEN/NOTIFY).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from postgres_harness import Postgres, start_postgres  # noqa: E402 - after sys.path has the repo root

from benchmarks.service_proc import listening_url  # noqa: E402 - after sys.path has the repo root

ENV = "dev"


def start(db: str, tokens: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flagops.server",
            "--port",
            "0",
            "--db",
            db,
            "--tokens",
            str(tokens),
            "--rate-limit",
            "0",
            "--no-access-log",
            "--demo",
            "--no-traffic",
            "--parent-pid",
            str(os.getpid()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=REPO,
    )
    return proc, listening_url(proc, f"service on {db}")


def writes_per_second(urls: list[str], headers: dict[str, str], writes: int, writers: int) -> float:
    with httpx.Client(base_url=urls[0], headers=headers, timeout=30) as c:
        keys = [f["key"] for f in c.get("/v1/flags", params={"environment": ENV}).json()["flags"][:writers]]

    def run(i: int) -> None:
        with httpx.Client(base_url=urls[i % len(urls)], headers=headers, timeout=30) as c:
            key = keys[i]
            v = c.get(f"/v1/flags/{key}", params={"environment": ENV}).json()["environments"][ENV]["version"]
            for n in range(writes // writers):
                r = c.patch(
                    f"/v1/flags/{key}",
                    params={"environment": ENV},
                    headers={"If-Match": f'"{v}"', "Idempotency-Key": str(uuid.uuid4())},
                    json={"rollout": n % 100, "changeReason": "benchmark: replica writes"},
                )
                r.raise_for_status()
                v = r.json()["environments"][ENV]["version"]

    t = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(run, range(writers)))
    return (writes // writers) * writers / (time.perf_counter() - t)


def event_latency(urls: list[str], headers: dict[str, str], events: int) -> list[list[float]]:
    """Per replica, the delay from sending each PATCH (to replica 1) to that replica's subscriber having it."""
    seen: list[dict[tuple[str, int], float]] = [{} for _ in urls]
    ready = threading.Barrier(len(urls) + 1)
    stop = threading.Event()

    def subscribe(i: int) -> None:
        # connecting is bounded; reading is not: the stream is quiet between events
        with (
            httpx.Client(base_url=urls[i], headers=headers, timeout=httpx.Timeout(10.0, read=None)) as c,
            c.stream("GET", "/v1/stream", params={"environment": ENV}) as r,
        ):
            lines = r.iter_lines()
            for line in lines:
                if line.startswith("retry:"):
                    break
            ready.wait()
            for line in lines:
                if line.startswith("data:"):
                    data = json.loads(line[5:])
                    state = data.get("flagState", {}).get("environments", {}).get(ENV, {})
                    seen[i][(data["flag"], int(state.get("version", 0)))] = time.perf_counter()
                if stop.is_set():
                    return

    threads = [threading.Thread(target=subscribe, args=(i,), daemon=True) for i in range(len(urls))]
    for t in threads:
        t.start()
    ready.wait(timeout=30)
    sent: dict[tuple[str, int], float] = {}
    with httpx.Client(base_url=urls[0], headers=headers, timeout=30) as c:
        key = c.get("/v1/flags", params={"environment": ENV}).json()["flags"][-1]["key"]
        v = c.get(f"/v1/flags/{key}", params={"environment": ENV}).json()["environments"][ENV]["version"]
        for n in range(events):
            t = time.perf_counter()
            r = c.patch(
                f"/v1/flags/{key}",
                params={"environment": ENV},
                headers={"If-Match": f'"{v}"', "Idempotency-Key": str(uuid.uuid4())},
                json={"rollout": (n * 7) % 100 + 0.5, "changeReason": "benchmark: event latency"},
            )
            r.raise_for_status()
            v = r.json()["environments"][ENV]["version"]
            sent[(key, v)] = t
            time.sleep(0.05)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(all(k in s for k in sent) for s in seen):
        time.sleep(0.05)
    stop.set()
    return [[s[k] - t for k, t in sent.items() if k in s] for s in seen]


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return f"{statistics.median(values) * 1000:.1f} / {values[int(len(values) * 0.95) - 1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()
    token = secrets.token_urlsafe(24)
    headers = {"Authorization": f"Bearer {token}"}
    load_before = os.getloadavg()
    rows: list[tuple[str, float, str, str]] = []
    pg: Postgres | None = None
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tokens = tmp / "tokens.yaml"
        tokens.write_text(
            yaml.safe_dump(
                [
                    {
                        "actor": "bench",
                        "sha256": hashlib.sha256(token.encode()).hexdigest(),
                        "scopes": ["flags:read", "flags:write", "audit:read"],
                        "environments": "*",
                    }
                ]
            )
        )
        try:
            pg = start_postgres("flagops", durable=True)
            setups = [
                ("SQLite, 1 service", [str(tmp / "flags.db")]),
                ("PostgreSQL, 1 replica", [pg.create_database("bench1")]),
                ("PostgreSQL, 3 replicas", [pg.create_database("bench3")] * 3),
            ]
            for name, dbs in setups:
                started = [start(db, tokens) for db in dbs]
                procs += [p for p, _ in started]
                urls = [u for _, u in started]
                rate = writes_per_second(urls, headers, args.writes, args.writers)
                latency = event_latency(urls, headers, args.events)
                rows.append((name, rate, ms(latency[0]), ms([x for other in latency[1:] for x in other])))
                for proc in procs:
                    proc.terminate()
                    proc.wait(10)
                procs.clear()
                print(f"{name}: done", flush=True)
        finally:
            for proc in procs:
                proc.kill()
            if pg is not None:
                pg.remove()
    load_after = os.getloadavg()
    print(
        f"\nload average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; {os.cpu_count()} cores; "
        f"{args.writers} writers x {args.writes // args.writers} writes; {args.events} events"
    )
    print(f"{'setup':24}{'writes/s':>10}   {'event, same replica (median / p95)':>36}   {'event, other replicas':>24}")
    for name, rate, same, other in rows:
        print(f"{name:24}{rate:>10.0f}   {same:>36}   {other:>24}")


if __name__ == "__main__":
    main()
