"""API tokens: FLAGOPS_TOKEN first, then the OS keyring (service "flagops", user = profile name).

`keyring` is imported only when the environment variable is not set: importing it costs startup time on
the panic path and, on a headless box, finds no backend at all. That case gets one plain paragraph with the
ways forward instead of a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from flagops.errors import FlagOpsError, Unauthorized

KEYRING_SERVICE = "flagops"
ENV_VAR = "FLAGOPS_TOKEN"


class Secret:
    """A token that does not show itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


class NoKeyring(FlagOpsError):
    """No usable keyring backend (typical on a headless SSH box)."""

    exit_code = Unauthorized.exit_code


def no_keyring_message(profile: str) -> str:
    return (
        "No OS keyring is available here (typical on a headless or SSH-only machine), so flagops cannot "
        f"store or read the token for profile {profile!r}. Ways forward: export the token in the "
        f"environment for this shell (export {ENV_VAR}=... — it is read before the keyring); or install a "
        "file-based keyring with `pip install keyrings.alt` and select it with "
        "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring — note that this backend stores the "
        "token in plain text in a file under your home directory, readable by anyone who can read that file."
    )


@dataclass(frozen=True)
class TokenLookup:
    token: Secret | None
    source: str  # "environment variable FLAGOPS_TOKEN", "keyring (<backend>)", or why there is none


def _keyring_backend_name() -> str:
    import keyring

    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _is_fail_backend() -> bool:
    import keyring
    from keyring.backends import fail

    return isinstance(keyring.get_keyring(), fail.Keyring)


def lookup_token(profile: str) -> TokenLookup:
    """Find the token without raising for a missing keyring (`info` wants to describe, not fail)."""
    value = os.environ.get(ENV_VAR)
    if value:
        return TokenLookup(Secret(value.strip()), f"environment variable {ENV_VAR}")
    try:
        import keyring

        if _is_fail_backend():
            return TokenLookup(None, "none: no keyring backend available and FLAGOPS_TOKEN is not set")
        stored = keyring.get_password(KEYRING_SERVICE, profile)
    except Exception as exc:  # noqa: BLE001 - keyring backends raise all sorts (D-Bus, locked, missing libs)
        return TokenLookup(None, f"none: the keyring failed ({type(exc).__name__}) and FLAGOPS_TOKEN is not set")
    if stored:
        return TokenLookup(Secret(stored), f"keyring ({_keyring_backend_name()}, service {KEYRING_SERVICE!r}, "
                                           f"user {profile!r})")
    return TokenLookup(None, f"none: not in the keyring ({_keyring_backend_name()}) and FLAGOPS_TOKEN is not set")


def require_token(profile: str) -> Secret:
    """The token for `profile`, or an error that says how to provide one."""
    found = lookup_token(profile)
    if found.token is not None:
        return found.token
    if found.source.startswith("none: no keyring backend") or "keyring failed" in found.source:
        raise NoKeyring(no_keyring_message(profile))
    raise Unauthorized(
        f"No token for profile {profile!r}. Run `flagops login` to store one in the keyring, "
        f"or set {ENV_VAR} in the environment."
    )


def store_token(profile: str, token: str) -> str:
    """Store `token` in the keyring; returns the backend's name. Raises NoKeyring on a headless box."""
    import keyring

    if _is_fail_backend():
        raise NoKeyring(no_keyring_message(profile))
    try:
        keyring.set_password(KEYRING_SERVICE, profile, token)
    except Exception as exc:  # noqa: BLE001 - see lookup_token
        raise NoKeyring(no_keyring_message(profile), detail=f"The keyring said: {type(exc).__name__}") from None
    return _keyring_backend_name()


def delete_token(profile: str) -> bool:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, profile)
    except PasswordDeleteError:
        return False
    except KeyringError:
        raise NoKeyring(no_keyring_message(profile)) from None
    return True
