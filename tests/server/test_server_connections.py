"""Connections that stall are closed (request head and body timeouts), and wrong tokens are throttled per
client address: raw sockets and HTTP against the real service."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import RunningService, start_service

from server.helpers import assert_problem


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    svc = start_service(
        tmp_path_factory.mktemp("strict"),
        demo=True,
        extra_args=["--header-timeout", "1", "--body-timeout", "1", "--auth-failures", "6"],
    )
    yield svc
    svc.stop()


def _connect(svc: RunningService) -> socket.socket:
    host, port = svc.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> tuple[float, bytes]:
    """Read until the service closes the connection; (how long it took, what it sent)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    received = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return time.monotonic() - start, received
        received += chunk


def test_a_connection_that_sends_nothing_is_closed(strict: RunningService) -> None:
    with _connect(strict) as sock:
        took, _ = _closed_within(sock, 8)
    assert took < 5


def test_a_half_sent_request_head_is_closed(strict: RunningService) -> None:
    with _connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
        time.sleep(0.5)
        sock.sendall(b"X-Slow: 1\r\n")  # trickling bytes does not extend the deadline
        took, received = _closed_within(sock, 8)
    assert took < 5 and received == b""


def test_a_stalled_body_gets_408_and_the_connection_is_closed(strict: RunningService) -> None:
    head = (
        f"PATCH /v1/flags/checkout-new-flow?environment=dev HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {strict.admin_token}\r\nContent-Type: application/json\r\n"
        'If-Match: "1"\r\nContent-Length: 200\r\n\r\n'
    ).encode()
    with _connect(strict) as sock:
        sock.sendall(head + b'{"changeReason": ')
        took, received = _closed_within(sock, 8)
    assert took < 5
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", received
    assert b"connection: close" in rest.lower() and b"application/problem+json" in rest


def test_a_keep_alive_connection_still_serves_many_requests(strict: RunningService) -> None:
    with strict.client() as c:
        for _ in range(3):
            assert c.get("/healthz").status_code == 200
            time.sleep(0.4)  # idle between requests, under the keep-alive timeout


def test_wrong_tokens_are_throttled_per_address(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", demo=True, extra_args=["--auth-failures", "6"])  # 1 per 10 s
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as c:
            wrong = {"Authorization": "Bearer not-a-token"}
            codes = [c.get("/v1/environments", headers=wrong).status_code for _ in range(20)]
            assert codes == [401] * 20  # a burst of 20 honest mistakes is fine
            r = c.get("/v1/environments", headers=wrong)
            problem = assert_problem(r, 429, "Authorization")
            assert 1 <= int(r.headers["retry-after"]) <= 10 and "unknown token" in problem["detail"]
            # while throttled, even a right token is refused: otherwise guessing would go on at full speed
            assert c.get("/v1/environments", headers=svc.headers()).status_code == 429
            assert c.get("/healthz").status_code == 200  # no token, no throttle
            assert c.get("/v1/environments").status_code == 401  # no token is no guess
        logs = "".join(svc.output)
        assert "not-a-token" not in logs and svc.admin_token not in logs
    finally:
        svc.stop()


def test_throttle_refills(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", demo=True, extra_args=["--auth-failures", "600"])  # 10 per second
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as c:
            wrong = {"Authorization": "Bearer still-not-a-token"}
            codes = [c.get("/v1/environments", headers=wrong).status_code for _ in range(40)]
            assert 429 in codes
            time.sleep(0.3)
            assert c.get("/v1/environments", headers=svc.headers()).status_code == 200
    finally:
        svc.stop()
