"""Profiles: which service to talk to, how, and with what safety settings.

Profiles live in one YAML file, `$XDG_CONFIG_HOME/flagops/config.yaml` (FLAGOPS_CONFIG overrides the path):

    default_profile: prod-api
    profiles:
      prod-api:
        url: https://flags.example.com
        backend: flagapi          # or unleash
        environment: prod         # default environment for the console and read commands
        readonly: false
        theme: incident
        min_reason_length: 8
        runbooks_dir: ~/runbooks
        verify_tls: true
        keys: {kill: k}           # TUI key binding id -> key
        unleash_project: default  # unleash only
        metrics:                  # where error rates come from (README "Metrics sources")
          source: prometheus      # backend (default: the backend's own) | v1 | prometheus
          url: http://prometheus:9090
        probe:                    # optional: a real client confirms a kill reached clients (see ProbeSettings)
          ofrep: https://flags.example.com

Environment overrides: FLAGOPS_PROFILE picks the profile, FLAGOPS_URL and FLAGOPS_BACKEND replace the
profile's url/backend (and make a config file optional), FLAGOPS_TOKEN is read by `flagops.secrets`.
Errors name the file, the line and the field, because a person has to go and fix it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flagops.errors import ConfigError
from flagops.metrics.settings import MetricsSettings, parse_settings

if TYPE_CHECKING:
    from flagops.yamlsrc import Located

BACKENDS = ("flagapi", "unleash")
DEFAULT_PROFILE = "default"
APP_NAME = "flagops"


@dataclass(frozen=True)
class ProbeSettings:
    """`probe:` in a profile: after a kill, a real client (flagops/probe/) reports when it was served off.

    Exactly one of `ofrep: URL` (an OFREP endpoint, evaluated with the OpenFeature SDK) or `unleash: URL` (the
    Unleash client API, read with the official UnleashClient SDK). `token_env` names the environment variable
    holding the probe's token; `{ENV}` in it becomes the environment key upper-cased (Unleash client tokens are
    per environment). Without it, an OFREP probe uses the profile's own token."""

    kind: str  # "ofrep" or "unleash"
    url: str
    token_env: str | None = None
    context: dict[str, Any] = field(default_factory=lambda: {"targetingKey": "flagops-probe"})
    timeout: float = 10.0  # seconds to wait for clients to see the kill


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    backend: str = "flagapi"
    environment: str | None = None
    readonly: bool = False
    theme: str | None = None
    min_reason_length: int = 8
    runbooks_dir: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    unleash_project: str | None = None
    verify_tls: bool = True
    metrics: MetricsSettings = field(default_factory=MetricsSettings)  # the metrics source (issue 9)
    probe: ProbeSettings | None = None
    source: str = "defaults"  # where the profile came from: a file path, or "environment"


def _xdg(variable: str, default: str) -> Path:
    """The XDG base directory spec, computed directly on Linux: importing platformdirs costs the panic path."""
    value = os.environ.get(variable, "")
    base = Path(value) if value and os.path.isabs(value) else Path.home() / default
    return base / APP_NAME


def config_dir() -> Path:
    if sys.platform.startswith("linux"):
        return _xdg("XDG_CONFIG_HOME", ".config")
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def state_dir() -> Path:
    """Logs and other state (XDG state dir)."""
    if sys.platform.startswith("linux"):
        return _xdg("XDG_STATE_HOME", ".local/state")
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME))


def log_path() -> Path:
    return state_dir() / "flagops.log"


def config_path() -> Path:
    override = os.environ.get("FLAGOPS_CONFIG")
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.yaml"


# field name -> (python type(s), human description); the types a YAML scalar may take
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "url": ((str,), "a URL like https://flags.example.com"),
    "backend": ((str,), "one of " + ", ".join(BACKENDS)),
    "environment": ((str,), "an environment key like prod"),
    "readonly": ((bool,), "true or false"),
    "theme": ((str,), "a theme name"),
    "min_reason_length": ((int,), "a whole number >= 1"),
    "runbooks_dir": ((str,), "a directory path"),
    "keys": ((dict,), "a mapping of binding id to key"),
    "unleash_project": ((str,), "an Unleash project id"),
    "verify_tls": ((bool,), "true or false"),
    "metrics": ((dict,), "a metrics source mapping (source, url, templates)"),
    "probe": ((dict,), "a mapping with ofrep: URL or unleash: URL (and token_env, context, timeout)"),
}


def _read(path: Path) -> Located | None:
    """The file as located YAML (flagops.yamlsrc, imported here: the panic path without a file never needs YAML)."""
    from flagops import yamlsrc

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc}).") from None
    try:
        return yamlsrc.compose(data)
    except yamlsrc.SourceError as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise ConfigError(f"{where}: {exc.problem} — fix the YAML syntax there.") from None


def _mapping(path: Path, node: Located, what: str) -> dict[str, Located]:
    if not node.is_map():
        raise ConfigError(f"{path}:{node.start}: {what} must be a mapping (key: value lines).")
    return dict(node.value)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a service address, or None when it can."""
    from urllib.parse import urlsplit

    if not url.startswith(("http://", "https://")):
        return "it must start with http:// or https://"
    if any(c.isspace() for c in url):
        return "it contains whitespace"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        return f"it is not a valid URL ({exc})"
    if not parts.hostname:
        return "it has no host name"
    if port == 0:
        return "port 0 is not a service port"
    return None


# --- probe: (one delimited section; what the probe does lives in flagops/probe/) ----------------------------

_PROBE_FIELDS = ("ofrep", "unleash", "token_env", "context", "timeout")


def _probe_from(where: str, value: dict[Any, Any]) -> ProbeSettings:
    unknown = [k for k in value if k not in _PROBE_FIELDS]
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown field. Known fields: {', '.join(_PROBE_FIELDS)}.")
    kinds = [k for k in ("ofrep", "unleash") if k in value]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: give exactly one of ofrep: URL (an OFREP endpoint) or unleash: URL "
            "(the Unleash API, e.g. https://unleash.example.com/api)."
        )
    url = value[kinds[0]]
    if not isinstance(url, str) or (problem := url_problem(url)):
        raise ConfigError(
            f"{where}.{kinds[0]}: expected a URL like https://flags.example.com, got {url!r}"
            + (f": {problem}." if isinstance(url, str) else ".")
        )
    token_env, context, timeout = value.get("token_env"), value.get("context"), value.get("timeout", 10)
    if token_env is not None and (not isinstance(token_env, str) or not token_env.strip()):
        raise ConfigError(f"{where}.token_env: expected the name of an environment variable, got {token_env!r}.")
    if kinds[0] == "unleash" and token_env is None:
        raise ConfigError(
            f"{where}.token_env: required for an Unleash probe (the variable holding a client "
            "token; {ENV} in the name becomes the environment, e.g. UNLEASH_CLIENT_TOKEN_{ENV})."
        )
    if context is not None and (not isinstance(context, dict) or not all(isinstance(k, str) for k in context)):
        raise ConfigError(f"{where}.context: expected a mapping of attribute: value, got {context!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0.5 <= timeout <= 120:
        raise ConfigError(f"{where}.timeout: expected seconds from 0.5 to 120, got {timeout!r}.")
    extra = {"context": dict(context)} if context is not None else {}
    return ProbeSettings(kinds[0], url, token_env.strip() if token_env else None, timeout=float(timeout), **extra)


def _as_any(value: Any) -> Any:
    return value


def _profile_from(path: Path, name: str, node: Located) -> Profile:
    entries = _mapping(path, node, f"profiles.{name}")
    kwargs: dict[str, Any] = {}
    for key, entry in entries.items():
        where = f"{path}:{entry.line}: profiles.{name}.{key}"
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise ConfigError(f"{where}: unknown field. Known fields: {known}.")
        types, description = _FIELDS[key]
        if key == "metrics":  # checked after the loop: it depends on url and backend
            continue
        value: Any = entry.plain()
        if value is None and key not in ("url", "backend", "readonly", "min_reason_length", "keys", "verify_tls"):
            kwargs[key] = None
            continue
        # bool is an int in Python; a YAML `true` is not a length
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {description}, got {value!r}.")
        value = _as_any(value)  # checked above; isinstance against a tuple of types narrows to object
        if key == "backend" and value not in BACKENDS:
            raise ConfigError(f"{where}: expected {description}, got {value!r}.")
        if key == "min_reason_length" and value < 1:
            raise ConfigError(f"{where}: expected {description}, got {value!r}.")
        if key == "url" and (problem := url_problem(value)):
            raise ConfigError(f"{where}: expected {description}, got {value!r}: {problem}.")
        if key == "keys":
            bad = [k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)]
            if bad:
                raise ConfigError(f"{where}: expected {description}; {bad[0]!r} is not a name: key pair.")
            value = dict(value)
        if key == "probe":
            value = _probe_from(f"{path}:{entry.line}: profiles.{name}.probe", value)
        kwargs[key] = value
    if "url" not in kwargs and not os.environ.get("FLAGOPS_URL"):
        raise ConfigError(f"{path}:{node.start}: profiles.{name}: missing field url (the service's address).")
    kwargs.setdefault("url", "")
    if "metrics" in entries:
        kwargs["metrics"] = _metrics_from(path, name, entries["metrics"], kwargs)
    return Profile(name=name, source=str(path), **kwargs)


def _metrics_from(path: Path, name: str, node: Located, kwargs: dict[str, Any]) -> MetricsSettings:
    """The profile's `metrics:` mapping (parsed by flagops.metrics.settings), errors with their lines."""
    if not node.is_map():
        raise ConfigError(
            f"{path}:{node.line}: profiles.{name}.metrics: must be a mapping (source: prometheus, url: ...)."
        )
    entries = _mapping(path, node, f"profiles.{name}.metrics")
    lines = {key: entry.line for key, entry in entries.items()}
    return parse_settings(
        {key: entry.plain() for key, entry in entries.items()},
        lambda field: f"{path}:{lines.get(field, node.start)}: profiles.{name}.metrics.{field}",
        default_url=kwargs.get("url") or os.environ.get("FLAGOPS_URL"),
        backend=kwargs.get("backend", "flagapi"),
    )


def load_profiles(path: Path) -> tuple[dict[str, Profile], str | None]:
    """Every profile in `path`, and the file's default_profile."""
    root = _read(path)
    if root is None:
        return {}, None
    top = _mapping(path, root, "the config file")
    for key, entry in top.items():
        if key not in ("profiles", "default_profile"):
            raise ConfigError(
                f"{path}:{entry.line}: {key}: unknown top-level field. Known fields: default_profile, profiles."
            )
    default = top["default_profile"].plain() if "default_profile" in top else None
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}:{top['default_profile'].line}: default_profile: expected a profile name.")
    profiles_node = top.get("profiles")
    if profiles_node is None or profiles_node.value is None:
        return {}, default
    if not profiles_node.is_map():
        raise ConfigError(f"{path}:{profiles_node.line}: profiles: must be a mapping of name -> settings.")
    profiles = {}
    for name, node in _mapping(path, profiles_node, "profiles").items():
        if not node.is_map():
            raise ConfigError(f"{path}:{node.line}: profiles.{name}: must be a mapping of settings.")
        profiles[name] = _profile_from(path, name, node)
    return profiles, default


def _apply_env(profile: Profile) -> Profile:
    from dataclasses import replace

    url = os.environ.get("FLAGOPS_URL")
    backend = os.environ.get("FLAGOPS_BACKEND")
    if backend and backend not in BACKENDS:
        raise ConfigError(f"FLAGOPS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}.")
    if url and (problem := url_problem(url)):
        raise ConfigError(f"FLAGOPS_URL={url!r} is not a usable service URL: {problem}.")
    changes: dict[str, Any] = {}
    if url:
        changes["url"] = url
    if backend:
        changes["backend"] = backend
    return replace(profile, **changes) if changes else profile


def load_profile(name: str | None = None) -> Profile:
    """The active profile: `name`, else FLAGOPS_PROFILE, else the file's default_profile, else the only one."""
    path = config_path()
    profiles: dict[str, Profile] = {}
    default: str | None = None
    if path.exists():
        profiles, default = load_profiles(path)
    elif os.environ.get("FLAGOPS_CONFIG"):
        raise ConfigError(
            f"FLAGOPS_CONFIG points at {path}, which does not exist. "
            "Create it, or unset FLAGOPS_CONFIG to use the default location."
        )
    wanted = name or os.environ.get("FLAGOPS_PROFILE") or default
    if wanted is None and len(profiles) == 1:
        wanted = next(iter(profiles))
    if wanted is not None and wanted in profiles:
        return _apply_env(profiles[wanted])
    if wanted is not None and profiles:
        raise ConfigError(f"{path}: no profile named {wanted!r}. Profiles in the file: {', '.join(sorted(profiles))}.")
    if os.environ.get("FLAGOPS_URL"):
        # no file (or no profile of that name in an empty file): the environment alone describes one
        return _apply_env(Profile(name=wanted or DEFAULT_PROFILE, url="", source="environment"))
    if profiles:
        raise ConfigError(
            f"{path}: several profiles and no default. Pick one with --profile or FLAGOPS_PROFILE, "
            f"or set default_profile. Profiles: {', '.join(sorted(profiles))}."
        )
    raise ConfigError(
        f"No profile configured. Set FLAGOPS_URL (and FLAGOPS_TOKEN) for a one-off, or create {path} with:\n"
        "  profiles:\n    main:\n      url: https://flags.example.com\n      environment: prod"
    )
