"""The one entry point faces reach through ops: `Probe.watch_kill` runs the profile's SDK client after a kill."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flagops.probe.base import ProbeResult, ProbeUnavailable, token_variable

if TYPE_CHECKING:
    from flagops.config import ProbeSettings, Profile
    from flagops.model import Flag

log = logging.getLogger("flagops.probe")


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
            except Exception:  # warming is an optimisation: watch_kill imports the SDK again and reports
                log.debug("probe warm-up failed", exc_info=True)

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


def probe_for(profile: Profile, *, warm: bool = False) -> Probe | None:
    """The profile's probe, or None when it has no `probe:`. Imports no SDK, unless `warm` (see Probe.warm)."""
    if profile.probe is None:
        return None
    probe = Probe(profile.probe, profile.name, profile.verify_tls)
    if warm:
        probe.warm()
    return probe
