"""`flagops serve` (the reference Flag API service) and `flagops demo` (it, embedded, with demo data)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from flagops.errors import ExitCode


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535),
              help="Port; 0 picks a free one (the URL is printed).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite database (default: the XDG data dir; with --demo, a temporary file).")
@click.option("--tokens", "tokens", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YAML list of {actor, sha256, scopes, environments}; without it, fresh tokens are printed.")
@click.option("--demo", is_flag=True, help="Load ~300 demo flags (into an empty database) and simulate traffic.")
@click.option("--traffic/--no-traffic", default=True, show_default=True, help="With --demo: the traffic simulator.")
@click.option("--rate-limit", type=click.FloatRange(0), default=100.0, show_default=True,
              help="Requests per second per token (bursts of twice that); 0 turns it off.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo data and traffic.")
@click.option("--heartbeat", type=click.FloatRange(0.05), default=15.0, show_default=True,
              help="Seconds between heartbeats on /v1/stream.")
@click.option("--max-body", type=click.IntRange(1024), default=1024 * 1024, show_default=True,
              help="Largest accepted request body, in bytes.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log each request (method, path, status; never headers).")
@click.option("--incident-step", type=click.FloatRange(0.1), default=45.0, show_default=True,
              help="With --demo: seconds between the deploy-bot's rollout steps of the incident flag.")
def serve(host: str, port: int, db: Path | None, tokens: Path | None, demo: bool, traffic: bool, rate_limit: float,
          seed: int, heartbeat: float, max_body: int, access_log: bool, incident_step: float) -> None:
    """Run the reference Flag API service (v1)."""
    from flagops.server.auth import TokenFileError  # noqa: PLC0415 - keep `flagops --help` light
    from flagops.server.main import ServeOptions, StartupError
    from flagops.server.main import serve as run

    opts = ServeOptions(host=host, port=port, db=db, tokens=tokens, demo=demo, traffic=traffic,
                        rate_limit=rate_limit, seed=seed, heartbeat=heartbeat, max_body=max_body,
                        access_log=access_log, incident_step=incident_step)
    try:
        run(opts)
    except TokenFileError as exc:
        click.echo(f"flagops serve: bad tokens file: {exc}", err=True)
        sys.exit(ExitCode.CONFIG)
    except StartupError as exc:
        click.echo(f"flagops serve: {exc}", err=True)
        sys.exit(ExitCode.ERROR)


@click.command("demo")
@click.option("--no-traffic", is_flag=True, help="Do not simulate traffic (no incident).")
def demo(no_traffic: bool) -> None:
    """Start the embedded service with demo data and print how to reach it (Ctrl-C stops it)."""
    from flagops.server.embedded import start_embedded  # noqa: PLC0415

    service = start_embedded(traffic=not no_traffic)
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
    finally:
        service.stop()
