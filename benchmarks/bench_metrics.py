"""Dashboard refresh cost against a real Prometheus: error rates for every flag, batched vs one per flag.

    .venv/bin/python -m benchmarks.bench_metrics                 # 300 and 5,000 flags
    .venv/bin/python -m benchmarks.bench_metrics --flags 300 --rounds 5

A refresh is what the console's metrics loop needs to rank every flag by error rate: a 5-minute window in
30 s steps, evaluations and errors per variant. Batched, the Prometheus source sends two PromQL queries
(`sum by (flag, variant)`) for the whole batch; one-per-flag is what a source without batching costs
(two queries per flag, 4 at a time). Prometheus 2.42 (/usr/bin/prometheus, temp TSDB, 1 s scrapes)
scrapes a small exposition of `flagops_flag_evaluations_total` / `flagops_flag_errors_total` counters
for N flags x 2 variants from a loopback stand-in app (tests/metrics/exposition.py; the same series the
reference service exports). For 5,000
flags the one-per-flag column times a sample of 300 flags and scales it up (marked "est.").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from flagops.metrics.prometheus import PrometheusMetrics
from flagops.metrics.settings import MetricsSettings
from tests.metrics.exposition import Counter, CounterApp
from tests.metrics.prometheus_harness import start_prometheus

WINDOW, STEP = 300, 30
SAMPLE = 300


def counter_app(n: int) -> tuple[CounterApp, list[str]]:
    keys = [f"bench-flag-{i:05d}" for i in range(n)]
    counters: list[Counter] = []
    for i, key in enumerate(keys):
        rate = 1 + i % 50
        for variant, share in (("on", 0.3), ("off", 0.7)):
            counters.append(
                (
                    "flagops_flag_evaluations_total",
                    {"flag": key, "environment": "prod", "variant": variant},
                    rate * share,
                )
            )
        counters.append(
            (
                "flagops_flag_errors_total",
                {"flag": key, "environment": "prod", "variant": "on"},
                rate * 0.01 * (1 + i % 7),
            )
        )
    return CounterApp(counters), keys


async def batched(source: PrometheusMetrics, keys: list[str]) -> tuple[float, int, int]:
    before = source.queries
    started = time.perf_counter()
    found = await source.series_many(keys, "prod", window_seconds=WINDOW, step_seconds=STEP)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, source.queries - before, sum(1 for s in found.values() if s.evaluations > 0)


async def one_per_flag(source: PrometheusMetrics, keys: list[str]) -> tuple[float, int]:
    limit = asyncio.Semaphore(4)
    before = source.queries

    async def one(key: str) -> None:
        async with limit:
            await source.series(key, "prod", window_seconds=WINDOW, step_seconds=STEP)

    started = time.perf_counter()
    await asyncio.gather(*(one(k) for k in keys))
    return (time.perf_counter() - started) * 1000, source.queries - before


async def measure(n: int, rounds: int, work: Path) -> None:
    app, keys = counter_app(n)
    prometheus = start_prometheus(work / f"prom-{n}", [(app.url, "unused")])
    try:
        prometheus.wait_for_series('flagops_flag_errors_total{variant="on"}', timeout=60)
        await asyncio.sleep(12)  # a few scrapes, so rate() has data
        source = PrometheusMetrics(MetricsSettings(source="prometheus", url=prometheus.url, min_range=5, timeout=60))
        try:
            runs = [await batched(source, keys) for _ in range(rounds)]
            times = [r[0] for r in runs]
            sample = keys if n <= SAMPLE else keys[:: n // SAMPLE][:SAMPLE]
            single_ms, single_queries = await one_per_flag(source, sample)
        finally:
            await source.aclose()
        scale = n / len(sample)
        est = "" if scale == 1 else " (est.)"
        print(
            f"{n:>6} flags | batched: {runs[0][1]} queries, median {statistics.median(times):8.1f} ms "
            f"(min {min(times):.1f}, max {max(times):.1f}), {runs[0][2]} flags with data | "
            f"one per flag: {single_queries * scale:,.0f} queries, {single_ms * scale:,.0f} ms{est}"
        )
    finally:
        prometheus.stop()
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, action="append", help="flag count (repeat); default 300 and 5000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flagops-bench-metrics-") as tmp:
        for n in args.flags or [300, 5000]:
            asyncio.run(measure(n, args.rounds, Path(tmp)))


if __name__ == "__main__":
    main()
