"""API tokens: FLAGOPS_TOKEN first, then the OS keyring (service "flagops", user = profile name).

`keyring` is imported only when the environment variable is not set: importing it costs startup time on
the panic path and, on a headless box, finds no backend at all. That case gets one plain paragraph with the
ways forward instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from flagops.errors import FlagOpsError, Unauthorized

KEYRING_SERVICE = "flagops"
ENV_VAR = "FLAGOPS_TOKEN"
CHOICE_VAR = "PYTHON_KEYRING_BACKEND"  # keyring's own way to name a backend


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
    """No usable keyring backend (typical on a headless SSH box), or only an insecure one nobody chose."""

    exit_code = Unauthorized.exit_code


def no_keyring_message(profile: str) -> str:
    return (
        "No OS keyring is available here (typical on a headless or SSH-only machine), so flagops cannot "
        f"store or read the token for profile {profile!r}. Ways forward: export the token in the "
        f"environment for this shell (export {ENV_VAR}=... — it is read before the keyring); or install a "
        "file-based keyring with `pip install keyrings.alt` and select it with "
        f"{CHOICE_VAR}=keyrings.alt.file.PlaintextKeyring — note that this backend stores the "
        "token in plain text in a file under your home directory, readable by anyone who can read that file."
    )


def insecure_keyring_message(profile: str, insecure: Sequence[SkippedBackend]) -> str:
    """Only backends keyring itself does not recommend (a plain-text file, ...) are installed, and nobody chose one."""
    installed = "; ".join(f"{c.name}, which {_weakness(c.backend)}" for c in insecure)
    left = [c for c in insecure if c.holds_token(profile)]
    stale = (
        f" A token for profile {profile!r} is already stored in {left[0].name}, probably by an earlier "
        f"flagops; flagops does not read it. Remove it with `{CHOICE_VAR}={left[0].name} keyring del "
        f"{KEYRING_SERVICE} {profile}` once you have another way in."
        if left
        else ""
    )
    return (
        f"No secure keyring is available here, so flagops will not store or read the token for profile {profile!r}. "
        f"The only keyring backends installed are not safe for secrets ({installed}), and flagops never picks "
        "such a backend on its own. Ways forward: export "
        f"the token for this shell (export {ENV_VAR}=... — it is read before the keyring); or, if a plain-text "
        f"file is acceptable on this machine, choose that backend deliberately with "
        f"{CHOICE_VAR}={insecure[0].name} (or default-keyring in {keyring_config_file()}); or install an OS "
        "keyring (Secret Service or KWallet on Linux, the macOS Keychain, Windows Credential Locker)." + stale
    )


@dataclass(frozen=True)
class SkippedBackend:
    """An installed backend flagops does not pick on its own (keyring rates it below "recommended")."""

    backend: object = field(repr=False)

    @property
    def name(self) -> str:
        return _name(self.backend)

    @property
    def file(self) -> str | None:
        return _file_of(self.backend)

    def holds_token(self, profile: str) -> bool:
        """Whether it already has a flagops token (an earlier login may have put it there): said in the message."""
        try:
            return bool(self.backend.get_password(KEYRING_SERVICE, profile))  # type: ignore[attr-defined]
        except Exception:
            return False


@dataclass(frozen=True)
class ActiveKeyring:
    backend: object  # a keyring.backend.KeyringBackend
    chosen_by: str | None  # "PYTHON_KEYRING_BACKEND" or the keyringrc.cfg path; None = flagops picked it
    refused: tuple[SkippedBackend, ...] = ()  # insecure backends flagops did not pick on its own

    @property
    def name(self) -> str:
        return _name(self.backend)

    @property
    def usable(self) -> bool:
        from keyring.backends import fail

        return not isinstance(self.backend, fail.Keyring)

    @property
    def insecure(self) -> bool:
        return not _recommended(self.backend)

    def describe(self) -> str:
        text = self.name
        if self.insecure and self.usable:
            text += f", NOT a secure store: it {_weakness(self.backend)}; chosen with {self.chosen_by}"
        return text


def _weakness(backend: object) -> str:
    file = _file_of(backend)
    where = f" in {file}" if file else ""
    if "plaintext" in type(backend).__name__.lower():
        return f"keeps secrets in plain text{where}"
    return f"is not a recommended keyring backend (keyring rates it below 1){where}"


def _name(backend: object) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _file_of(backend: object) -> str | None:
    path = getattr(backend, "file_path", None)
    return str(path) if path else None


def _recommended(backend: object) -> bool:
    """keyring's own rule (keyring.core.recommended): priority >= 1. Plain-text files, the null and fail
    backends, and the encrypted file that prompts for a password at every use all rate below 1."""
    priority = _priority(backend)
    return priority is not None and priority >= 1


def keyring_config_file() -> str:
    from keyring.util import platform_

    return str(platform_.config_root() / "keyringrc.cfg")


def _explicit_choice() -> str | None:
    """Where the person named a keyring backend themselves (keyring's own two ways), if they did."""
    if os.environ.get(CHOICE_VAR, "").strip():
        return CHOICE_VAR
    import configparser

    path = keyring_config_file()
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    if config.has_option("backend", "default-keyring") and config.get("backend", "default-keyring").strip():
        return path
    return None


_active: ActiveKeyring | None = None


def active_keyring() -> ActiveKeyring:
    """The keyring backend flagops uses: the one the person chose, else the best *recommended* one.

    keyring on its own falls back to any installed backend, e.g. keyrings.alt's PlaintextKeyring (the test
    extra installs it next to the demo), or chains a plain-text file behind the OS keyring; a token would then
    land in a plain file without anyone deciding so. Limiting detection to recommended backends (which the
    chainer honours too) makes that impossible unless chosen; what was left out is kept for the message.
    """
    global _active
    if _active is not None:
        return _active
    import keyring
    import keyring.backend
    import keyring.core

    chosen = _explicit_choice()
    if chosen is not None:
        try:
            _active = ActiveKeyring(keyring.get_keyring(), chosen)
        except Exception as exc:
            raise NoKeyring(
                f"{chosen} names a keyring backend that could not be loaded ({type(exc).__name__}). "
                f"Fix or remove that setting, or export {ENV_VAR}=... for this shell."
            ) from None
        return _active
    keyring.core.init_backend(limit=_recommended)
    selected = keyring.get_keyring()
    refused: list[SkippedBackend] = []
    if not ActiveKeyring(selected, None).usable:
        refused = [SkippedBackend(b) for b in keyring.backend.get_all_keyring() if 0 < (_priority(b) or 0) < 1]
    _active = ActiveKeyring(selected, None, tuple(refused))
    return _active


def _priority(backend: object) -> float | None:
    try:
        return float(backend.priority)  # type: ignore[attr-defined]
    except Exception:
        return None


def _unavailable(profile: str, active: ActiveKeyring) -> NoKeyring:
    if active.refused:
        return NoKeyring(insecure_keyring_message(profile, active.refused))
    return NoKeyring(no_keyring_message(profile))


@dataclass(frozen=True)
class TokenLookup:
    token: Secret | None
    source: str  # "environment variable FLAGOPS_TOKEN", "keyring (<backend>)", or why there is none
    problem: NoKeyring | None = None  # no acceptable keyring: what require_token raises


def lookup_token(profile: str) -> TokenLookup:
    """Find the token without raising for a missing keyring (`info` wants to describe, not fail)."""
    value = os.environ.get(ENV_VAR)
    if value:
        return TokenLookup(Secret(value.strip()), f"environment variable {ENV_VAR}")
    try:
        active = active_keyring()
        if not active.usable:
            problem = _unavailable(profile, active)
            if active.refused:
                names = ", ".join(c.name for c in active.refused)
                why = f"no secure keyring backend (only {names}, which flagops does not use unless chosen)"
            else:
                why = "no keyring backend available"
            return TokenLookup(None, f"none: {why} and {ENV_VAR} is not set", problem)
        stored = active.backend.get_password(KEYRING_SERVICE, profile)  # type: ignore[attr-defined]
    except NoKeyring as exc:
        return TokenLookup(None, f"none: {exc.message}", exc)
    except Exception as exc:
        return TokenLookup(
            None,
            f"none: the keyring failed ({type(exc).__name__}) and {ENV_VAR} is not set",
            NoKeyring(no_keyring_message(profile), detail=f"The keyring said: {type(exc).__name__}"),
        )
    if stored:
        return TokenLookup(
            Secret(stored), f"keyring ({active.describe()}, service {KEYRING_SERVICE!r}, user {profile!r})"
        )
    return TokenLookup(None, f"none: not in the keyring ({active.describe()}) and {ENV_VAR} is not set")


def require_token(profile: str) -> Secret:
    """The token for `profile`, or an error that says how to provide one."""
    found = lookup_token(profile)
    if found.token is not None:
        return found.token
    if found.problem is not None:
        raise found.problem
    raise Unauthorized(
        f"No token for profile {profile!r}. Run `flagops login` to store one in the keyring, "
        f"or set {ENV_VAR} in the environment."
    )


def store_token(profile: str, token: str) -> ActiveKeyring:
    """Store `token` in the keyring; returns the backend used. Raises NoKeyring when there is no acceptable one."""
    active = active_keyring()
    if not active.usable:
        raise _unavailable(profile, active)
    try:
        active.backend.set_password(KEYRING_SERVICE, profile, token)  # type: ignore[attr-defined]
    except Exception as exc:
        raise NoKeyring(no_keyring_message(profile), detail=f"The keyring said: {type(exc).__name__}") from None
    return active


def delete_token(profile: str) -> bool:
    from keyring.errors import KeyringError, PasswordDeleteError

    active = active_keyring()
    if not active.usable:
        raise _unavailable(profile, active)
    try:
        active.backend.delete_password(KEYRING_SERVICE, profile)  # type: ignore[attr-defined]
    except PasswordDeleteError:
        return False
    except KeyringError:
        raise NoKeyring(no_keyring_message(profile)) from None
    return True
