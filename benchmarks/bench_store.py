"""The service's store without HTTP: what a write and a list cost inside the process, by flag count.

    .venv/bin/python benchmarks/bench_store.py [--flags 1000,10000,50000] [--patches 300] [--compare-with DIR]

For each count: load (service start), the first list after start, a list right after one change (median of
10), PATCH throughput (one writer, each write fsynced) and the CPU time of a write (which leaves out the
fsync wait, the noisiest part on a shared disk). bench_server.py measures the same over HTTP, where
transfer time and fsync latency on a shared disk blur the store's own cost; this is the store's own cost.
--compare-with DIR runs the store of another checkout (e.g. an unpacked older commit) on the same data, in
its own process, column by column, under the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MEASURE = """
import json, statistics, sys, time
from pathlib import Path
from flagops.model import StateChange
from flagops.server.store import Store
db, patches = Path(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter(); store = Store(db); load = time.perf_counter() - t
t = time.perf_counter(); store.list_body("prod"); first = time.perf_counter() - t
after = []
for i in range(10):
    key = f"bench-flag-{i:05d}"
    state = store.flag(key).states["prod"]
    store.patch(key, "prod", StateChange(rollout=float((state.version * 7) % 100)), if_match=state.version,
                actor="bench", reason="benchmark change")
    t = time.perf_counter(); store.list_body("prod"); after.append(time.perf_counter() - t)
t, cpu = time.perf_counter(), time.process_time()
for i in range(patches):
    key = f"bench-flag-{100 + i % 10:05d}"
    state = store.flag(key).states["dev"]
    store.patch(key, "dev", StateChange(rollout=float(i % 100)), if_match=state.version, actor="bench",
                reason="benchmark throughput")
writes = patches / (time.perf_counter() - t)
cpu_ms = (time.process_time() - cpu) / patches * 1000
print(json.dumps({"load (start) ms": load * 1000, "first list ms": first * 1000,
                  "list after one change ms": statistics.median(after) * 1000, "PATCH writes/s": writes,
                  "PATCH CPU ms per write": cpu_ms}))
"""


def measure(db: Path, patches: int, root: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(db), str(patches)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed in {root}:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags", default="1000,10000,50000")
    parser.add_argument("--patches", type=int, default=300)
    parser.add_argument("--compare-with", default=None, metavar="DIR")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    sys.path.insert(0, str(REPO))
    from bench_server import seed_db

    counts = [int(x) for x in args.flags.split(",")]
    roots = [("this", REPO)] + ([("other", Path(args.compare_with).resolve())] if args.compare_with else [])
    load_before = os.getloadavg()
    columns: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        for n in counts:
            seeded = Path(tmp_name) / f"seeded-{n}.db"
            seed_db(seeded, n)
            for name, root in reversed(roots):
                db = seeded.with_name(f"run-{n}.db")
                shutil.copyfile(seeded, db)
                columns[f"{n} {name}" if args.compare_with else str(n)] = measure(db, args.patches, root)
                for path in db.parent.glob(db.name + "*"):
                    path.unlink()
            print(f"{n} flags done", flush=True)
    load_after = os.getloadavg()
    print(
        f"\nload average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; {os.cpu_count()} cores"
        + (f"; 'other' = the store from {args.compare_with}" if args.compare_with else "")
    )
    names = list(columns)
    print(f"{'flags':28}" + "".join(f"{n:>13}" for n in names))
    for row in columns[names[0]]:
        print(f"{row:28}" + "".join(f"{columns[n][row]:>13.2f}" for n in names))
    for name, _ in roots:
        cols = [c for c in names if not args.compare_with or c.endswith(" " + name)]
        first, last = columns[cols[0]]["PATCH writes/s"], columns[cols[-1]]["PATCH writes/s"]
        print(f"{name}: PATCH writes/s {counts[0]} -> {counts[-1]} flags: {(last - first) / first * 100:+.0f} %")
        first, last = columns[cols[0]]["PATCH CPU ms per write"], columns[cols[-1]]["PATCH CPU ms per write"]
        print(f"{name}: PATCH CPU per write {counts[0]} -> {counts[-1]} flags: {(last - first) / first * 100:+.0f} %")


if __name__ == "__main__":
    main()
