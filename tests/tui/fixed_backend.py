"""A FlagBackend with fixed data, for SVG snapshot tests only.

Snapshots compare pictures byte for byte, and the real service cannot give the same picture twice (its
clock stamps every change, its traffic simulator is live). So the snapshot tests — and only they — run
the real console against this in-memory backend at the port boundary; every behaviour test drives the
real service over HTTP. The data mirrors the demo's shape: an incident flag whose error rate rose after
a rollout change, a protected prod, a mixed bag of states, and an audit trail with reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from flagops.errors import Invalid, NotFound
from flagops.model import (
    AuditEntry,
    AuditVerification,
    BackendCapabilities,
    ChangeEvent,
    ChangeOrigin,
    Decision,
    Environment,
    EvaluationRequest,
    Flag,
    FlagState,
    MetricPoint,
    MetricSeries,
    RiskLevel,
    Rule,
    Stage,
    StateChange,
    Variant,
)

NOW = datetime(2026, 3, 14, 3, 12, 0, tzinfo=UTC)
INCIDENT = "checkout-new-flow"
CHANGE_AT = NOW - timedelta(minutes=4)
ENVIRONMENTS = [
    Environment("dev", "Development"),
    Environment("staging", "Staging"),
    Environment("prod", "Production", protected=True),
]
TEAMS = ["checkout", "payments", "search", "identity", "mobile"]
SUFFIXES = ["rollout", "beta", "killswitch", "v2", "experiment", "eu"]
LONG_KEYS = [
    "checkout-coupon-stacking-experiment",
    "checkout-coupon-stacking-killswitch",
    "checkout-coupon-stacking-rollout",
    "checkout-coupon-stacking-eu",
    "notifications-unsubscribe-one-click-experiment",
]


def _state(
    env: str, enabled: bool, rollout: float, version: int, minutes_ago: int, who: str, rules: tuple[Rule, ...] = ()
) -> FlagState:
    return FlagState(
        env,
        enabled,
        rollout,
        "on",
        "off",
        version,
        rules=rules,
        updated_at=NOW - timedelta(minutes=minutes_ago),
        updated_by=who,
    )


def build_flags() -> list[Flag]:
    flags = [
        Flag(
            INCIDENT,
            "Checkout: new payment flow",
            description="The new single-page checkout flow, ramped by the deploy pipeline.",
            variants=(Variant("on", True), Variant("off", False)),
            tags=("checkout", "payments", "kill-switch"),
            owner="checkout",
            stage=Stage.ACTIVE,
            kill_switch=True,
            risk_level=RiskLevel.HIGH,
            ticket="CHK-4821",
            dashboards=("https://grafana.example.com/d/checkout/checkout-new-flow",),
            created_at=NOW - timedelta(days=9),
            states={
                "dev": _state("dev", True, 100, 3, 60 * 30, "alice"),
                "staging": _state("staging", True, 100, 4, 60 * 20, "alice"),
                "prod": _state(
                    "prod",
                    True,
                    50,
                    7,
                    4,
                    "deploy-bot",
                    rules=(Rule("beta", "segment", "in", ("beta-testers", "staff"), "on"),),
                ),
            },
        )
    ]
    n = 0
    for team in TEAMS:
        for suffix in SUFFIXES[: 3 if team != "checkout" else 5]:
            n += 1
            key = f"{team}-{['search-v2', 'fraud-score', 'autocomplete', 'passkeys', 'haptics'][n % 5]}-{suffix}"
            enabled = n % 4 != 0
            rollout = [100, 25, 10, 50, 5][n % 5]
            stage = Stage.DEPRECATED if n % 6 == 0 else Stage.ACTIVE
            flags.append(
                Flag(
                    key,
                    key.replace("-", " ").capitalize(),
                    owner=team,
                    tags=(team,),
                    stage=stage,
                    created_at=NOW - timedelta(days=30 + n),
                    states={
                        env.key: _state(env.key, enabled, rollout, 1 + n % 3, 60 * (n + 2), "demo-seed")
                        for env in ENVIRONMENTS
                    },
                )
            )
    # long keys that differ only at the end, as in the demo: 80 columns must still tell them apart
    for n, key in enumerate(LONG_KEYS):
        flags.append(
            Flag(
                key,
                key.replace("-", " ").capitalize(),
                owner="notifications" if n == 4 else "checkout",
                tags=("long",),
                created_at=NOW - timedelta(days=60),
                states={
                    env.key: _state(env.key, n % 2 == 0, [100, 10, 50, 0, 25][n], 2, 60 * 24 * 3, "demo-seed")
                    for env in ENVIRONMENTS
                },
            )
        )
    return flags


def _snapshot(enabled: bool, rollout: float, version: int) -> FlagState:
    return FlagState("", enabled, float(rollout), "on", "off", version)


def build_audit() -> list[AuditEntry]:
    """Newest first: the deploy-bot's ramp of the incident flag, human changes elsewhere (one from a runbook
    run) and one from three days ago, so dates show next to times. Sequences follow time, as in the service."""
    changes: list[tuple[timedelta, str, str, str, str, str, FlagState, FlagState, ChangeOrigin | None]] = [
        (
            timedelta(days=3),
            "alice",
            INCIDENT,
            "staging",
            "staging soak done, full rollout",
            "CHK-4821",
            _snapshot(True, 50, 3),
            _snapshot(True, 100, 4),
            None,
        )
    ]
    for version, (before, after, minutes) in enumerate([(1, 5, 40), (5, 10, 28), (10, 25, 16), (25, 50, 4)], start=3):
        changes.append(
            (
                timedelta(minutes=minutes),
                "deploy-bot",
                INCIDENT,
                "prod",
                f"progressive rollout {before}% -> {after}% (automated deploy pipeline)",
                "DEPLOY-4821",
                _snapshot(True, before, version),
                _snapshot(True, after, version + 1),
                ChangeOrigin(tool="deploy-pipeline"),
            )
        )
    changes.append(
        (
            timedelta(minutes=2),
            "alice",
            "payments-fraud-score-beta",
            "prod",
            "pausing while fraud team reviews",
            "PAY-77",
            _snapshot(True, 25, 2),
            _snapshot(False, 25, 3),
            None,
        )
    )
    changes.append(
        (
            timedelta(minutes=1),
            "bob",
            "checkout-coupon-stacking-killswitch",
            "prod",
            "coupon abuse: stop stacking",
            "INC-88",
            _snapshot(True, 10, 1),
            _snapshot(False, 10, 2),
            ChangeOrigin(tool="flagops", runbook="panic-service", run_id="r-7f3a", step=2),
        )
    )
    entries = [
        AuditEntry(
            101 + n,
            NOW - ago,
            actor,
            "flag.updated",
            key,
            env,
            reason,
            ticket=ticket,
            before=replace(before, environment=env),
            after=replace(after, environment=env),
            origin=origin,
        )
        for n, (ago, actor, key, env, reason, ticket, before, after, origin) in enumerate(changes)
    ]
    return sorted(entries, key=lambda e: e.sequence, reverse=True)


class FixedBackend:
    name = "fixed"

    def __init__(self, *, error_metrics: bool = True) -> None:
        self.capabilities = BackendCapabilities(error_metrics=error_metrics)
        self.flags = {f.key: f for f in build_flags()}
        self.entries = build_audit()

    async def environments(self) -> list[Environment]:
        return list(ENVIRONMENTS)

    async def list_flags(self, environment: str) -> list[Flag]:
        return [replace(f, states={environment: f.states[environment]}) for f in self.flags.values()]

    async def get_flag(self, key: str, environment: str | None = None) -> Flag:
        if key not in self.flags:
            raise NotFound(f"No flag {key!r}.")
        flag = self.flags[key]
        return flag if environment is None else replace(flag, states={environment: flag.states[environment]})

    async def update_state(
        self,
        key: str,
        environment: str,
        change: StateChange,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        raise NotImplementedError("snapshot tests do not write")

    async def restore(
        self,
        key: str,
        environment: str,
        to_version: int,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        raise NotImplementedError("snapshot tests do not write")

    async def audit(
        self,
        *,
        flag: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        return [
            e
            for e in self.entries
            if (flag is None or e.flag_key == flag)
            and (environment is None or e.environment == environment)
            and (since is None or e.at >= since)
        ][:limit]

    async def verify_audit(self) -> AuditVerification:
        return AuditVerification(True, len(self.entries))

    async def metrics(
        self, key: str, environment: str, *, window_seconds: int = 300, step_seconds: int = 10
    ) -> MetricSeries:
        if step_seconds % 10 or window_seconds // step_seconds > 720:
            raise Invalid("step: must be a multiple of 10 seconds (as the v1 API says)")
        steps = max(1, window_seconds // step_seconds)
        seed = sum(map(ord, key))
        points = []
        for i in range(steps):
            at = NOW - timedelta(seconds=(steps - i) * step_seconds)
            total = 200 + (seed * (i + 3)) % 60
            state = self.flags[key].states[environment] if key in self.flags else None
            share = state.rollout / 100 if state and state.enabled else 0.0
            on = round(total * share)
            rate = 0.004 + (seed % 7) / 1000
            on_rate = rate
            if key == INCIDENT:  # the new path fails after the change, the old one does not
                on_rate = 0.01 if at < CHANGE_AT else 0.01 + 0.16 * min(1.0, (at - CHANGE_AT).total_seconds() / 120)
            by_variant = {"on": round(on * on_rate), "off": round((total - on) * rate)}
            points.append(
                MetricPoint(
                    at,
                    {"on": on, "off": total - on},
                    sum(by_variant.values()),
                    {v: n for v, n in by_variant.items() if n},
                )
            )
        return MetricSeries(
            key, environment, step_seconds, tuple(points), has_errors=self.capabilities.error_metrics, errors_split=True
        )

    async def evaluate(self, environment: str, requests: list[EvaluationRequest]) -> list[Decision]:
        return []

    async def watch(self, environment: str, last_event_id: int | None = None) -> AsyncIterator[ChangeEvent]:
        await asyncio.Event().wait()  # a live stream on which nothing happens
        yield  # type: ignore[misc]  # pragma: no cover - makes this an async generator

    async def aclose(self) -> None:
        return None
