"""Resilient HTTP for the adapters: timeouts, retries with decorrelated jitter, Retry-After, a circuit breaker.

Only requests that are safe to repeat are retried: reads, and writes that carry an Idempotency-Key (the
service replays the first response for a repeated key, so a retry never applies twice). Transport failures
and problem responses become the typed errors of `flagops.errors`, with messages a person can act on and
never a header (so never the token).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from flagops.errors import (
    ApprovalRequired,
    Conflict,
    FlagOpsError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    SelfApproval,
    SelfReview,
    Unauthorized,
    Unavailable,
)
from flagops.secrets import Secret

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


class StaleVersion(Conflict):
    """A 412: If-Match did not match. The adapter replaces it with a Conflict carrying the fresh flag."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total tries for a retryable request
    base_delay: float = 0.1
    max_delay: float = 4.0
    patience: float = 30.0  # give up (RateLimited/Unavailable) rather than wait longer than this in total

    def next_delay(self, previous: float, rng: random.Random) -> float:
        """Decorrelated jitter (AWS architecture blog): spreads retries of many clients apart."""
        return min(self.max_delay, rng.uniform(self.base_delay, max(self.base_delay, previous * 3)))


class CircuitOpen(Unavailable):
    """Failing fast. `reason` is the failure without the note about waiting, for a process that will not wait
    (a one-shot CLI command exits; "waits 10s before trying again" would describe nothing that happens)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class CircuitBreaker:
    """Fail fast after `threshold` consecutive failures; let one probe through after `cooldown` seconds.

    Keeps a dead service from costing every caller the full retry budget (the TUI polls; a runbook
    loops), and makes the message say "the service has been failing" instead of timing out again.
    """

    def __init__(self, threshold: int = 5, cooldown: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self.last_error: str | None = None  # the latest failure, repeated while the circuit is open

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.cooldown else "open"

    def before_request(self, what: str = "request") -> None:
        if self.state == "open":
            assert self._opened_at is not None
            wait = self.cooldown - (self._clock() - self._opened_at)
            last = f" {self.last_error}" if self.last_error else ""
            raise CircuitOpen(
                f"{what}:{last} (The flag service failed {self._failures} times in a row; flagops waits {wait:.0f}s "
                "before trying it again.)",
                reason=f"{what}:{last}",
            )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def record_failure(self, what: str = "", error: FlagOpsError | None = None) -> None:
        if error is not None:
            # keep the reason without the request it came from: the next caller names its own
            self.last_error = error.message.removeprefix(f"{what}: ")
        self._failures += 1
        if self._failures >= self.threshold or self._opened_at is not None:
            self._opened_at = self._clock()


class BearerAuth(httpx.Auth):
    """Adds the token per request, so it lives in no client-wide header and no repr."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=********)"


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def problem_text(response: httpx.Response) -> str:
    """The human part of an RFC 9457 problem document (title/detail), or a short body excerpt."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:200]
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("title", "detail") if isinstance(data.get(k), str) and data.get(k)]
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            parts.append("; ".join(str(e.get("msg", e) if isinstance(e, dict) else e) for e in errors[:3]))
        if parts:
            return ": ".join(dict.fromkeys(parts))[:500]
    return str(data)[:200]


def problem_type(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("type", "")) if isinstance(data, dict) else ""


def error_for(response: httpx.Response, what: str) -> FlagOpsError:
    """Map a failed response to a typed error. `what` names the request in words ("kill checkout in prod")."""
    status = response.status_code
    problem = problem_text(response)
    said = f" The service said: {problem}" if problem else ""
    if status == 401:
        return Unauthorized(
            f"{what}: the service did not accept the token (401). It may be wrong, expired or "
            "revoked: run `flagops login` or set FLAGOPS_TOKEN to a valid token."
        )
    governance = _governance_error(response, status, what, said)
    if governance is not None:
        return governance
    if status == 403:
        return Forbidden(
            f"{what}: the token is valid but not allowed to do this (403).{said} "
            "Ask for a token with the needed scope or environment."
        )
    if status == 404:
        return NotFound(f"{what}: not found (404).{said}")
    if status == 412:
        return StaleVersion(f"{what}: someone changed it since you looked (412).{said}")
    if status == 409 or (status == 422 and "idempotency" in (problem_type(response) + problem).lower()):
        return Conflict(
            f"{what}: the idempotency key was already used for a different change ({status}).{said} "
            "Retry without reusing the key."
        )
    if status == 428:
        return Invalid(f"{what}: the service requires If-Match for this write (428).{said}")
    if status == 429:
        after = retry_after_seconds(response)
        hint = f" Try again in {after:.0f}s." if after is not None else " Try again shortly."
        return RateLimited(f"{what}: rate limited by the service (429).{hint}", retry_after=after)
    if status in (502, 503, 504):
        return Unavailable(
            f"{what}: the service is unavailable ({status}).{said} Retry in a moment; if it "
            "persists, check the service's health."
        )
    if status >= 500:
        return Unavailable(f"{what}: the service failed ({status}).{said} Retry; if it persists, check its logs.")
    return Invalid(f"{what}: the service rejected the request ({status}).{said}")


def _problem_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _governance_error(response: httpx.Response, status: int, what: str, said: str) -> FlagOpsError | None:
    """The problem types of approvals (GOVERNANCE_API.md): typed, so faces can offer the way forward."""
    if status not in (403, 409):
        return None
    problem = _problem_json(response)
    kind = str(problem.get("type", ""))
    if status == 409 and kind.endswith("/approval-required"):
        extra = problem.get("extra")
        given = (extra if isinstance(extra, dict) else problem).get("approvers")  # `extra` nested or merged in
        approvers = given if isinstance(given, int) and given > 0 else 1
        return ApprovalRequired(
            f"{what}: the approval policy holds this change for {approvers} approval"
            f"{'' if approvers == 1 else 's'} by someone other than you (409); nothing was changed. "
            "Open a change request for it instead.",
            approvers=approvers,
        )
    if status == 403 and kind.endswith("/self-approval"):
        return SelfApproval(
            f"{what}: you wrote this change request, so you cannot approve or reject it (403): four eyes are "
            "two people. Ask someone else with the approver scope; withdraw it with cancel."
        )
    if status == 403 and kind.endswith("/self-review"):
        return SelfReview(
            f"{what}: you pulled this break-glass kill, so someone else must acknowledge its review (403)."
        )
    return None


def transport_error(exc: httpx.HTTPError, base_url: str, what: str) -> Unavailable:
    if isinstance(exc, httpx.ConnectError):
        why = "cannot connect"
    elif isinstance(exc, httpx.TimeoutException):
        why = "timed out"
    else:
        why = f"connection failed ({type(exc).__name__})"
    return Unavailable(
        f"{what}: {why} to the flag service at {base_url}. Is it running and reachable? "
        "Check the URL in your profile (flagops info) and your network."
    )


class ResilientClient:
    """An httpx.AsyncClient plus the retry/breaker policy. One per backend."""

    def __init__(
        self,
        base_url: str,
        token: Secret,
        *,
        verify: bool = True,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        self._rng = random.Random()
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=BearerAuth(token),
            verify=verify,
            timeout=timeout or httpx.Timeout(10.0, connect=3.0),
            transport=transport,
            headers={"User-Agent": "flagops", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"ResilientClient({self.base_url!r})"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send with the policy; returns a 2xx response (or one whose status is in `ok`), else raises.

        `retry` defaults to True for GET/HEAD and for requests carrying an Idempotency-Key.
        """
        if retry is None:
            retry = method in ("GET", "HEAD") or bool(headers and "Idempotency-Key" in headers)
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        started = time.monotonic()
        delay = self.policy.base_delay
        failures = 0  # failed tries that count against policy.attempts (429s count against patience only)
        while True:
            self.breaker.before_request(what)
            try:
                response = await self.http.request(method, path, params=clean_params, json=json, headers=headers)
            except httpx.HTTPError as exc:
                error: FlagOpsError = transport_error(exc, self.base_url, what)
                self.breaker.record_failure(what, error)
                # a refused connection never reached the service: always safe to try again
                repeatable = retry or isinstance(exc, httpx.ConnectError)
                wait: float | None = None
                failures += 1
            else:
                status = response.status_code
                if status < 400 or status in ok:
                    self.breaker.record_success()
                    return response
                error = error_for(response, what)
                if status in RETRYABLE_STATUS:
                    self.breaker.record_failure(what, error)
                    repeatable = retry
                    failures += 1
                else:
                    self.breaker.record_success()  # the service answered: it is up, even if it said no
                    repeatable = status == 429  # not processed, so safe for any request
                wait = retry_after_seconds(response) if status in (429, 503) else None
            if not repeatable or failures >= self.policy.attempts:
                raise error
            delay = self.policy.next_delay(delay, self._rng)
            pause = wait if wait is not None else delay
            if time.monotonic() - started + pause > self.policy.patience:
                raise error
            await self._sleep(pause)
