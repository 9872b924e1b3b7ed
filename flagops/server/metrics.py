"""Flag metrics: evaluations and errors per variant, in 10-second buckets kept for an hour, in memory.

Metrics are telemetry, not records: they are not persisted (a restart starts empty; the demo's traffic
simulator refills the past 15 minutes on start). Totals since start are exported for Prometheus.
Errors may be reported per variant ({variant: n}) or as one number; a plain number is kept as errors
without a variant (in the totals, and exported without a `variant` label).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flagops.v1 import wire

BASE_STEP = 10
RETENTION = 3600
MAX_POINTS = 720


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsStore:
    def __init__(self) -> None:
        # (flag, environment) -> bucket start (epoch seconds) -> (evaluations by variant, errors by variant);
        # errors without a variant are kept under ""
        self._buckets: dict[tuple[str, str], dict[int, tuple[dict[str, int], dict[str, int]]]] = defaultdict(dict)
        self._eval_totals: dict[tuple[str, str, str], int] = defaultdict(int)
        self._error_totals: dict[tuple[str, str, str], int] = defaultdict(int)
        self._last_prune = 0.0

    def record(
        self, flag: str, environment: str, at: float, evaluations: Mapping[str, int], errors: int | Mapping[str, int]
    ) -> None:
        bucket = int(at) // BASE_STEP * BASE_STEP
        slot = self._buckets[(flag, environment)].get(bucket)
        if slot is None:
            slot = ({}, {})
            self._buckets[(flag, environment)][bucket] = slot
        for variant, n in evaluations.items():
            slot[0][variant] = slot[0].get(variant, 0) + n
            self._eval_totals[(flag, environment, variant)] += n
        for variant, n in errors.items() if isinstance(errors, Mapping) else (("", errors),):
            if n:
                slot[1][variant] = slot[1].get(variant, 0) + n
                self._error_totals[(flag, environment, variant)] += n
        if at - self._last_prune > 60:
            self.prune(at)

    def prune(self, now: float) -> None:
        self._last_prune = now
        oldest = now - RETENTION - BASE_STEP
        for series in self._buckets.values():
            for bucket in [b for b in series if b < oldest]:
                del series[bucket]

    def series(self, flag: str, environment: str, window: int, step: int, now: float | None = None) -> dict[str, Any]:
        """Zero-filled points from `now - window` to `now`, `step` seconds each (a multiple of 10)."""
        now = datetime.now(UTC).timestamp() if now is None else now
        end = int(now) // step * step + step  # the current, partial step is the last point
        start = end - math.ceil(window / step) * step
        buckets = self._buckets.get((flag, environment), {})
        points = []
        for t in range(start, end, step):
            evals: dict[str, int] = {}
            errors: dict[str, int] = {}
            for b in range(t, t + step, BASE_STEP):
                slot = buckets.get(b)
                if slot is not None:
                    for variant, n in slot[0].items():
                        evals[variant] = evals.get(variant, 0) + n
                    for variant, n in slot[1].items():
                        errors[variant] = errors.get(variant, 0) + n
            points.append(
                {
                    "at": wire.iso(datetime.fromtimestamp(t, UTC)),
                    "evaluations": evals,
                    "errors": sum(errors.values()),
                    "errorsByVariant": {v: n for v, n in errors.items() if v},
                }
            )
        return {
            "flag": flag,
            "environment": environment,
            "step": step,
            "window": window,
            "hasErrors": True,
            "points": points,
        }

    def prometheus(
        self, gauges: list[tuple[str, str, dict[str, str], float]], environments: frozenset[str] | None = None
    ) -> str:
        """Text exposition 0.0.4: counters since start plus the service's `gauges` (name, help, labels, value);
        with `environments`, only their series (what a token limited to them may see)."""
        lines = [
            "# HELP flagops_flag_evaluations_total Flag evaluations reported, by variant.",
            "# TYPE flagops_flag_evaluations_total counter",
        ]
        for (flag, env, variant), n in sorted(self._eval_totals.items()):
            if environments is not None and env not in environments:
                continue
            lines.append(
                f'flagops_flag_evaluations_total{{flag="{_label(flag)}",environment="{_label(env)}",'
                f'variant="{_label(variant)}"}} {n}'
            )
        lines += [
            "# HELP flagops_flag_errors_total Errors reported by code paths behind a flag, by variant.",
            "# TYPE flagops_flag_errors_total counter",
        ]
        for (flag, env, variant), n in sorted(self._error_totals.items()):
            if environments is not None and env not in environments:
                continue
            by = f',variant="{_label(variant)}"' if variant else ""  # errors reported without a variant
            lines.append(f'flagops_flag_errors_total{{flag="{_label(flag)}",environment="{_label(env)}"{by}}} {n}')
        seen: set[str] = set()
        for name, help_, labels, value in gauges:
            if name not in seen:
                lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
                seen.add(name)
            rendered = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def parse_ingest(
    d: Any, known_flags: set[str], environments: set[str], now: float
) -> tuple[str, float, list[tuple[str, dict[str, int], int | dict[str, int]]]]:
    """Validate a POST /v1/metrics body completely before anything is recorded (no partial writes)."""
    if not isinstance(d, dict):
        raise ValueError("body: expected a JSON object {environment, at?, counts: [...]}")
    unknown = sorted(set(d) - {"environment", "at", "counts"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field; allowed: at, counts, environment")
    env = d.get("environment")
    if not isinstance(env, str) or env not in environments:
        raise ValueError(f"environment: expected one of {', '.join(sorted(environments))}")
    at_dt = wire.parse_time(d.get("at"), "at")
    at = now if at_dt is None else at_dt.timestamp()
    if not now - RETENTION < at <= now + 300:
        raise ValueError("at: must be within the last hour (and not in the future)")
    counts = d.get("counts")
    if not isinstance(counts, list) or len(counts) > 10000:
        raise ValueError("counts: expected a list of at most 10000 {flag, evaluations, errors}")
    parsed = []
    for i, c in enumerate(counts):
        where = f"counts[{i}]"
        if not isinstance(c, dict) or set(c) - {"flag", "evaluations", "errors"}:
            raise ValueError(f"{where}: expected an object {{flag, evaluations, errors}}")
        flag = c.get("flag")
        if not isinstance(flag, str) or flag not in known_flags:
            raise ValueError(f"{where}.flag: not a known flag")
        evals = c.get("evaluations", {})
        if (
            not isinstance(evals, dict)
            or len(evals) > 100
            or not all(
                isinstance(k, str) and 0 < len(k) <= 100 and type(v) is int and 0 <= v <= 10**9
                for k, v in evals.items()
            )
        ):
            raise ValueError(f"{where}.evaluations: expected {{variant: count}} with counts 0-1000000000")
        errors = c.get("errors", 0)
        if isinstance(errors, dict):
            if len(errors) > 100 or not all(
                isinstance(k, str) and 0 < len(k) <= 100 and type(v) is int and 0 <= v <= 10**9
                for k, v in errors.items()
            ):
                raise ValueError(f"{where}.errors: expected {{variant: count}} with counts 0-1000000000")
        elif type(errors) is not int or not 0 <= errors <= 10**9:
            raise ValueError(f"{where}.errors: expected an integer 0-1000000000, or {{variant: count}}")
        parsed.append((flag, evals, errors))
    return env, at, parsed
