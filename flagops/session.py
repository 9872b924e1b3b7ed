"""Open the backend a profile describes: the one place faces get a `FlagBackend` from.

Adapters are imported lazily so `flagops kill` against the Flag API never imports the Unleash adapter,
and the token is resolved here (FLAGOPS_TOKEN, then the keyring) so no face touches keyring itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from flagops.config import Profile
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
    if profile.backend == "flagapi":
        from flagops.backends.flagapi import FlagApiBackend

        if one_shot:
            from flagops.backends.oneshot import ThreadedTransport

            return FlagApiBackend(profile.url, secret, verify_tls=profile.verify_tls,
                                  transport=ThreadedTransport(verify=profile.verify_tls))
        return FlagApiBackend(profile.url, secret, verify_tls=profile.verify_tls)
    if profile.backend == "unleash":
        # owned by the Unleash adapter; imported only for Unleash profiles
        module = importlib.import_module("flagops.backends.unleash")
        opener = getattr(module, "open_unleash_backend", None)
        if opener is None:
            raise ConfigError("This flagops build has no Unleash adapter yet (flagops.backends.unleash).")
        backend: FlagBackend = opener(profile, secret)
        return backend
    raise ConfigError(f"Profile {profile.name!r}: unknown backend {profile.backend!r} (expected flagapi or unleash).")
