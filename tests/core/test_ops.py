"""ops against the real service on loopback: plan, rules, If-Match, idempotency, confirmation, rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import RunningService

from core.clitools import FlagPicker
from flagops.backends.flagapi import FlagApiBackend
from flagops.errors import Conflict, Invalid, NotFound, ReasonTooShort, Refused
from flagops.model import StateChange
from flagops.ops import Ops
from flagops.secrets import Secret

REASON = "incident INC-1: errors on checkout"


@pytest.fixture(scope="module")
def picker(service: RunningService) -> FlagPicker:
    return FlagPicker(service.url, service.admin_token)


@pytest.fixture
async def backend(service: RunningService) -> AsyncIterator[FlagApiBackend]:
    b = FlagApiBackend(service.url, Secret(service.admin_token))
    yield b
    await b.aclose()


def _audit(service: RunningService, key: str) -> list[dict[str, object]]:
    with service.client() as client:
        entries: list[dict[str, object]] = client.get("/v1/audit", params={"flag": key, "limit": 100}).json()["entries"]
        return entries


async def test_kill_plans_applies_and_confirms(
    service: RunningService, backend: FlagApiBackend, picker: FlagPicker
) -> None:
    key = picker.take(enabled=True)
    ops = Ops(backend)
    plan = await ops.plan_kill(key, "dev")
    assert plan.before.enabled and not plan.after.enabled and not plan.noop
    assert plan.blast.window_seconds == 300 and plan.blast.unknown is None
    assert plan.summary().startswith(f"{key} in dev: on ") and plan.summary().endswith("-> off")
    applied = await ops.apply(plan, reason=REASON, ticket="INC-1")
    assert applied.confirmed and not applied.noop
    assert applied.time_to_effect is not None and 0 <= applied.time_to_effect < 5
    assert applied.state.enabled is False and applied.state.version == plan.before.version + 1
    entries = _audit(service, key)
    assert entries[0]["reason"] == REASON and entries[0]["ticket"] == "INC-1"
    assert entries[0]["idempotencyKey"] == applied.idempotency_key


async def test_kill_of_an_off_flag_is_a_noop_without_a_write(
    service: RunningService, backend: FlagApiBackend, picker: FlagPicker
) -> None:
    key = picker.take(enabled=False)
    before = len(_audit(service, key))
    ops = Ops(backend)
    plan = await ops.plan_kill(key, "dev")
    applied = await ops.apply(plan, reason=REASON)
    assert plan.noop and applied.noop and "already off" in plan.summary()
    assert len(_audit(service, key)) == before


async def test_stale_plan_is_a_conflict_with_the_fresh_state(backend: FlagApiBackend, picker: FlagPicker) -> None:
    key = picker.take(enabled=True, env="staging", rollout_below=100)
    ops = Ops(backend)
    plan = await ops.plan_rollout(key, "staging", 100)
    # someone else changes the flag after we planned
    await backend.update_state(
        key,
        "staging",
        StateChange(rollout=3),
        expected_version=plan.before.version,
        reason="a colleague got there first",
        idempotency_key="colleague-1",
    )
    with pytest.raises(Conflict) as info:
        await ops.apply(plan, reason=REASON)
    fresh = info.value.fresh
    assert fresh is not None and fresh.states["staging"].rollout == 3
    assert fresh.states["staging"].version == plan.before.version + 1
    assert f"you had version {plan.before.version}" in info.value.message and "alice-admin" in info.value.message


async def test_rules_refuse_before_writing(backend: FlagApiBackend, picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    plan = await Ops(backend).plan_kill(key, "dev")
    with pytest.raises(Refused, match="Read-only"):
        await Ops(backend, readonly=True).apply(plan, reason=REASON)
    with pytest.raises(Refused, match="reason is required"):
        await Ops(backend).apply(plan, reason="   ")
    with pytest.raises(Refused, match=r"too short.*at least 20") as short:
        await Ops(backend, min_reason_length=20).apply(plan, reason=" because ")
    # the numbers travel with the refusal, so a face can word it its own way
    assert isinstance(short.value, ReasonTooShort) and (short.value.length, short.value.minimum) == (7, 20)
    assert (await backend.get_flag(key, "dev")).states["dev"].enabled is True
    assert Ops(backend).needs_typed_key(await Ops(backend).plan_kill(key, "prod")) is True


async def test_rollout_and_rollback_to_the_previous_version(backend: FlagApiBackend, picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    ops = Ops(backend)
    original = (await backend.get_flag(key, "dev")).states["dev"]
    applied = await ops.apply(await ops.plan_rollout(key, "dev", 75), reason=REASON)
    assert applied.confirmed and applied.state.rollout == 75
    plan = await ops.plan_rollback(key, "dev")
    assert plan.to_version == original.version and plan.after.rollout == original.rollout
    assert "restore version" in plan.summary()
    back = await ops.apply(plan, reason="roll back the ramp")
    assert back.confirmed and back.state.rollout == original.rollout and back.state.version == original.version + 2
    with pytest.raises(Invalid, match="0 to 100"):
        await ops.plan_rollout(key, "dev", 120)
    with pytest.raises(Invalid, match="not an earlier version"):
        await ops.plan_rollback(key, "dev", to_version=back.state.version)


async def test_unknown_flag_and_environment(backend: FlagApiBackend) -> None:
    with pytest.raises(NotFound, match="no-such-flag"):
        await Ops(backend).plan_kill("no-such-flag", "dev")
    with pytest.raises(NotFound):
        await Ops(backend).plan_kill("no-such-flag", "moon")


async def test_same_idempotency_key_applies_once(
    service: RunningService, backend: FlagApiBackend, picker: FlagPicker
) -> None:
    key = picker.take(enabled=True)
    ops = Ops(backend)
    plan = await ops.plan_kill(key, "dev")
    first = await ops.apply(plan, reason=REASON, idempotency_key="retry-me-1")
    again = await ops.apply(plan, reason=REASON, idempotency_key="retry-me-1")  # a replay, not a second write
    assert first.state.version == again.state.version
    assert sum(1 for e in _audit(service, key) if e["idempotencyKey"] == "retry-me-1") == 1


async def test_list_flags_is_cached_by_etag(backend: FlagApiBackend) -> None:
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        if response.request.url.path == "/v1/flags":
            statuses.append(response.status_code)

    backend._client.http.event_hooks["response"].append(record)
    first = await backend.list_flags("staging")
    second = await backend.list_flags("staging")
    assert statuses == [200, 304] and first == second and len(first) > 100
