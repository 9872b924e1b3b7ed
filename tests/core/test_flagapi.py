"""The flagapi adapter against the real service: auth errors without the token, 429 storms honoured,
a lost 500 retried with the same Idempotency-Key (applied once), SSE with Last-Event-ID and reconnects."""

from __future__ import annotations

import asyncio
import re
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import RunningService, start_service

from core.clitools import FlagPicker
from core.proxy import FaultProxy, ProxyRequest, Reply, problem
from flagops.backends.flagapi import FlagApiBackend
from flagops.backends.http import CircuitBreaker, RetryPolicy
from flagops.errors import Forbidden, Invalid, RateLimited, Unauthorized, Unavailable
from flagops.model import ChangeEvent, StateChange
from flagops.ops import Ops
from flagops.secrets import Secret

REASON = "incident INC-2: adapter test"


@pytest.fixture(scope="module")
def picker(service: RunningService) -> FlagPicker:
    return FlagPicker(service.url, service.admin_token)


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(getattr(exc, "__dict__", {}))


async def test_wrong_token_is_unauthorized_and_never_shown(service: RunningService) -> None:
    wrong = "wrong-token-" + "x" * 20
    backend = FlagApiBackend(service.url, Secret(wrong))
    try:
        with pytest.raises(Unauthorized) as info:
            await backend.list_flags("dev")
    finally:
        await backend.aclose()
    assert "flagops login" in info.value.message and "FLAGOPS_TOKEN" in info.value.message
    assert wrong not in _all_text(info.value)


async def test_scope_problem_is_forbidden(service: RunningService, picker: FlagPicker) -> None:
    backend = FlagApiBackend(service.url, Secret(service.read_token))
    key = picker.take(enabled=True)
    try:
        with pytest.raises(Forbidden, match="403"):
            await Ops(backend).apply(await Ops(backend).plan_kill(key, "dev"), reason=REASON)
    finally:
        await backend.aclose()


async def test_service_down_is_unavailable_quickly(tmp_path: Path) -> None:
    backend = FlagApiBackend("http://127.0.0.1:9", Secret("t"), policy=RetryPolicy(attempts=3, base_delay=0.01))
    try:
        with pytest.raises(Unavailable, match=re.escape("cannot connect to the flag service at http://127.0.0.1:9")):
            await backend.environments()
    finally:
        await backend.aclose()


async def test_a_429_storm_is_honoured(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", extra_args=["--rate-limit", "4"])
    statuses: list[int] = []

    async def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    backend = FlagApiBackend(svc.url, Secret(svc.admin_token))
    backend._client.http.event_hooks["response"].append(record)
    try:
        flags = await backend.list_flags("dev")
        keys = [f.key for f in flags[:16]]
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await asyncio.gather(*(backend.get_flag(k, "dev") for k in keys))
        elapsed = loop.time() - started
    finally:
        await backend.aclose()
        svc.stop()
    assert [f.key for f in got] == keys
    assert statuses.count(429) >= 3, statuses  # the storm happened ...
    assert elapsed >= 1.0  # ... and was waited out per Retry-After, not hammered through


async def test_lost_500_is_retried_with_the_same_key_and_applied_once(
    service: RunningService, picker: FlagPicker
) -> None:
    key = picker.take(enabled=True)
    lost: list[str] = []

    def lose_first_write_response(request: ProxyRequest) -> Reply | None:
        if request.method == "PATCH" and not lost:
            request.forward()  # the service applies it ...
            lost.append(request.headers.get("Idempotency-Key", ""))
            return problem(500, "injected: upstream connection reset")  # ... but the client never hears
        return None

    with FaultProxy(service.url, lose_first_write_response) as proxy:
        backend = FlagApiBackend(proxy.url, Secret(service.admin_token))
        try:
            ops = Ops(backend)
            applied = await ops.apply(await ops.plan_kill(key, "dev"), reason=REASON)
        finally:
            await backend.aclose()
    patches = [headers for method, _, headers in proxy.seen if method == "PATCH"]
    assert len(patches) == 2 and patches[0]["Idempotency-Key"] == patches[1]["Idempotency-Key"] == lost[0]
    assert applied.confirmed and applied.state.enabled is False
    with service.client() as client:
        entries = client.get("/v1/audit", params={"flag": key, "environment": "dev"}).json()["entries"]
    assert sum(1 for e in entries if e["idempotencyKey"] == lost[0]) == 1


async def _collect(backend: FlagApiBackend, env: str, last: int | None, into: asyncio.Queue[ChangeEvent]) -> None:
    async for event in backend.watch(env, last):
        await into.put(event)


async def _wait_state(backend: FlagApiBackend, state: str, timeout: float = 15) -> None:
    async def poll() -> None:
        while backend.stream.state != state:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def watched(fresh_service: RunningService) -> AsyncIterator[tuple[RunningService, FlagApiBackend]]:
    backend = FlagApiBackend(fresh_service.url, Secret(fresh_service.admin_token))
    yield fresh_service, backend
    await backend.aclose()


def _patch(svc: RunningService, key: str, env: str, rollout: float) -> int:
    with svc.client() as client:
        version = client.get(f"/v1/flags/{key}", params={"environment": env}).json()["environments"][env]["version"]
        r = client.patch(
            f"/v1/flags/{key}",
            params={"environment": env},
            json={"rollout": rollout, "changeReason": "stream test change"},
            headers={"If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
        entries = client.get("/v1/audit", params={"flag": key, "limit": 1}).json()["entries"]
        return int(entries[0]["sequence"])


async def test_stream_delivers_and_resumes_after_last_event_id(watched: tuple[RunningService, FlagApiBackend]) -> None:
    svc, backend = watched
    key = (await backend.list_flags("dev"))[0].key
    first = _patch(svc, key, "dev", 11)
    second = _patch(svc, key, "dev", 12)
    events: asyncio.Queue[ChangeEvent] = asyncio.Queue()
    task = asyncio.create_task(_collect(backend, "dev", first - 1, events))
    try:
        got = [await asyncio.wait_for(events.get(), 10) for _ in range(2)]
        assert [e.id for e in got] == [first, second]
        assert got[1].flag is not None and got[1].flag.states["dev"].rollout == 12
        await _wait_state(backend, "live")
        third = _patch(svc, key, "dev", 13)
        live = await asyncio.wait_for(events.get(), 10)
        assert live.id == third and live.type == "flag.updated" and live.reason == "stream test change"
    finally:
        task.cancel()


async def test_stream_reconnects_after_the_service_restarts(
    watched: tuple[RunningService, FlagApiBackend], tmp_path: Path
) -> None:
    svc, backend = watched
    key = (await backend.list_flags("dev"))[1].key
    events: asyncio.Queue[ChangeEvent] = asyncio.Queue()
    task = asyncio.create_task(_collect(backend, "dev", None, events))
    port = int(svc.url.rsplit(":", 1)[1])
    restarted: RunningService | None = None
    try:
        await _wait_state(backend, "live")
        seq = _patch(svc, key, "dev", 21)
        assert (await asyncio.wait_for(events.get(), 10)).id == seq
        svc.stop()
        await _wait_state(backend, "reconnecting")
        tokens = {
            "admin": svc.admin_token,
            "read": svc.read_token,
            "writer_dev": svc.writer_dev_token,
            "metrics": svc.metrics_token,
        }
        restarted = start_service(
            tmp_path / "again",
            db_path=svc.db_path,
            tokens_file=svc.tokens_file,
            tokens=tokens,
            extra_args=["--port", str(port)],
        )
        assert restarted.url == svc.url
        missed = _patch(restarted, key, "dev", 22)  # possibly before the watcher is back: Last-Event-ID covers it
        event = await asyncio.wait_for(events.get(), 20)
        assert event.id == missed and event.flag is not None and event.flag.states["dev"].rollout == 22
        assert backend.stream.reconnects >= 1 and backend.stream.state == "live"
    finally:
        task.cancel()
        if restarted is not None:
            restarted.stop()


async def test_events_carry_flag_state(watched: tuple[RunningService, FlagApiBackend]) -> None:
    _, backend = watched
    key = (await backend.list_flags("dev"))[2].key
    events: asyncio.Queue[ChangeEvent] = asyncio.Queue()
    task = asyncio.create_task(_collect(backend, "dev", None, events))
    try:
        await _wait_state(backend, "live")
        await backend.update_state(
            key,
            "dev",
            StateChange(enabled=False),
            expected_version=(await backend.get_flag(key, "dev")).states["dev"].version,
            reason=REASON,
            idempotency_key="ev-1",
        )
        event = await asyncio.wait_for(events.get(), 10)
        assert event.flag_key == key and event.flag is not None and event.flag.states["dev"].enabled is False
    finally:
        task.cancel()


async def test_rate_limited_past_patience_says_when_to_retry(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", extra_args=["--rate-limit", "0.2"])  # burst 1, then one per 5 s
    backend = FlagApiBackend(svc.url, Secret(svc.admin_token), policy=RetryPolicy(patience=1.0))
    try:
        await backend.environments()
        with pytest.raises(RateLimited) as info:
            await backend.environments()
    finally:
        await backend.aclose()
        svc.stop()
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    assert "rate limited" in info.value.message and "Try again in" in info.value.message


async def test_invalid_write_names_the_field(service: RunningService, picker: FlagPicker) -> None:
    key = picker.take(enabled=True)
    backend = FlagApiBackend(service.url, Secret(service.admin_token))
    try:
        version = (await backend.get_flag(key, "dev")).states["dev"].version
        with pytest.raises(Invalid, match="rollout"):
            await backend.update_state(
                key,
                "dev",
                StateChange(rollout=150),
                expected_version=version,
                reason=REASON,
                idempotency_key="invalid-1",
            )
    finally:
        await backend.aclose()


async def test_circuit_breaker_fails_fast_after_repeated_failures() -> None:
    backend = FlagApiBackend(
        "http://127.0.0.1:9",
        Secret("t"),
        policy=RetryPolicy(attempts=5, base_delay=0.01),
        breaker=CircuitBreaker(threshold=5, cooldown=30),
    )
    try:
        with pytest.raises(Unavailable):
            await backend.environments()
        started = asyncio.get_running_loop().time()
        either_order = r"failed 5 times in a row.*cannot connect|cannot connect.*failed 5 times"
        with pytest.raises(Unavailable, match=either_order):
            await backend.get_flag("x", "dev")
        assert asyncio.get_running_loop().time() - started < 0.05  # no network attempt at all
    finally:
        await backend.aclose()
