"""What a probe reports, and the parts every SDK client shares (polling, the OpenFeature value kind).

The SDK clients (ofrep_probe, unleash_probe) build on this module; runner.py picks and runs one, so the
clients never import the module that imports them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flagops.errors import FlagOpsError

if TYPE_CHECKING:
    from flagops.model import Flag

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
