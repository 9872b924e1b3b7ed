"""`flagops demo`: the reference Flag API service, embedded (a child process) with demo data, and the console
against it. (`flagops serve` itself is the service's own command: flagops/server/cli.py.)"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import click

from flagops.errors import ExitCode


@click.command("demo")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's database here (default: a temporary one, deleted on exit).",
)
@click.option("--no-traffic", is_flag=True, help="Do not simulate traffic (no incident).")
@click.option(
    "--headless",
    is_flag=True,
    help="Do not open the console: print how to reach the service and wait (Ctrl-C stops it).",
)
@click.option(
    "--print-connection",
    "connection_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="FLAGOPS_DEMO_CONNECTION",
    help="Write {url, admin_token, read_token} as JSON to this file (mode 0600) once the service runs; "
    "for scripts and tests (env: FLAGOPS_DEMO_CONNECTION).",
)
@click.pass_context
def demo(ctx: click.Context, db: Path | None, no_traffic: bool, headless: bool, connection_file: Path | None) -> None:
    """Start the embedded service with demo data and open the console against it; stop it on exit."""
    from flagops.server.embedded import start_embedded

    options = ctx.obj or {}
    # SIGTERM's default action ends the process without `finally`, leaving the service's temporary directory
    # (database, tokens file, log) behind; exiting through SystemExit runs service.stop() below
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        service = start_embedded(db=db, traffic=not no_traffic)
    except RuntimeError as exc:
        click.echo(f"flagops demo: {exc}", err=True)
        sys.exit(ExitCode.ERROR)
    try:
        if connection_file is not None:
            _write_connection(connection_file, service.url, service.admin_token, service.read_token)
        if headless:
            _print_and_wait(service)
            return
        from flagops.cli.console_cmd import run_console
        from flagops.config import Profile
        from flagops.secrets import Secret
        from flagops.session import open_backend

        profile = Profile(name="demo", url=service.url, environment="prod", source="flagops demo")
        backend = open_backend(profile, Secret(service.admin_token))
        run_console(profile, backend, environment=options.get("environment"), readonly=bool(options.get("readonly")))
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _write_connection(path: Path, url: str, admin_token: str, read_token: str) -> None:
    import json
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "admin_token": admin_token, "read_token": read_token}, handle)


def _print_and_wait(service: Any) -> None:
    click.echo(f"flagops demo: the Flag API is running at {service.url}")
    click.echo(f"  admin token:     {service.admin_token}")
    click.echo(f"  read-only token: {service.read_token}")
    click.echo("  use it from the CLI:")
    click.echo(f"    export FLAGOPS_URL={service.url} FLAGOPS_TOKEN=<admin token>")
    click.echo(f"  or: curl -H 'Authorization: Bearer <admin token>' '{service.url}/v1/flags?environment=prod'")
    click.echo("  the incident flag is checkout-new-flow (prod). Press Ctrl-C to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        service.wait()
