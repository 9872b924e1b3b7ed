"""Reading the conditions checks, waits and guards watch: a flag's error rate (of all traffic, or the
treatment arm against the control arm), or its state."""

from __future__ import annotations

from dataclasses import dataclass

from flagops.backends.base import FlagBackend
from flagops.errors import FlagOpsError, NotFound
from flagops.metrics.base import arms
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
    seconds = round(float(window) / METRIC_STEP) * METRIC_STEP
    return min(MAX_WINDOW, max(MIN_WINDOW, seconds))


async def error_rate(backend: FlagBackend, flag: str, environment: str, window: float) -> tuple[float | None, float]:
    """(error rate in percent, evaluations) over the last `window` seconds; rate None when there is no source."""
    series = await backend.metrics(flag, environment, window_seconds=window_seconds(window), step_seconds=METRIC_STEP)
    rate = series.error_rate
    return (None if rate is None else rate * 100.0), series.evaluations


@dataclass(frozen=True)
class ArmReading:
    """Treatment against control over a window, in percent; `gap` None when either arm had no traffic."""

    treatment: str  # variant keys
    control: str
    treatment_rate: float | None
    control_rate: float | None
    evaluations: float

    @property
    def gap(self) -> float | None:
        if self.treatment_rate is None or self.control_rate is None:
            return None
        return self.treatment_rate - self.control_rate

    def text(self) -> str:
        def show(rate: float | None) -> str:
            return "no traffic" if rate is None else percent(rate)

        gap = "" if self.gap is None else f", {self.gap:+.2f} points"
        return (
            f"treatment {self.treatment} {show(self.treatment_rate)} vs control {self.control} "
            f"{show(self.control_rate)}{gap}"
        )


async def arm_rates(backend: FlagBackend, flag: str, environment: str, window: float) -> ArmReading:
    """Treatment (the flag's default variant) vs control (its off variant) over the last `window` seconds."""
    found = await backend.get_flag(flag, environment)
    state = found.state(environment)
    if state is None:
        raise NotFound(f"{flag} has no state in {environment}")
    series = await backend.metrics(flag, environment, window_seconds=window_seconds(window), step_seconds=METRIC_STEP)
    pair = arms(series, state)
    if pair is None:
        why = (
            "its treatment and control are the same variant"
            if state.default_variant == state.off_variant
            else f"the metrics source of {backend.name} does not split errors by variant"
        )
        raise FlagOpsError(f"cannot compare treatment with control for {flag}: {why}")
    t, c = pair.treatment, pair.control
    return ArmReading(
        t.variant,
        c.variant,
        None if t.rate is None else t.rate * 100,
        None if c.rate is None else c.rate * 100,
        series.evaluations,
    )


def percent(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


async def read(backend: FlagBackend, cond: Condition, environment: str) -> Reading:
    """Evaluate `cond` once (bound: every field is a concrete value)."""
    if cond.metric == "error_rate" and cond.compares_arms:
        reading = await arm_rates(backend, cond.flag, environment, cond.window)
        seen = f"{reading.text()} (last {int(cond.window)}s)"
        if reading.gap is None:
            return Reading(False, seen + ": one arm had no traffic, nothing to compare")
        holds = (
            reading.gap > float(cond.above_control_by)
            if cond.above_control_by is not None
            else reading.gap < float(cond.below_control_by)
        )
        return Reading(holds, seen, reading.treatment_rate)
    if cond.metric == "error_rate":
        rate, evaluations = await error_rate(backend, cond.flag, environment, cond.window)
        if rate is None:
            raise FlagOpsError(
                f"{backend.name} has no error-rate source, so an error_rate step cannot run for {cond.flag}"
            )
        seen = f"error rate {percent(rate)} ({evaluations:,.0f} evaluations, last {int(cond.window)}s)"
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
