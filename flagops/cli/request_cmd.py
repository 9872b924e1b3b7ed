"""`flagops request kill | rollout | rollback`: ask for a change instead of making it (a change request).

The same plan, rules and confirmation as `flagops kill / rollout / rollback` (write_cmds._write), but nothing
is written: the change waits for approval by someone else (`flagops approve ID`), then `flagops apply ID`.
"""

from __future__ import annotations

import click

from flagops.cli.common import handles_errors
from flagops.cli.write_cmds import Percent, _env, _json, _reason, _ticket, _write, _yes


@click.group()
def request() -> None:
    """Open a change request: the change waits for four-eyes approval (see `flagops requests`)."""


@request.command(name="kill")
@click.argument("flag")
@_env
@_reason
@_ticket
@_yes
@_json
@click.pass_context
@handles_errors
def request_kill(
    ctx: click.Context, flag: str, env_opt: str | None, reason: str | None, ticket: str | None, yes: bool, as_json: bool
) -> None:
    """Ask for FLAG to be turned off in one environment."""
    _write(ctx, "kill", flag, env_opt, reason, ticket, yes, as_json, open_request=True)


@request.command(name="rollout")
@click.argument("flag")
@click.argument("percent", type=Percent())
@_env
@_reason
@_ticket
@_yes
@_json
@click.pass_context
@handles_errors
def request_rollout(
    ctx: click.Context,
    flag: str,
    percent: float,
    env_opt: str | None,
    reason: str | None,
    ticket: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Ask for FLAG's rollout to be set to PERCENT in one environment."""
    _write(ctx, "rollout", flag, env_opt, reason, ticket, yes, as_json, percent=percent, open_request=True)


@request.command(name="rollback")
@click.argument("flag")
@_env
@click.option(
    "--to-version",
    type=click.IntRange(min=1),
    default=None,
    help="Version to restore (default: the one before the last change).",
)
@_reason
@_ticket
@_yes
@_json
@click.pass_context
@handles_errors
def request_rollback(
    ctx: click.Context,
    flag: str,
    env_opt: str | None,
    to_version: int | None,
    reason: str | None,
    ticket: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Ask for FLAG's state in one environment to be restored to an earlier version."""
    _write(ctx, "rollback", flag, env_opt, reason, ticket, yes, as_json, to_version=to_version, open_request=True)
