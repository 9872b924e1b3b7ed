"""`flagops timeline --since 2h [--env E] [--format md|json]`: the flag changes of an incident, for a postmortem."""

from __future__ import annotations

from typing import Any

import click

from flagops.cli.common import handles_errors, invocation, parse_since, run, want_json, with_backend
from flagops.cli.output import emit_json


@click.command()
@click.option("--since", default="2h", show_default=True, help="How far back: 30m, 2h, 1d, or an ISO time.")
@click.option("--env", "environment", default=None, help="Only this environment (default: all).")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True,
              help="Markdown to paste into a postmortem, or JSON.")
@click.pass_context
@handles_errors
def timeline(ctx: click.Context, since: str, environment: str | None, fmt: str) -> None:
    """Every flag change in the window: who, why, ticket, runbook run, and the error rate before and after."""
    from flagops.timeline import build_timeline, to_json, to_markdown

    want_json(ctx, fmt == "json")
    start = parse_since(since)
    assert start is not None
    inv = invocation(ctx)

    async def go(backend: Any) -> Any:
        return await build_timeline(backend, start, environment)

    result = run(with_backend(inv.profile, go))
    if fmt == "json":
        emit_json(to_json(result))
    else:
        click.echo(to_markdown(result, source=_public(inv.profile.url)), nl=False)


def _public(url: str) -> str:
    """The service URL without any user:password part, for a document people paste around."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
