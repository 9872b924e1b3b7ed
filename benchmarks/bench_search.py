"""Search benchmark: flagops.search.FlagIndex against `fzf --filter`, side by side, on the same 50,000 keys.

    .venv/bin/python -m benchmarks.bench_search            # from the repository root
    .venv/bin/python -m benchmarks.bench_search --verbose  # plus each query's rank, ours vs fzf

Latency: every judged query is typed one character at a time (successive prefixes, as the console searches
on each keystroke) and each keystroke's search(prefix) is timed; the per-word cache is emptied before each
query, so no query profits from the one before. Target: p95 <= 16 ms.
Quality: for each judged query (benchmarks/search_queries.yaml) the rank of the first right answer, for ours and
for fzf; reported as MRR, hit@1 and hit@5, per category and overall.
fzf runs twice: on the keys alone (as the brief says), and on "key name tags owner" lines (what our index sees).
fzf is needed for the comparison: `apt-get install -y fzf` (Debian/Ubuntu), `brew install fzf` (macOS).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from benchmarks.flaggen import NOW, WELL_KNOWN, generate_flags
from flagops.model import Flag
from flagops.search import FlagIndex

QUERIES = Path(__file__).with_name("search_queries.yaml")


@dataclass(frozen=True)
class Judged:
    category: str
    query: str
    relevant: frozenset[str]


def initials(key: str) -> str:
    return "".join(part[0] for part in re.split(r"[^a-z0-9]+", key.lower()) if part)


def load_judged(path: Path, keys: list[str]) -> list[Judged]:
    data = yaml.safe_load(path.read_text())
    known = set(keys)
    judged: list[Judged] = []
    for category, entries in data.items():
        for entry in entries:
            query = entry["query"]
            if "expect" in entry:
                missing = [k for k in entry["expect"] if k not in known]
                if missing:
                    sys.exit(f"{path}: {query!r} expects keys that the generator did not make: {missing}")
                relevant = frozenset(entry["expect"])
            elif "pattern" in entry:
                rx = re.compile(entry["pattern"])
                relevant = frozenset(k for k in keys if rx.search(k))
            elif entry.get("initials"):
                relevant = frozenset(k for k in keys if initials(k) == query)
            else:
                sys.exit(f"{path}: {query!r} needs expect, pattern or initials")
            if not relevant:
                sys.exit(f"{path}: no key is a right answer for {query!r}")
            judged.append(Judged(category, query, relevant))
    return judged


def abbreviate(word: str) -> str:
    """How people shorten a word: first letter and the next consonants ("checkout" -> "chck")."""
    if len(word) <= 4:
        return word
    return word[0] + "".join(c for c in word[1:] if c not in "aeiou")[:3]


def generated_queries(keys: list[str], targets: int = 40, seed: int = 13) -> list[Judged]:
    """A second, mechanically made query set, so the comparison does not rest only on hand-written queries:
    random generated flags, each asked for five ways (abbreviated, with a swapped-letter typo, words reversed,
    initials, first three letters of each word run together). A key with the same words (or, for initials,
    the same initials) counts as right too."""
    rng = random.Random(seed)
    by_words: dict[frozenset[str], set[str]] = {}
    by_initials: dict[str, set[str]] = {}
    for key in keys:
        by_words.setdefault(frozenset(key.split("-")), set()).add(key)
        by_initials.setdefault(initials(key), set()).add(key)
    judged: list[Judged] = []
    for key in rng.sample(keys[len(WELL_KNOWN) :], targets):
        words = key.split("-")
        same = frozenset(by_words[frozenset(words)])
        judged.append(Judged("abbreviation", " ".join(abbreviate(w) for w in words), same))
        longest = max(words, key=len)
        if len(longest) >= 5:
            at = rng.randrange(1, len(longest) - 2)
            typo = longest[:at] + longest[at + 1] + longest[at] + longest[at + 2 :]
            judged.append(Judged("typo", " ".join(typo if w == longest else w for w in words), same))
        if len(words) >= 2:
            judged.append(Judged("word-order", " ".join(reversed(words)), same))
        if len(words) >= 3:
            judged.append(Judged("initials", initials(key), frozenset(by_initials[initials(key)])))
        judged.append(Judged("fused", "".join(w[:3] for w in words), same))
    return judged


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def first_hit(results: list[str], relevant: frozenset[str]) -> int | None:
    for rank, key in enumerate(results, 1):
        if key in relevant:
            return rank
    return None


def quality(ranks: list[int | None]) -> tuple[float, float, float, float]:
    """MRR, hit@1, hit@5, found at all."""
    n = len(ranks)
    mrr = sum(1 / r for r in ranks if r) / n
    return (
        mrr,
        sum(1 for r in ranks if r == 1) / n,
        sum(1 for r in ranks if r and r <= 5) / n,
        sum(1 for r in ranks if r) / n,
    )


@dataclass
class Timings:
    wall_ms: list[float]  # per keystroke, the first pass
    cpu_ms: list[float]  # this thread's CPU time: what remains when other processes steal the cores
    median_ms: list[float]  # per keystroke, the median wall clock over the passes
    typed_ms: list[float]  # first pass, keystrokes that are not a space


def run_ours(
    index: FlagIndex, judged: list[Judged], limit: int | None, passes: int
) -> tuple[Timings, dict[str, list[str]]]:
    """Types every query `passes` times, a keystroke at a time, with the caches emptied before each query."""
    walls: list[list[float]] = []
    cpu_ms: list[float] = []
    typed_ms: list[float] = []
    results: dict[str, list[str]] = {}
    index.search("warm up")
    for n in range(passes):
        wall_ms: list[float] = []
        for j in judged:
            index.clear_cache()
            found: list[Flag] = []
            for i in range(1, len(j.query) + 1):
                prefix = j.query[:i]
                start, cpu = time.perf_counter(), time.thread_time()
                found = index.search(prefix, limit=limit)
                ms = (time.perf_counter() - start) * 1000
                wall_ms.append(ms)
                if n == 0:
                    cpu_ms.append((time.thread_time() - cpu) * 1000)
                    if not prefix.endswith(" "):
                        typed_ms.append(ms)
            results[j.query] = [f.key for f in found]
        walls.append(wall_ms)
    median_ms = [statistics.median(column) for column in zip(*walls, strict=True)]
    return Timings(walls[0], cpu_ms, median_ms, typed_ms), results


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.1f} ms  p95 {percentile(values, 95):.1f} ms  "
        f"p99 {percentile(values, 99):.1f} ms  max {max(values):.1f} ms"
    )


def run_fzf(lines: str, judged: list[Judged]) -> tuple[list[float], dict[str, list[str]]]:
    times: list[float] = []
    results: dict[str, list[str]] = {}
    for j in judged:
        start = time.perf_counter()
        out = subprocess.run(["fzf", "--filter", j.query], input=lines, capture_output=True, text=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        results[j.query] = [line.split(" ", 1)[0] for line in out.stdout.splitlines()]
    return times, results


def measure_updates(index: FlagIndex, flags: list[Flag]) -> None:
    """The live-update costs the console pays: a state change from the stream, and flags created."""
    toggled = [
        replace(f, states={**f.states, "prod": replace(f.states["prod"], enabled=not f.states["prod"].enabled)})
        for f in flags[:2000]
    ]
    start = time.perf_counter()
    for f in toggled:
        index.update(f)
    per_update_us = (time.perf_counter() - start) / len(toggled) * 1e6
    start = time.perf_counter()
    index.search("chk")
    after_state_ms = (time.perf_counter() - start) * 1000
    created = [replace(f, key=f"{f.key}-copy") for f in flags[-100:]]
    start = time.perf_counter()
    for f in created:
        index.update(f)
    create_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    index.search("chk")
    after_create_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    index.search("chkp")
    next_ms = (time.perf_counter() - start) * 1000
    print(
        f"live updates: state change {per_update_us:.1f} us each (next search {after_state_ms:.1f} ms); "
        f"100 new flags {create_ms:.1f} ms, then the first search {after_create_ms:.1f} ms "
        f"(grows the arrays, drops the caches), the next {next_ms:.1f} ms"
    )


def print_quality(name: str, judged: list[Judged], results: dict[str, list[str]]) -> None:
    categories = list(dict.fromkeys(j.category for j in judged))
    print(f"  {name}")
    for category in [*categories, "ALL"]:
        subset = [j for j in judged if category in ("ALL", j.category)]
        mrr, h1, h5, found = quality([first_hit(results[j.query], j.relevant) for j in subset])
        print(f"    {category:13} n={len(subset):3}  MRR {mrr:.3f}  hit@1 {h1:.2f}  hit@5 {h5:.2f}  found {found:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flags", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, default=None, help="pass limit= to search (default: all matches)")
    parser.add_argument("--query-seed", type=int, default=13, help="seed of the generated query set")
    parser.add_argument("--passes", type=int, default=3, help="type every query this many times (median reported)")
    parser.add_argument("--no-fzf", action="store_true", help="skip the fzf side")
    parser.add_argument("--verbose", action="store_true", help="each query's rank, ours vs fzf")
    args = parser.parse_args()

    flags = generate_flags(args.flags, args.seed)
    keys = [f.key for f in flags]
    query_sets = {
        "hand-written (search_queries.yaml)": load_judged(QUERIES, keys),
        f"generated from 40 random flags (seed {args.query_seed})": generated_queries(keys, seed=args.query_seed),
    }
    judged = [j for js in query_sets.values() for j in js]
    start = time.perf_counter()
    index = FlagIndex(flags, environment="prod", now=NOW)
    build_ms = (time.perf_counter() - start) * 1000
    load_before = os.getloadavg()
    timings, ours = run_ours(index, judged, args.limit, args.passes)

    print(
        f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after "
        "the timing (other processes' load shows up in wall-clock latency)"
    )
    print(
        f"{len(flags)} flags, {len(judged)} queries ({', '.join(f'{len(v)} {k}' for k, v in query_sets.items())}), "
        f"{len(timings.wall_ms)} keystrokes; index built in {build_ms:.0f} ms"
    )
    print(f"ours, per keystroke, wall clock, one pass (limit={args.limit}):  {summary(timings.wall_ms)}")
    print(f"ours, per keystroke, wall clock, median of {args.passes} passes:     {summary(timings.median_ms)}")
    print(f"ours, per keystroke, CPU time of the searching thread: {summary(timings.cpu_ms)}")
    print(f"ours, one pass, keystrokes that are not a space:        {summary(timings.typed_ms)}")

    compared: dict[str, dict[str, list[str]]] = {"ours (FlagIndex)": ours}
    if args.no_fzf:
        pass
    elif shutil.which("fzf") is None:
        print("fzf not found: install it for the comparison (apt-get install -y fzf; brew install fzf)")
    else:
        version = subprocess.run(["fzf", "--version"], capture_output=True, text=True, check=False).stdout.strip()
        for label, lines in (
            ("fzf --filter, keys", "\n".join(keys) + "\n"),
            (
                "fzf --filter, key name tags owner",
                "\n".join(f"{f.key} {f.name} {' '.join(f.tags)} {f.owner}" for f in flags) + "\n",
            ),
        ):
            times, results = run_fzf(lines, judged)
            print(
                f"{label} (fzf {version}), per query incl. process start: p50 {statistics.median(times):.1f} ms  "
                f"p95 {percentile(times, 95):.1f} ms  max {max(times):.1f} ms"
            )
            compared[label] = results
    measure_updates(index, flags)
    for set_name, subset in query_sets.items():
        print(f"ranking quality, {set_name} (rank of the first right answer):")
        for name, results in compared.items():
            print_quality(name, subset, results)
    if args.verbose:
        names = list(compared)
        print("rank per query (- = not found): " + " | ".join(names))
        for j in judged:
            ranks = [first_hit(compared[n][j.query], j.relevant) for n in names]
            print(
                f"  {j.category:12} {j.query:34} "
                + "  ".join(f"{r if r else '-':>5}" for r in ranks)
                + f"   ours#1: {ours[j.query][0] if ours[j.query] else '-'}"
            )


if __name__ == "__main__":
    main()
