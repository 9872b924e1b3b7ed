"""`flagops login` (store a token in the OS keyring) and `flagops info` (paths, profile, token source).

The token is read from a hidden prompt on a terminal or from stdin otherwise — never from argv, where it
would land in shell history and `ps`. Neither command ever prints it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from flagops.cli.common import group_options, handles_errors, run, want_json
from flagops.cli.output import clean, emit_json, say, stdin_is_tty, warn
from flagops.config import Profile, config_path, load_profile, log_path, state_dir
from flagops.errors import ConfigError, FlagOpsError, Invalid, Unauthorized, Unavailable


def _profile_or_name(ctx: click.Context) -> tuple[Profile | None, str, str | None]:
    """(profile if loadable, profile name to store under, why it could not be loaded)."""
    wanted = group_options(ctx).get("profile") or os.environ.get("FLAGOPS_PROFILE")
    try:
        profile = load_profile(wanted)
    except ConfigError as exc:
        return None, wanted or "default", exc.message
    return profile, profile.name, None


async def _check_token(profile: Profile, token: str) -> None:
    from flagops.session import open_backend

    backend = open_backend(profile, token)
    try:
        await backend.environments()
    finally:
        await backend.aclose()


@click.command()
@click.option("--no-verify", is_flag=True, help="Store without checking the token against the service.")
@click.argument("stray", nargs=-1, metavar="", required=False)
@click.pass_context
@handles_errors
def login(ctx: click.Context, no_verify: bool, stray: tuple[str, ...]) -> None:
    """Store the profile's API token in the OS keyring (hidden prompt, or stdin when piped)."""
    from flagops.secrets import store_token

    if stray:
        # never echo it back: it may be a real token typed where it does not belong
        raise click.UsageError(
            "flagops login takes no arguments: a token on the command line ends up in shell "
            "history and process lists. Paste it at the prompt, or pipe it on stdin. If you "
            "just typed a real token there, consider rotating it.",
            ctx=ctx,
        )

    profile, name, problem = _profile_or_name(ctx)
    if stdin_is_tty():
        token = click.prompt(f"API token for profile {name!r}", hide_input=True, default="", show_default=False)
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise Invalid("No token given: paste it at the prompt, or pipe it on stdin (flagops login < token-file).")
    if profile is not None and not no_verify:
        try:
            run(_check_token(profile, token))
        except Unauthorized:
            raise Unauthorized(
                f"The service at {profile.url} did not accept this token; it was not stored. "
                "Check that you copied the whole token and that it is not revoked."
            ) from None
        except Unavailable as exc:
            warn(f"flagops: could not check the token ({exc.message}); storing it anyway.")
        except FlagOpsError as exc:
            warn(f"flagops: the token works, but the service said: {exc.message}")
    elif problem:
        warn(f"flagops: not checking the token: {problem}")
    keyring = store_token(name, token)
    say(f"Token stored for profile {name!r} in the keyring ({keyring.name}).")
    if keyring.insecure:
        warn(
            f"flagops: WARNING: {keyring.describe()}. Anyone who can read that file can use the token; "
            f"export FLAGOPS_TOKEN instead, or use an OS keyring, where that matters."
        )
    if os.environ.get("FLAGOPS_TOKEN"):
        warn("flagops: note FLAGOPS_TOKEN is set in this environment and takes precedence over the keyring.")


def _probe_json(profile: Profile) -> dict[str, Any] | None:
    probe = profile.probe
    if probe is None:
        return None
    import importlib.util

    sdk = "openfeature.contrib.provider.ofrep" if probe.kind == "ofrep" else "UnleashClient"
    try:
        installed = importlib.util.find_spec(sdk) is not None
    except ModuleNotFoundError:  # the parent package is missing
        installed = False
    return {
        "kind": probe.kind,
        "url": probe.url,
        "tokenEnv": probe.token_env,
        "timeout": probe.timeout,
        "sdkInstalled": installed,
    }


def _probe_text(profile: Profile) -> str:
    data = _probe_json(profile)
    if data is None:
        return "none"
    token = f"${data['tokenEnv']}" if data["tokenEnv"] else "the profile's token"
    missing = "" if data["sdkInstalled"] else "; SDK not installed: pip install 'flagops[probe]'"
    return f"{data['kind']} {clean(data['url'])} (token: {token}, timeout {data['timeout']:g} s{missing})"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handles_errors
def info(ctx: click.Context, as_json: bool) -> None:
    """Every path flagops uses, the active profile, and where its token comes from (never the token)."""
    want_json(ctx, as_json)
    from flagops.secrets import lookup_token

    profile, name, problem = _profile_or_name(ctx)
    found = lookup_token(name)
    env_names = (
        "FLAGOPS_CONFIG",
        "FLAGOPS_PROFILE",
        "FLAGOPS_ENV",
        "FLAGOPS_URL",
        "FLAGOPS_BACKEND",
        "FLAGOPS_TOKEN",
        "PYTHON_KEYRING_BACKEND",
    )
    data: dict[str, Any] = {
        "configFile": str(config_path()),
        "configFileExists": config_path().exists(),
        "stateDir": str(state_dir()),
        "logFile": str(log_path()),
        "profile": None
        if profile is None
        else {
            "name": profile.name,
            "source": profile.source,
            "url": profile.url,
            "backend": profile.backend,
            "environment": profile.environment,
            "readonly": profile.readonly,
            "theme": profile.theme,
            "minReasonLength": profile.min_reason_length,
            "runbooksDir": profile.runbooks_dir,
            "verifyTls": profile.verify_tls,
            "probe": _probe_json(profile),
        },
        "profileProblem": problem,
        "token": {"present": found.token is not None, "source": found.source},
        "environmentVariables": {k: ("set" if os.environ.get(k) else None) for k in env_names},
        "version": _version(),
    }
    if as_json:
        emit_json(data)
        return
    say(f"flagops {data['version']}")
    say(f"config file:   {data['configFile']}" + ("" if data["configFileExists"] else " (does not exist)"))
    say(f"log file:      {data['logFile']}")
    if profile is None:
        say(f"profile:       {name} (not usable: {clean(problem)})")
    else:
        say(f"profile:       {profile.name} (from {profile.source})")
        say(f"  url:         {clean(profile.url)}" + ("" if profile.verify_tls else " (TLS verification OFF)"))
        say(f"  backend:     {profile.backend}")
        say(f"  environment: {profile.environment or '-'}")
        say(f"  readonly:    {'yes' if profile.readonly else 'no'}")
        say(f"  reasons:     at least {profile.min_reason_length} characters")
        say(f"  runbooks:    {profile.runbooks_dir or '-'}")
        say(f"  theme:       {profile.theme or '-'}")
        say(f"  probe:       {_probe_text(profile)}")
    say(f"token:         {found.source}")
    set_vars = [k for k, v in data["environmentVariables"].items() if v]
    say(f"env overrides: {', '.join(set_vars) if set_vars else 'none'}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flagops")
    except PackageNotFoundError:
        return "unknown"
