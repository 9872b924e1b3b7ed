"""The service's own command line: `python -m flagops.server`, and `flagops serve` (which loads this lazily).

The server is a separate program that happens to live in the flagops package, so its entry point lives here
and imports nothing of the console (flagops.cli, tui, backends, ops, session, config).
"""

from __future__ import annotations

import sys
from pathlib import Path

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
