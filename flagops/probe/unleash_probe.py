"""The Unleash probe: the official UnleashClient Python SDK against the Unleash client API.

The client polls the server every second (the SDK's shortest interval; applications default to 15 s, so
theirs see a kill up to that much later). Served off means the state the SDK fetched has the flag disabled
in the token's environment and `is_enabled` answers False; a gradual rollout that merely excludes the probe's
context proves nothing. Unleash client tokens belong to one environment (`project:environment.secret`), so a
token for another environment is refused instead of timing out.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from flagops.probe.base import Look, ProbeResult, ProbeUnavailable, poll_until_off

if TYPE_CHECKING:
    from flagops.config import ProbeSettings
    from flagops.model import Flag

REFRESH_SECONDS = 1
CLIENT = f"UnleashClient SDK, refreshing every {REFRESH_SECONDS} s"
_TOKEN_ENV = re.compile(r"^[^:]+:([^.]+)\.")


def _memory_cache() -> Any:
    """An in-memory cache (the SDK's default writes files under the home directory)."""
    from UnleashClient.cache import BaseCache

    class MemoryCache(BaseCache):
        def __init__(self) -> None:
            self.values: dict[str, Any] = {}

        def set(self, key: str, value: Any) -> None:
            self.values[key] = value

        def mset(self, data: dict[str, Any]) -> None:
            self.values.update(data)

        def get(self, key: str, default: Any = None) -> Any:
            return self.values.get(key, default)

        def exists(self, key: str) -> bool:
            return key in self.values

        def destroy(self) -> None:
            self.values.clear()

    return MemoryCache()


def _fetched_features(cache: Any) -> list[Any] | None:
    """The features of the state the SDK last fetched; None when it has fetched nothing."""
    from UnleashClient.constants import FEATURES_URL

    raw = cache.get(FEATURES_URL)
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    features = raw.get("features") if isinstance(raw, dict) else None
    return features if isinstance(features, list) else None


def preload() -> None:
    from UnleashClient import UnleashClient  # noqa: F401 - imported for its cost only (Probe.warm)


def watch_unleash(
    settings: ProbeSettings, token: str, flag: Flag, environment: str, sent_at: float, deadline: float, verify_tls: bool
) -> ProbeResult:
    try:
        from UnleashClient import UnleashClient
        from UnleashClient.utils import InstanceAllowType
    except ImportError:
        raise ProbeUnavailable("the UnleashClient SDK is not installed (pip install 'flagops[probe]')") from None
    scoped = _TOKEN_ENV.match(token)
    if scoped and scoped.group(1) not in ("*", environment):
        raise ProbeUnavailable(
            f"the probe's client token is for environment {scoped.group(1)!r}, not "
            f"{environment!r}; use token_env with {{ENV}} to pick a token per environment"
        )
    cache = _memory_cache()
    client = UnleashClient(
        url=settings.url,
        app_name="flagops-probe",
        instance_id=f"flagops-probe-{uuid.uuid4().hex[:8]}",
        environment=environment,
        refresh_interval=REFRESH_SECONDS,
        disable_metrics=True,
        disable_registration=True,
        custom_headers={"Authorization": token},
        custom_options={"verify": verify_tls},
        request_timeout=5,
        request_retries=0,
        cache=cache,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    context = {k: str(v) for k, v in settings.context.items()}
    context.setdefault("userId", str(context.get("targetingKey", "flagops-probe")))
    try:
        client.initialize_client()

        def look() -> Look:
            features = _fetched_features(cache)
            if features is None:
                return Look(False, False, f"nothing from {settings.url} (unreachable, or the token was refused)")
            mine = next((f for f in features if isinstance(f, dict) and f.get("name") == flag.key), None)
            if mine is None:
                return Look(
                    False, False, "a state without this flag (check the token's project and environment)", final=True
                )
            enabled, served = bool(mine.get("enabled")), client.is_enabled(flag.key, context)
            return Look(not enabled and not served, True, f"enabled {enabled}, is_enabled {served}")

        return poll_until_off(look, CLIENT, sent_at, deadline, settings.timeout)
    finally:
        client.destroy()
