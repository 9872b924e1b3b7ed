"""Bearer tokens: who is calling, what they may do, and how often.

The tokens file is a YAML list of `{actor, sha256, scopes, environments}`; only SHA-256 hashes are at rest.
A presented token is hashed and compared against every entry with `hmac.compare_digest` (no early exit),
so timing does not reveal how much of a hash matched. Tokens themselves are never stored, logged or
put into an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flagops.server.problems import Problem

SCOPES = frozenset({"flags:read", "flags:write", "flags:approve", "audit:read", "metrics:write"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Principal:
    actor: str
    scopes: frozenset[str]
    environments: frozenset[str] | None  # None: every environment ("*")
    token_hash: str = field(repr=False)

    def may_touch(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments


class TokenFileError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_tokens(data: Any, source: str = "tokens") -> list[Principal]:
    if not isinstance(data, list) or not data:
        raise TokenFileError(f"{source}: expected a non-empty YAML list of {{actor, sha256, scopes, environments}}")
    principals = []
    for i, entry in enumerate(data):
        where = f"{source}: entry {i + 1}"
        if not isinstance(entry, dict):
            raise TokenFileError(f"{where}: expected a mapping")
        unknown = set(entry) - {"actor", "sha256", "scopes", "environments"}
        if unknown:
            raise TokenFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        actor, digest, scopes, envs = (entry.get(k) for k in ("actor", "sha256", "scopes", "environments"))
        if not isinstance(actor, str) or not actor.strip():
            raise TokenFileError(f"{where}: actor: expected a non-empty string")
        if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
            raise TokenFileError(f"{where} ({actor}): sha256: expected the 64-hex-digit SHA-256 of the token")
        if not isinstance(scopes, list) or not scopes or not all(s in SCOPES for s in scopes):
            raise TokenFileError(f"{where} ({actor}): scopes: expected a list from {', '.join(sorted(SCOPES))}")
        if envs == "*":
            allowed = None
        elif isinstance(envs, list) and all(isinstance(e, str) for e in envs):
            allowed = frozenset(envs)
        else:
            raise TokenFileError(f'{where} ({actor}): environments: expected a list of keys or "*"')
        principals.append(Principal(actor.strip(), frozenset(scopes), allowed, digest.lower()))
    return principals


def load_tokens(path: Path) -> list[Principal]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TokenFileError(f"{path}: not valid YAML: {exc}") from None
    return parse_tokens(data, str(path))


class RateLimiter:
    """A token bucket per caller: `rate` requests per second, bursts up to twice that. 0 turns it off."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, 2 * rate)
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, last refill)
        self._lock = threading.Lock()

    def check(self, caller: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[caller] = (tokens, now)
                wait = math.ceil((1 - tokens) / self.rate)
                raise Problem(
                    429,
                    f"rate limit of {self.rate:g} requests/s for this token exceeded; retry in {wait}s",
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[caller] = (tokens - 1, now)


class FailedAuthThrottle:
    """Wrong tokens per client address: a bucket of `burst` failures refilled at `per_minute`. An address
    whose bucket is empty gets 429 for *every* token until it refills: if only the failures were refused,
    a guesser would still learn at full speed which guess works. 0 turns it off."""

    def __init__(self, per_minute: float, burst: int = 20, max_addresses: int = 10000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (failures left, last refill)
        self._lock = threading.Lock()

    def _level(self, address: str, now: float) -> float:
        left, last = self._buckets.get(address, (self.burst, now))
        return min(self.burst, left + (now - last) * self.rate)

    def check(self, address: str) -> None:
        if self.rate <= 0 or address not in self._buckets:
            return
        with self._lock:
            left = self._level(address, time.monotonic())
        if left < 1:
            wait = max(1, math.ceil((1 - left) / self.rate))
            raise Problem(
                429,
                f"too many requests with an unknown token from this address; retry in {wait}s",
                field="Authorization",
                headers={"Retry-After": str(wait)},
            )

    def failed(self, address: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= self.max_addresses:  # bounded memory: forget the fully refilled
                self._buckets = {a: b for a, b in self._buckets.items() if self._level(a, now) < self.burst}
            self._buckets[address] = (self._level(address, now) - 1, now)


class Authenticator:
    def __init__(
        self, principals: list[Principal], limiter: RateLimiter, failures: FailedAuthThrottle | None = None
    ) -> None:
        self.principals = principals
        self.limiter = limiter
        self.failures = failures or FailedAuthThrottle(0)

    def authenticate(self, authorization: str | None, address: str = "") -> Principal:
        if not authorization:
            raise Problem(
                401,
                "missing Authorization header; send 'Authorization: Bearer <token>'",
                field="Authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "Authorization must be 'Bearer <token>'",
                field="Authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        self.failures.check(address)
        digest = hash_token(token)
        found: Principal | None = None
        for principal in self.principals:  # every entry, always: constant time with respect to matches
            if hmac.compare_digest(principal.token_hash, digest):
                found = principal
        if found is None:
            self.failures.failed(address)
            raise Problem(
                401,
                "unknown or revoked token",
                field="Authorization",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        self.limiter.check(found.token_hash)
        return found

    def require(
        self, authorization: str | None, scope: str, environment: str | None = None, address: str = ""
    ) -> Principal:
        principal = self.authenticate(authorization, address)
        if scope not in principal.scopes:
            raise Problem(403, f"this token ({principal.actor}) lacks the {scope} scope", extra={"scope": scope})
        if environment is not None and not principal.may_touch(environment):
            raise Problem(
                403,
                f"this token ({principal.actor}) may not access environment {environment[:60]!r}",
                field="environment",
            )
        return principal
