"""What every CLI command shares: the active profile, opening the backend, and turning errors into exit codes.

Errors are printed as one message (what happened, what to do) on stderr with the documented exit code;
never a traceback for anything flagops expected, and never the token.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import click

from flagops.config import Profile, load_profile
from flagops.errors import ExitCode, FlagOpsError, NotFound, Unavailable

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Invocation:
    profile: Profile
    environment: str | None  # --env given to the command, else the group's, else the profile's
    readonly: bool


def group_options(ctx: click.Context) -> dict[str, Any]:
    root = ctx.find_root()
    return dict(root.obj or {}) if isinstance(root.obj, dict) else {}


def invocation(ctx: click.Context, environment: str | None = None) -> Invocation:
    opts = group_options(ctx)
    profile = load_profile(opts.get("profile"))
    readonly = bool(opts.get("readonly")) or profile.readonly
    if readonly and not profile.readonly:
        profile = replace(profile, readonly=True)
    env = environment or opts.get("environment") or profile.environment
    return Invocation(profile, env, readonly)


def require_environment(inv: Invocation, explicit: str | None, ctx: click.Context, *, write: bool) -> str:
    """Writes need --env (or FLAGOPS_ENV) spelled out: a kill in the wrong environment is its own incident, so the
    profile's default environment is for reads only."""
    env = explicit or group_options(ctx).get("environment")
    if env:
        return str(env)
    if not write and inv.environment:
        return inv.environment
    what = "Which environment? Pass --env E or set FLAGOPS_ENV" + (
        "" if write else ", or set `environment:` in the profile"
    )
    raise click.UsageError(what + ".", ctx=ctx)


def environment_from_variable(ctx: click.Context, explicit: str | None) -> bool:
    """Whether the environment in use came from FLAGOPS_ENV rather than an --env typed on this command line."""
    if explicit:
        return False
    root = ctx.find_root()
    return root.get_parameter_source("environment") is click.core.ParameterSource.ENVIRONMENT


JSON_FLAG = "flagops.json"


def want_json(ctx: click.Context, on: bool) -> bool:
    """Remember --json so errors are reported as JSON on stdout too."""
    ctx.meta[JSON_FLAG] = on
    return on


def one_shot(error: FlagOpsError) -> FlagOpsError:
    """The error as a command that exits now should tell it: an open circuit breaker's "waits 10s before trying
    again" is the console's business, not that of a process about to end."""
    http = sys.modules.get("flagops.backends.http")  # an open circuit needs it loaded; never import it for this
    if http is not None and isinstance(error, http.CircuitOpen):
        return Unavailable(error.reason, detail=error.detail)
    return error


def fail(error: FlagOpsError) -> None:
    error = one_shot(error)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(JSON_FLAG):
        from flagops.v1 import wire

        fresh = getattr(error, "fresh", None)
        click.echo(
            json.dumps(
                {
                    "error": type(error).__name__,
                    "message": error.message,
                    "detail": error.detail,
                    "exitCode": error.exit_code,
                    "fresh": wire.flag_to_json(fresh) if fresh is not None else None,
                },
                indent=2,
            )
        )
    from flagops.cli.output import clean_lines

    click.echo(f"flagops: {clean_lines(error)}", err=True)  # messages carry the service's problem text
    sys.exit(error.exit_code)


def handles_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Typed errors -> message + exit code; Ctrl-C -> 130 without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except FlagOpsError as error:
            fail(error)
        except KeyboardInterrupt:
            click.echo("flagops: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            import logging

            log_to_state_dir()
            logging.getLogger("flagops.cli").exception("unexpected error")
            from flagops.config import log_path

            click.echo(
                f"flagops: unexpected error ({type(exc).__name__}); this is a bug in flagops. "
                f"The details are in {log_path()}.",
                err=True,
            )
            sys.exit(EXIT.ERROR)
        raise AssertionError("unreachable")

    return wrapper


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def log_to_state_dir() -> None:
    """Record what ops did in the XDG state dir (flagops.log). A log that cannot be written never stops a kill."""
    import logging

    from flagops.config import log_path

    logger = logging.getLogger("flagops")
    if any(getattr(h, "flagops_file", False) for h in logger.handlers):
        return
    try:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    handler.flagops_file = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


async def with_backend(
    profile: Profile, use: Callable[[Any], Awaitable[T]], *, flag: str | None = None, environment: str | None = None
) -> T:
    """Open the profile's backend, run `use(backend)`, always close it.

    With `flag`, a "not found" caused by a mistyped key is answered with the closest known keys instead.
    """
    from flagops.session import open_backend

    log_to_state_dir()
    backend = open_backend(profile, one_shot=True)  # no CLI command follows an event stream
    try:
        try:
            return await use(backend)
        except NotFound as error:
            if flag is None:
                raise
            raise await unknown_flag(backend, flag, environment) or error from None
    finally:
        await backend.aclose()


async def unknown_flag(backend: Any, key: str, environment: str | None = None) -> NotFound | None:
    """A NotFound with "did you mean" when `key` is no live flag; None when it is one (or nobody can tell)."""
    try:
        if environment is None:
            envs = await backend.environments()
            if not envs:
                return None
            environment = envs[0].key
        keys = [f.key for f in await backend.list_flags(environment)]
    except FlagOpsError:  # e.g. the environment is the unknown part: the original error says so
        return None
    if key in keys:
        return None
    from flagops.cli.output import clean
    from flagops.suggest import did_you_mean

    close = [clean(k) for k in did_you_mean(key, keys)]
    if not close:
        hint = " `flagops flags --search WORDS` finds flags by key, name, tag or owner."
    else:
        hint = f" Did you mean {close[0]}" + (f" (or {', '.join(close[1:])})" if close[1:] else "") + "?"
    return NotFound(f"There is no flag {clean(key)!r}.{hint}")


def parse_since(text: str | None) -> datetime | None:
    """'90s', '30m', '2h', '7d', or an ISO 8601 time."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    if raw[-1:] in units and raw[:-1].replace(".", "", 1).isdigit():
        return datetime.now(UTC) - timedelta(seconds=float(raw[:-1]) * units[raw[-1]])
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "expected a duration like 30m, 2h, 7d, or an ISO time like 2026-01-02T03:04Z", param_hint="--since"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


EXIT = ExitCode
