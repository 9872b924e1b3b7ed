"""What a probe reports, and the one entry point faces reach through ops (`Probe.watch_kill`)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flagops.errors import FlagOpsError

if TYPE_CHECKING:
    from flagops.config import ProbeSettings, Profile
    from flagops.model import Flag

log = logging.getLogger("flagops.probe")
Outcome = Literal["served_off", "still_on", "failed"]
POLL_SECONDS = 0.02  # between evaluations: fast enough to time a kill in ms, light on the service


@dataclass(frozen=True)
class ProbeResult:
    outcome: Outcome
    client: str  # the real client that measured it, e.g. "OpenFeature Python SDK over OFREP"
    elapsed_ms: float | None = None  # from sending the kill to the first evaluation that was served off
    detail: str = ""  # what went wrong, or what the client last saw
    # served off at the probe's very first evaluation: the kill reached clients no later than elapsed_ms, and
    # the number is mostly the probe's own start-up (SDK import, connection); otherwise it is the moment
    # clients flipped, to within one poll interval
    first_look: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "served_off"

    def describe(self) -> str:
        if self.outcome == "served_off" and self.elapsed_ms is not None:
            if self.first_look:
                return (
                    f"served off to clients within {self.elapsed_ms:,.0f} ms (already off at the probe's "
                    f"first evaluation; measured by {self.client})"
                )
            return f"served off to clients after {self.elapsed_ms:,.0f} ms (measured by {self.client})"
        if self.outcome == "still_on":
            return f"NOT yet served off to clients: {self.detail} (measured by {self.client})"
        return f"propagation probe failed ({self.client}): {self.detail}"

    def to_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "client": self.client,
            "elapsedMs": self.elapsed_ms,
            "firstLook": self.first_look,
            "detail": self.detail,
            "summary": self.describe(),
        }


class ProbeUnavailable(FlagOpsError):
    """The probe cannot run here (SDK not installed, no token): said in the result, never raised to faces."""


def token_variable(template: str, environment: str) -> str:
    """`UNLEASH_CLIENT_TOKEN_{ENV}` for production -> UNLEASH_CLIENT_TOKEN_PRODUCTION."""
    return template.replace("{ENV}", re.sub(r"[^A-Za-z0-9]", "_", environment).upper())


@dataclass(frozen=True)
class Probe:
    """A profile's probe settings, bound to the profile (for its token and TLS setting)."""

    settings: ProbeSettings
    profile: str
    verify_tls: bool = True

    @property
    def client_name(self) -> str:
        return "OpenFeature Python SDK over OFREP" if self.settings.kind == "ofrep" else "UnleashClient SDK"

    def warm(self) -> None:
        """Import the SDK in the background, so the probe's first evaluation is not its import.

        Only for moments a person is reading a plan (the console's dialog, the CLI's prompt); never on the
        `--yes` path, where it would compete with the kill for the interpreter."""
        module = "flagops.probe.ofrep_probe" if self.settings.kind == "ofrep" else "flagops.probe.unleash_probe"

        def load() -> None:
            try:
                importlib.import_module(module).preload()
            except Exception:
                pass

        threading.Thread(target=load, name="probe-warm", daemon=True).start()

    def _token(self, environment: str) -> str:
        if self.settings.token_env:
            name = token_variable(self.settings.token_env, environment)
            value = os.environ.get(name, "").strip()
            if not value:
                raise ProbeUnavailable(f"the probe's token variable {name} is not set")
            return value
        from flagops.secrets import require_token  # the profile's own token, found as the backend finds it

        return require_token(self.profile).reveal()

    async def watch_kill(self, flag: Flag, environment: str, *, sent_at: float) -> ProbeResult:
        """Evaluate `flag` with a real client until it is served off, for at most the configured timeout.

        `sent_at` is the time.monotonic() at which the kill was sent; the result counts from there."""
        deadline = time.monotonic() + self.settings.timeout
        try:
            token = self._token(environment)
            if self.settings.kind == "ofrep":
                from flagops.probe.ofrep_probe import watch_ofrep as watch
            else:
                from flagops.probe.unleash_probe import watch_unleash as watch
            # the SDKs are synchronous: a thread keeps the console and the CLI's event loop free
            result = await asyncio.wait_for(
                asyncio.to_thread(watch, self.settings, token, flag, environment, sent_at, deadline, self.verify_tls),
                timeout=self.settings.timeout + 5,
            )
        except ProbeUnavailable as exc:
            result = ProbeResult("failed", self.client_name, detail=exc.message)
        except TimeoutError:
            result = ProbeResult("failed", self.client_name, detail="the client did not answer in time")
        except Exception as exc:
            log.exception("propagation probe failed")
            result = ProbeResult("failed", self.client_name, detail=f"{type(exc).__name__}: {str(exc)[:200]}")
        log.info("probe %s in %s: %s", flag.key, environment, result.describe())
        return result


@dataclass(frozen=True)
class Look:
    """What one evaluation by the probe's client showed."""

    off: bool  # served off (the kill has reached this client)
    answered: bool  # the evaluation worked (so "not off" means clients are still served the flag on)
    saw: str  # for the person, when it is not off
    final: bool = False  # waiting cannot help (unknown flag, refused token)


def poll_until_off(
    look: Callable[[], Look], client: str, sent_at: float, deadline: float, timeout: float
) -> ProbeResult:
    """Evaluate every POLL_SECONDS until served off or the deadline; time from `sent_at` (the kill)."""
    looks = 0
    while True:
        seen = look()
        now = time.monotonic()
        if seen.off:
            return ProbeResult("served_off", client, elapsed_ms=(now - sent_at) * 1000, first_look=looks == 0)
        if seen.final:
            return ProbeResult("failed", client, detail=seen.saw)
        if now + POLL_SECONDS >= deadline:
            return ProbeResult(
                "still_on" if seen.answered else "failed",
                client,
                detail=f"after {timeout:g} s the client still got {seen.saw}",
            )
        looks += 1
        time.sleep(POLL_SECONDS)


def probe_for(profile: Profile, *, warm: bool = False) -> Probe | None:
    """The profile's probe, or None when it has no `probe:`. Imports no SDK, unless `warm` (see Probe.warm)."""
    if profile.probe is None:
        return None
    probe = Probe(profile.probe, profile.name, profile.verify_tls)
    if warm:
        probe.warm()
    return probe


def value_kind(flag: Flag, variant: str) -> str:
    """The OpenFeature type to evaluate `flag` as, from its variant's value."""
    value = next((v.value for v in flag.variants if v.key == variant), None)
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "object"
