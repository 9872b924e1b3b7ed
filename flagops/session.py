"""Open the backend a profile describes: the one place faces get a `FlagBackend` from, paired with the
profile's metrics source (flagops.metrics).

Adapters are imported lazily so `flagops kill` against the Flag API never imports the Unleash adapter,
and the token is resolved here (FLAGOPS_TOKEN, then the keyring) so no face touches keyring itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from flagops.config import Profile, state_dir
from flagops.errors import ConfigError
from flagops.secrets import Secret, require_token

if TYPE_CHECKING:
    from flagops.backends.base import FlagBackend


def open_backend(profile: Profile, token: str | Secret | None = None, *, one_shot: bool = False) -> FlagBackend:
    """A backend for `profile`. Close it with `await backend.aclose()`. `one_shot`: for a command that sends a
    few requests and exits (the CLI): a transport that starts faster and cannot follow event streams."""
    if not profile.url:
        raise ConfigError(f"Profile {profile.name!r} has no url. Set it in the config file or FLAGOPS_URL.")
    secret = token if isinstance(token, Secret) else Secret(token) if token else require_token(profile.name)
    backend: FlagBackend
    if profile.backend == "flagapi":
        from flagops.backends.flagapi import FlagApiBackend

        if one_shot:
            from flagops.backends.oneshot import ThreadedTransport

            backend = FlagApiBackend(
                profile.url,
                secret,
                verify_tls=profile.verify_tls,
                transport=ThreadedTransport(verify=profile.verify_tls),
            )
        else:
            backend = FlagApiBackend(profile.url, secret, verify_tls=profile.verify_tls)
    elif profile.backend == "unleash":
        from flagops.backends.unleash import open_unleash_backend

        backend = open_unleash_backend(
            profile.url,
            secret,
            project=profile.unleash_project,
            verify_tls=profile.verify_tls,
            changelog_path=unleash_changelog_path(),
        )
    else:
        raise ConfigError(
            f"Profile {profile.name!r}: unknown backend {profile.backend!r} (expected flagapi or unleash)."
        )
    return with_metrics_source(profile, backend, secret)


def unleash_changelog_path() -> Path:
    """The Unleash adapter's change log (reasons, tickets, idempotency keys Unleash does not store): one file
    per machine, shared by every flagops process; `FLAGOPS_STATE_DIR` moves it (tests, several setups)."""
    override = os.environ.get("FLAGOPS_STATE_DIR")
    return (Path(override).expanduser() if override else state_dir()) / "unleash-changes.jsonl"


def with_metrics_source(profile: Profile, backend: FlagBackend, secret: Secret) -> FlagBackend:
    """Pair `backend` with the profile's `metrics:` source (README "Metrics sources"); the backend's own
    metrics when the profile names none."""
    settings = profile.metrics
    if settings.source == "backend" or (
        settings.source == "v1" and profile.backend == "flagapi" and settings.url in (None, profile.url)
    ):
        return backend
    from flagops.metrics.paired import MeteredBackend

    token = secret
    if settings.token_env:
        value = os.environ.get(settings.token_env)
        if not value:
            raise ConfigError(
                f"Profile {profile.name!r}: metrics.token_env names {settings.token_env}, "
                "which is not set. Export it, or remove token_env."
            )
        token = Secret(value)
    if settings.source == "prometheus":
        from flagops.metrics.prometheus import PrometheusMetrics

        return MeteredBackend(backend, PrometheusMetrics(settings, token=token if settings.token_env else None))
    from flagops.backends.http import ResilientClient
    from flagops.metrics.v1 import V1Metrics

    assert settings.url is not None
    client = ResilientClient(settings.url, token, verify=settings.verify_tls)
    return MeteredBackend(backend, V1Metrics(client, owns_client=True))
