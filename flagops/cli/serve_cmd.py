"""`flagops serve` (the reference Flag API service) and `flagops demo` (it, embedded, with demo data)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from flagops.errors import ExitCode


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one (the URL is printed).",
)
@click.option(
    "--db",
    default=None,
    envvar="FLAGOPS_DB",
    metavar="PATH|URL",
    help="SQLite database file (default: the XDG data dir; with --demo, a temporary file), or a "
    "postgresql:// URL for several replicas on one database (env: FLAGOPS_DB; keep the password "
    "out of the URL: PGPASSWORD or ~/.pgpass).",
)
@click.option(
    "--tokens",
    "tokens",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML list of {actor, sha256, scopes, environments}; without it, fresh tokens are printed.",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Approval policy YAML (approvals: [{environment, riskLevels, approvers, approverScope, expiresAfter}]); "
    "with --demo and without it: prod high/critical flags need 1 approval.",
)
@click.option("--demo", is_flag=True, help="Load ~300 demo flags (into an empty database) and simulate traffic.")
@click.option("--traffic/--no-traffic", default=True, show_default=True, help="With --demo: the traffic simulator.")
@click.option(
    "--rate-limit",
    type=click.FloatRange(0),
    default=200.0,
    show_default=True,
    help="Requests per second per token (bursts of twice that); 0 turns it off.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo data and traffic.")
@click.option(
    "--heartbeat",
    type=click.FloatRange(0.05),
    default=15.0,
    show_default=True,
    help="Seconds between heartbeats on /v1/stream.",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024),
    default=1024 * 1024,
    show_default=True,
    help="Largest accepted request body, in bytes.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log each request (method, path, status; never headers).",
)
@click.option(
    "--incident-step",
    type=click.FloatRange(0.1),
    default=45.0,
    show_default=True,
    help="With --demo: seconds between the deploy-bot's rollout steps of the incident flag.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds a connection may take to send a request's headers; 0 turns it off.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds a request body may take to arrive (408 after that); 0 turns it off.",
)
@click.option(
    "--auth-failures",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Unknown tokens allowed per minute per client address (bursts of 20), then 429; 0: off.",
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="FLAGOPS_SIGNING_KEY",
    help="ed25519 key (PEM) that signs the audit head; created (mode 0600) if missing. "
    "Default: audit-signing.key in the XDG config dir (env: FLAGOPS_SIGNING_KEY).",
)
@click.option(
    "--reseal-audit",
    is_flag=True,
    help="Sign the current audit head although its stored signature does not verify (after "
    "you have checked why: a replaced key, or a restored backup).",
)
@click.option(
    "--parent-pid",
    type=click.IntRange(1),
    default=None,
    hidden=True,
    help="Shut down when this process is gone (the embedded demo and the tests pass their own pid).",
)
def serve(
    host: str,
    port: int,
    db: str | None,
    tokens: Path | None,
    policy: Path | None,
    demo: bool,
    traffic: bool,
    rate_limit: float,
    seed: int,
    heartbeat: float,
    max_body: int,
    access_log: bool,
    incident_step: float,
    header_timeout: float,
    body_timeout: float,
    auth_failures: float,
    signing_key: Path | None,
    reseal_audit: bool,
    parent_pid: int | None,
) -> None:
    """Run the reference Flag API service (v1)."""
    from flagops.server.auth import TokenFileError
    from flagops.server.engine import is_postgres_url
    from flagops.server.main import ServeOptions, StartupError
    from flagops.server.main import serve as run

    database: Path | str | None = db if db is None or is_postgres_url(db) else Path(db)
    opts = ServeOptions(
        host=host,
        port=port,
        db=database,
        tokens=tokens,
        demo=demo,
        traffic=traffic,
        rate_limit=rate_limit,
        seed=seed,
        heartbeat=heartbeat,
        max_body=max_body,
        access_log=access_log,
        incident_step=incident_step,
        parent_pid=parent_pid,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        auth_failures=auth_failures,
        signing_key=signing_key,
        reseal_audit=reseal_audit,
        policy=policy,
    )
    try:
        run(opts)
    except TokenFileError as exc:
        click.echo(f"flagops serve: bad tokens file: {exc}", err=True)
        sys.exit(ExitCode.CONFIG)
    except StartupError as exc:
        click.echo(f"flagops serve: {exc}", err=True)
        sys.exit(ExitCode.ERROR)


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
    try:
        service.wait()
    except KeyboardInterrupt:
        pass
