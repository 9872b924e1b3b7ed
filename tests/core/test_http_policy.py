"""The pure parts of the resilience policy: jitter bounds, the breaker's states, Retry-After parsing,
and that nothing that holds the token shows it in a repr."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from flagops.backends.flagapi import FlagApiBackend
from flagops.backends.http import BearerAuth, CircuitBreaker, ResilientClient, RetryPolicy, retry_after_seconds
from flagops.errors import Unavailable
from flagops.secrets import Secret

TOKEN = "s3cr3t-token-value-xyz"


def test_decorrelated_jitter_stays_within_bounds_and_spreads() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=2.0)
    rng = random.Random(1)
    delay, seen = 0.1, []
    for _ in range(200):
        delay = policy.next_delay(delay, rng)
        assert 0.1 <= delay <= 2.0
        seen.append(delay)
    assert len({round(d, 3) for d in seen}) > 50  # jittered, not a fixed ladder


def test_breaker_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown=5.0, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    breaker.before_request()  # still closed
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(Unavailable, match="failed 3 times in a row"):
        breaker.before_request("read x")
    now[0] = 5.0
    assert breaker.state == "half-open"
    breaker.before_request()  # the probe goes through
    breaker.record_failure()  # probe failed: open again at once
    assert breaker.state == "open"
    now[0] = 10.0
    breaker.record_success()
    assert breaker.state == "closed"


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    value = retry_after_seconds(httpx.Response(429, headers={"Retry-After": format_datetime(later, usegmt=True)}))
    assert value is not None and 25 <= value <= 31
    assert retry_after_seconds(httpx.Response(429)) is None
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None


async def test_no_repr_shows_the_token() -> None:
    secret = Secret(TOKEN)
    backend = FlagApiBackend("http://127.0.0.1:9", secret)
    client = ResilientClient("http://127.0.0.1:9", secret)
    try:
        texts = [
            repr(secret),
            str(secret),
            repr(backend),
            repr(client),
            repr(BearerAuth(secret)),
            repr(backend._client.http),
            repr(backend._client.http.auth),
            repr(vars(backend)),
            repr(vars(backend._client)),
        ]
        assert all(TOKEN not in t for t in texts), texts
    finally:
        await backend.aclose()
        await client.aclose()
