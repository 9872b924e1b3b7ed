"""Reading the conditions checks, waits and guards watch: a flag's error rate, or its state."""

from __future__ import annotations

from dataclasses import dataclass

from flagops.backends.base import FlagBackend
from flagops.errors import FlagOpsError, NotFound
from flagops.runbooks.schema import Condition


@dataclass(frozen=True)
class Reading:
    holds: bool
    text: str  # what was seen, plain text: "error rate 3.4% (1,234 evaluations, last 60s)"
    error_rate: float | None = None  # percent


# The v1 metrics API keeps 10-second buckets for an hour: windows are whole buckets, 10 s to 1 h.
METRIC_STEP = 10
MIN_WINDOW, MAX_WINDOW = 10, 3600


def window_seconds(window: float) -> int:
    seconds = int(round(float(window) / METRIC_STEP)) * METRIC_STEP
    return min(MAX_WINDOW, max(MIN_WINDOW, seconds))


async def error_rate(backend: FlagBackend, flag: str, environment: str, window: float) -> tuple[float | None, int]:
    """(error rate in percent, evaluations) over the last `window` seconds; rate None when there is no source."""
    series = await backend.metrics(flag, environment, window_seconds=window_seconds(window),
                                   step_seconds=METRIC_STEP)
    rate = series.error_rate
    return (None if rate is None else rate * 100.0), series.evaluations


def percent(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


async def read(backend: FlagBackend, cond: Condition, environment: str) -> Reading:
    """Evaluate `cond` once (bound: every field is a concrete value)."""
    if cond.metric == "error_rate":
        rate, evaluations = await error_rate(backend, cond.flag, environment, cond.window)
        if rate is None:
            raise FlagOpsError(f"{backend.name} has no error-rate source, so an error_rate step cannot run "
                               f"for {cond.flag}")
        seen = f"error rate {percent(rate)} ({evaluations:,} evaluations, last {int(cond.window)}s)"
        if evaluations == 0:
            seen += ", no traffic"
        holds = rate > cond.above if cond.above is not None else rate < cond.below
        return Reading(holds, seen, rate)
    try:
        flag = await backend.get_flag(cond.flag, environment)
    except NotFound:
        return Reading(False, f"{cond.flag} does not exist in {environment}")
    state = flag.state(environment)
    if state is None:
        return Reading(False, f"{cond.flag} has no state in {environment}")
    checks = []
    if cond.enabled is not None:
        checks.append(state.enabled == cond.enabled)
    if cond.rollout is not None:
        checks.append(abs(state.rollout - cond.rollout) < 1e-9)
    if cond.above is not None:
        checks.append(state.rollout > cond.above)
    if cond.below is not None:
        checks.append(state.rollout < cond.below)
    seen = f"{cond.flag} is {'on' if state.enabled else 'off'}, rollout {state.rollout:g}% (version {state.version})"
    return Reading(all(checks), seen)
