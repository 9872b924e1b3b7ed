"""The demo's traffic simulator: live metrics for every flag, and an incident that plays out.

Every second it reports evaluations and errors per variant (following each flag's real rollout, so a kill
shows up as traffic moving to the off variant) and a small baseline error rate. The incident: a "deploy-bot" ramps
`checkout-new-flow` in prod through the normal write path (If-Match, reason, audit, stream), and errors
among the users on the new flow grow with the rollout. The bot stops as soon as a human touches the flag.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from flagops.model import Flag, FlagState, StateChange
from flagops.server.demo import INCIDENT_FLAG
from flagops.server.metrics import BASE_STEP
from flagops.server.problems import Problem

if TYPE_CHECKING:
    from flagops.server.service import Service

RAMP = (2.0, 5.0, 10.0, 25.0, 50.0)
BOT = "deploy-bot"
ENV_SCALE = {"prod": 1.0, "staging": 0.08, "dev": 0.02}


def _weight(key: str) -> float:
    """A stable evaluations-per-second for a flag in prod: a few popular flags, a long tail."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 2**32
    return 2 + 400 * h**4


def incident_error_rate(rollout: float) -> float:
    """Share of requests on the new flow that fail: grows with load on the new code path."""
    return 0.03 + 0.15 * rollout / 100


Recorder = Callable[[str, str, float, dict[str, int], dict[str, int]], None]  # MetricsStore.record


def simulate_step(record: Recorder, flags: list[Flag], env: str, at: float, seconds: float, rng: random.Random) -> None:
    for flag in flags:
        state = flag.states.get(env)
        if state is None:
            continue
        total = int(_weight(flag.key) * ENV_SCALE.get(env, 0.05) * seconds * rng.uniform(0.85, 1.15))
        if total <= 0:
            continue
        on = round(total * state.effective_rollout / 100)
        evals = {state.default_variant: on} if on else {}
        if total - on:
            evals[state.off_variant] = evals.get(state.off_variant, 0) + total - on
        base = 0.001 + 0.004 * (int.from_bytes(flag.key.encode()[:2], "big") % 10) / 10
        errors: dict[str, int] = {}
        for variant, n in evals.items():
            expected = n * base
            if flag.key == INCIDENT_FLAG and env == "prod" and variant == state.default_variant and on:
                expected += on * incident_error_rate(state.effective_rollout)  # only the new flow fails
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            if count:
                errors[variant] = count
        record(flag.key, env, at, evals, errors)


class Traffic:
    def __init__(self, svc: Service, *, seed: int = 7, step_seconds: float = 45.0, tick: float = 1.0) -> None:
        self.svc = svc
        self.rng = random.Random(seed)  # noqa: S311 - a repeatable simulation, not a secret
        self.step_seconds = step_seconds
        self.tick = tick

    def backfill(self, seconds: int = 900) -> None:
        """The last 15 minutes, so charts are not empty when the demo opens."""
        now = time.time()
        flags = self.svc.store.flags()
        for t in range(int(now) - seconds, int(now) // BASE_STEP * BASE_STEP, BASE_STEP):
            for env in ENV_SCALE:
                simulate_step(self.svc.metrics.record, flags, env, t, BASE_STEP, self.rng)

    async def ramp_once(self) -> bool:
        """One deploy-bot step; False when the ramp is over or a human has taken over."""
        flag = self.svc.store.live_flag(INCIDENT_FLAG)
        state: FlagState | None = flag.states.get("prod") if flag is not None else None
        if state is None or not state.enabled or (state.updated_by not in (None, BOT, "demo-seed")):
            return False
        nxt = next((p for p in RAMP if p > state.rollout), None)
        if nxt is None:
            return False
        step = RAMP.index(nxt) + 1
        try:
            await run_in_threadpool(
                self.svc.store.patch,
                INCIDENT_FLAG,
                "prod",
                StateChange(rollout=nxt),
                if_match=state.version,
                actor=BOT,
                reason=f"progressive rollout step {step}/{len(RAMP)}: {state.rollout:g}% -> {nxt:g}% "
                "(automated deploy pipeline, error budget check skipped)",
                ticket="DEPLOY-4821",
            )
        except Problem:
            return False  # someone changed it first: the bot backs off, like a real pipeline should
        return True

    async def run(self) -> None:
        self.backfill()
        loop = asyncio.get_running_loop()
        last = time.time()
        next_ramp = loop.time() + self.step_seconds
        ramping = True
        while True:
            await asyncio.sleep(self.tick)
            now = time.time()
            flags = self.svc.store.flags()
            for env in ENV_SCALE:
                simulate_step(self.svc.metrics.record, flags, env, now, now - last, self.rng)
            last = now
            if ramping and loop.time() >= next_ramp:
                ramping = await self.ramp_once()
                next_ramp = loop.time() + self.step_seconds
