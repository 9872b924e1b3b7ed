"""`flagops timeline --since 2h [--env E] [--format text|md|json]`: the flag changes of an incident.

On a terminal the default is `text`: the same content as the markdown for a postmortem, but written for
reading right there (local times with a date when not today, no markdown escapes such as `-&gt;`).
Redirected or piped, the default stays markdown, so `flagops timeline > incident.md` keeps working.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from flagops.cli.common import handles_errors, invocation, parse_since, run, want_json, with_backend
from flagops.cli.output import clean, emit_json, stdout_is_tty
from flagops.timefmt import when

if TYPE_CHECKING:
    from flagops.timeline import Timeline


@click.command()
@click.option("--since", default="2h", show_default=True, help="How far back: 30m, 2h, 1d, or an ISO time.")
@click.option("--env", "environment", default=None, help="Only this environment (default: all).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "json"]),
    default=None,
    help="text to read on the terminal (the default there), md to paste into a postmortem (the default "
    "when redirected), or JSON.",
)
@click.pass_context
@handles_errors
def timeline(ctx: click.Context, since: str, environment: str | None, fmt: str | None) -> None:
    """Every flag change in the window: who, why, ticket, runbook run, and the error rate before and after."""
    from flagops.timeline import build_timeline, to_json, to_markdown

    fmt = fmt or ("text" if stdout_is_tty() else "md")
    want_json(ctx, fmt == "json")
    start = parse_since(since)
    assert start is not None
    inv = invocation(ctx)

    async def go(backend: Any) -> Any:
        return await build_timeline(backend, start, environment)

    result = run(with_backend(inv.profile, go))
    if fmt == "json":
        emit_json(to_json(result))
    elif fmt == "md":
        click.echo(to_markdown(result, source=_public(inv.profile.url)), nl=False)
    else:
        click.echo(to_text(result, width=shutil.get_terminal_size((100, 24)).columns), nl=False)


def to_text(timeline: Timeline, width: int = 100) -> str:
    """Plain text for a terminal: a block per change, oldest first, wrapped to `width` (at least 60)."""
    from flagops.timeline import AUDIT_PAGE, origin_text, rate_text

    width = max(60, min(width, 160)) - 1
    now = timeline.until
    where = f" in {clean(timeline.environment)}" if timeline.environment else ""
    runs = timeline.runs()
    out: list[str] = []

    def line(text: str, indent: str = "") -> None:
        out.extend(
            textwrap.wrap(
                text, width=width, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False
            )
            or [""]
        )

    line(f"Flag changes{where} from {_at(timeline.since, now)} to {_at(timeline.until, now)} (local time)")
    line(
        f"{len(timeline.changes)} change(s), {len(runs)} runbook run(s); error rates over the 5 minutes before and "
        "after each change (after: until now or the flag's next change, when sooner)."
    )
    if timeline.created:
        line(f"{timeline.created} flag(s) were created in the window (not listed).")
    if timeline.truncated:
        line(f"Only the newest {AUDIT_PAGE} audit entries were read: narrow --since to see older ones.")
    for run_id, runbook, changes in runs:
        first = changes[0].entry
        local = f", run log here: {clean(changes[0].run_title)}" if changes[0].run_title else ""
        line(
            f"runbook {clean(runbook or '?')} run {clean(run_id)} by {clean(first.actor)} at {_at(first.at, now)}: "
            f"{len(changes)} change(s){local}"
        )
    if not timeline.changes:
        out.append("")
        line("No flag changes in this window.")
    for change in timeline.changes:
        e = change.entry
        out.append("")
        line(f"{_at(e.at, now)}  {clean(e.actor)}  {clean(e.flag_key)} in {clean(e.environment or '-')}")
        line(f"change: {change.summary}", "  ")
        line(f"error rate: {rate_text(change.rate)}", "  ")
        line(f"why: {clean(e.reason)}" + (f" (ticket {clean(e.ticket)})" if e.ticket else ""), "  ")
        if origin_text(change):
            line(f"runbook: {clean(origin_text(change))}", "  ")
    return "\n".join(out) + "\n"


def _at(moment: datetime, now: datetime) -> str:
    return when(moment, now)


def _public(url: str) -> str:
    """The service URL without any user:password part, for a document people paste around."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
