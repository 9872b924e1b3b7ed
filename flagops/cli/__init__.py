"""The `flagops` command line.

Subcommands are loaded lazily (module path per command name) so that the panic path, `flagops kill`,
imports only what it needs: no textual, fastapi, uvicorn, or keyring when FLAGOPS_TOKEN is set.
Startup time is a feature here; tests/test_imports.py checks it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

# httpx imports its own command line (rich and pygments: about half of httpx's import time) whenever they are
# installed, and flagops never runs it. A None in sys.modules makes that one import fail, and httpx then
# defines a stub in its place. (The console imports rich through textual when it needs it.)
if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]

import click

# command name -> "module:attribute"; each module holds one command or group
COMMANDS: dict[str, str] = {
    "serve": "flagops.server.cli:serve",  # the service's own command line
    "demo": "flagops.cli.demo_cmd:demo",
    "flags": "flagops.cli.read_cmds:flags",
    "status": "flagops.cli.read_cmds:status",
    "audit": "flagops.cli.read_cmds:audit",
    "audit-bundle": "flagops.cli.audit_bundle_cmd:audit_bundle",
    "kill": "flagops.cli.write_cmds:kill",
    "rollout": "flagops.cli.write_cmds:rollout",
    "rollback": "flagops.cli.write_cmds:rollback",
    "login": "flagops.cli.account_cmds:login",
    "info": "flagops.cli.account_cmds:info",
    "runbook": "flagops.cli.runbook_cmd:runbook",
    "timeline": "flagops.cli.timeline_cmd:timeline",
    "request": "flagops.cli.request_cmd:request",
    "requests": "flagops.cli.approval_cmds:requests",
    "approve": "flagops.cli.approval_cmds:approve",
    "reject": "flagops.cli.approval_cmds:reject",
    "cancel": "flagops.cli.approval_cmds:cancel",
    "apply": "flagops.cli.approval_cmds:apply_request",
    "reviews": "flagops.cli.approval_cmds:reviews",
    "ack": "flagops.cli.approval_cmds:ack",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", "profile", default=None, help="Profile to use (FLAGOPS_PROFILE).")
@click.option(
    "--env",
    "environment",
    default=None,
    envvar="FLAGOPS_ENV",
    help="Environment for the console and every command (FLAGOPS_ENV; default: the profile's).",
)
@click.option("--readonly", is_flag=True, default=False, help="Open read-only: no write actions at all.")
@click.version_option(package_name="flagops")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, environment: str | None, readonly: bool) -> None:
    """flagops: find, watch, kill and roll back feature flags during incidents.

    Without a subcommand, opens the console for the active profile.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(profile=profile, environment=environment, readonly=readonly)
    if ctx.invoked_subcommand is None:
        console = importlib.import_module("flagops.cli.console_cmd")
        ctx.invoke(console.open_console, profile=profile, environment=environment, readonly=readonly)


def main(argv: Any = None) -> None:
    cli.main(args=argv, prog_name="flagops")
