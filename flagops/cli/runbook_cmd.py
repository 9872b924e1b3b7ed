"""`flagops runbook list | show | check | plan | run | resume | undo | runs`.

Runbooks come from the shipped examples plus the user's folder (the profile's `runbooks_dir`, else
$FLAGOPS_RUNBOOKS_DIR, else <XDG config>/flagops/runbooks); `--dir PATH` (repeatable) uses exactly those
folders instead. Every change a run makes goes through `flagops.ops` with the runbook, run id and step
recorded alongside the reason; run logs live in the XDG state dir (`flagops runbook runs`).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import click

from flagops.cli.common import EXIT, handles_errors, invocation, run, want_json, with_backend
from flagops.cli.output import clean, emit_json, emit_table, say, stdin_is_tty, stdout_is_tty, warn
from flagops.errors import ConfigError, FlagOpsError, Refused
from flagops.ops import Ops, PlannedChange
from flagops.runbooks import views
from flagops.runbooks.catalog import Catalog, runbook_catalog
from flagops.runbooks.execute import RunEvent
from flagops.runbooks.params import bind, parse_assignments
from flagops.runbooks.problems import RunbookError
from flagops.runbooks.runlog import RunLog, RunStore
from flagops.runbooks.schema import Runbook, Step, StepKind


def _catalog(ctx: click.Context, dirs: tuple[str, ...]) -> Catalog:
    if dirs:
        return runbook_catalog(only=dirs)
    profile_dir = None
    with contextlib.suppress(ConfigError):  # listing shipped runbooks must work before any profile exists
        profile_dir = invocation(ctx).profile.runbooks_dir
    return runbook_catalog(profile_dir)


_dir = click.option(
    "--dir",
    "dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Runbook folder (repeatable); replaces the default folders.",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_params = click.option(
    "--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="A runbook param (repeatable)."
)


@click.group()
def runbook() -> None:
    """Runbooks: list, show, check, plan (dry run), run, resume and undo."""


@runbook.command("list")
@_dir
@_json
@click.pass_context
@handles_errors
def list_(ctx: click.Context, dirs: tuple[str, ...], as_json: bool) -> None:
    """Every runbook found, and every file that does not load."""
    want_json(ctx, as_json)
    catalog = _catalog(ctx, dirs)
    items = sorted(catalog.runbooks.values(), key=lambda rb: rb.id)
    if as_json:
        emit_json(
            {
                "runbooks": [views.summary_json(rb) for rb in items],
                "broken": [
                    {"path": e.path, "problems": [views.problem_json(p) for p in e.problems]} for e in catalog.broken
                ],
            }
        )
        return
    emit_table(
        ["id", "title", "environment", "steps", "file"],
        [[rb.id, rb.title, views.environment_text(rb), len(rb.steps), rb.path] for rb in items],
    )
    for err in catalog.broken:
        warn(f"flagops: skipped {clean(err.message)}" + (f"\n{clean(err.detail)}" if err.detail else ""))


@runbook.command()
@click.argument("ident", metavar="ID")
@_dir
@_json
@click.pass_context
@handles_errors
def show(ctx: click.Context, ident: str, dirs: tuple[str, ...], as_json: bool) -> None:
    """A runbook's description, params (with types and defaults) and steps. ID may be a file path."""
    want_json(ctx, as_json)
    rb = _catalog(ctx, dirs).get(ident)
    if as_json:
        emit_json(views.runbook_json(rb))
    else:
        for line in views.runbook_text(rb):
            say(clean(line))


@runbook.command()
@click.argument("idents", metavar="[ID|PATH]...", nargs=-1)
@_dir
@_params
@click.option("--live", is_flag=True, help="Also check flags, environments and owners against the backend.")
@click.pass_context
@handles_errors
def check(
    ctx: click.Context, idents: tuple[str, ...], dirs: tuple[str, ...], params: tuple[str, ...], live: bool
) -> None:
    """Validate runbooks (all found, or the ones named); exit 9 when any has a problem."""
    catalog = _catalog(ctx, dirs)
    problems: list[FlagOpsError] = list(catalog.broken) if not idents else []
    books: list[Runbook] = []
    for ident in idents or tuple(sorted(catalog.runbooks)):
        try:
            books.append(catalog.get(ident))
        except RunbookError as err:
            problems.append(err)
    given = parse_assignments(params)
    if live and books:
        inv = invocation(ctx)

        async def go(backend: Any) -> None:
            from flagops.runbooks.runs import prepare

            ops = Ops(backend, readonly=True)
            for rb in books:
                try:
                    await prepare(ops, rb, {k: v for k, v in given.items() if rb.param(k)})
                except FlagOpsError as err:
                    problems.append(err)

        run(with_backend(inv.profile, go))
    for problem in problems:
        warn(f"flagops: {clean(problem.message)}" + (f"\n{clean(problem.detail)}" if problem.detail else ""))
    say(f"{len(books)} runbook(s) checked{' against the backend' if live else ''}; {len(problems)} with problems")
    if problems:
        ctx.exit(EXIT.CONFIG)


@runbook.command()
@click.argument("ident", metavar="ID")
@_dir
@_params
@_json
@click.pass_context
@handles_errors
def plan(ctx: click.Context, ident: str, dirs: tuple[str, ...], params: tuple[str, ...], as_json: bool) -> None:
    """Dry run: every step with what it would do now (before -> after). Changes nothing."""
    want_json(ctx, as_json)
    rb = _catalog(ctx, dirs).get(ident)
    given = parse_assignments(params)
    bind(rb, given)  # param errors before any network
    inv = invocation(ctx)

    async def go(backend: Any) -> tuple[Runbook, list[Any]]:
        from flagops.runbooks.plan import plan_runbook
        from flagops.runbooks.runs import prepare

        ops = Ops(backend, readonly=True)
        bound, _ = await prepare(ops, rb, given)
        return bound, await plan_runbook(ops, bound)

    bound, steps = run(with_backend(inv.profile, go))
    if as_json:
        emit_json(views.plan_json(bound, steps))
    else:
        for line in views.plan_text(bound, steps):
            say(clean(line))


class _Console:
    """Prints run progress and asks for each action step's confirmation on the terminal."""

    def __init__(self, runbook: Runbook, ops: Ops, yes: bool, quiet: bool) -> None:
        self.runbook = runbook
        self.total = len(runbook.steps)
        self.ops = ops
        self.yes = yes
        self.quiet = quiet

    def on_event(self, event: RunEvent) -> None:
        if self.quiet:
            return
        if event.kind == "run-start":
            say(
                f"run {event.message}: {len(self.runbook.steps)} steps; if this terminal dies: "
                f"flagops runbook resume {event.message} (or undo)"
            )
        elif event.kind == "step-start":
            say(f"[{event.step}/{self.total}] {clean(event.message)}")
        elif event.kind == "step-done" and event.message:
            say(f"      done: {clean(event.message)}")
        elif event.kind == "step-failed":
            say(f"      FAILED: {clean(event.message)}")
        elif event.kind in ("progress", "change"):
            prefix = "changed: " if event.kind == "change" else ""
            for line in str(event.message).splitlines() or [""]:
                say(f"      {prefix}{clean(line)}")

    async def confirm(self, step: Step, plans: list[PlannedChange]) -> bool:
        if self.yes:
            return True
        for p in plans:
            say(f"      will change: {clean(p.summary())}; {clean(p.blast.describe())}")
        if step.kind is StepKind.PROGRESSIVE:
            say(f"      then: {clean(step.title())}")
        protected = [p for p in plans if self.ops.needs_typed_key(p)]
        loop = asyncio.get_running_loop()
        if protected:
            target = plans[0].flag.key if len(plans) == 1 else plans[0].environment.key
            what = "the flag key" if len(plans) == 1 else "the environment name"
            from flagops.cli.confirm import typed_confirmation

            prompt = f"      {plans[0].environment.key} is protected. Type {what} to apply step {step.index}"
            return await loop.run_in_executor(None, lambda: typed_confirmation(prompt, target, what=what))
        return bool(
            await loop.run_in_executor(None, lambda: click.confirm(f"      Apply step {step.index}?", default=False))
        )


def _needs_terminal(yes: bool, as_json: bool, what: str) -> None:
    if not yes and not (stdin_is_tty() and stdout_is_tty() and not as_json):
        raise Refused(
            f"Refusing to {what} without confirmation: there is no terminal to ask on. "
            "Pass --yes to confirm every step non-interactively."
        )


def _finish(ctx: click.Context, log: RunLog, as_json: bool) -> None:
    if as_json:
        emit_json(log.to_json())
    else:
        say(f"run {log.run_id}: {log.shown_status}: {clean(log.message)}")
        if log.changes:
            say(f"undo with: flagops runbook undo {log.run_id}")
        if log.status == "failed":
            say(f"resume with: flagops runbook resume {log.run_id}")
    if log.status == "failed":
        ctx.exit(log.error_code or EXIT.STEP_FAILED)
    if log.status == "stopped":
        ctx.exit(EXIT.REFUSED)


@runbook.command("run")
@click.argument("ident", metavar="ID")
@_dir
@_params
@click.option("--reason", "-r", default=None, help="Why (one reason for the whole run; goes into the audit log).")
@click.option("--ticket", "-t", default=None, help="Ticket or incident id.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before each action step; required without a terminal.")
@_json
@click.pass_context
@handles_errors
def run_(
    ctx: click.Context,
    ident: str,
    dirs: tuple[str, ...],
    params: tuple[str, ...],
    reason: str | None,
    ticket: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Run a runbook: checks, actions (each confirmed), waits; stops at the first failed step."""
    from flagops.runbooks.runs import preflight_rules, start_run

    want_json(ctx, as_json)
    rb = _catalog(ctx, dirs).get(ident)
    given = parse_assignments(params)
    bind(rb, given)
    inv = invocation(ctx)
    if not (reason or "").strip() and stdin_is_tty() and stdout_is_tty() and not yes and not as_json:
        reason = click.prompt("Reason for this run (goes into the audit log)", default="", show_default=False)
    _needs_terminal(yes, as_json, f"run {rb.id}")
    preflight_rules(inv.readonly, inv.profile.min_reason_length, reason or "")

    async def go(backend: Any) -> RunLog:
        ops = Ops(backend, readonly=inv.readonly, min_reason_length=inv.profile.min_reason_length)
        console = _Console(rb, ops, yes, as_json)
        if not yes and not as_json:  # a person is watching: the whole plan first, then step by step
            from flagops.runbooks.plan import plan_runbook
            from flagops.runbooks.runs import prepare

            bound, _ = await prepare(ops, rb, given)
            for line in views.plan_text(bound, await plan_runbook(ops, bound)):
                say(clean(line))
            say("")
        return await start_run(
            ops, rb, given, reason=reason or "", ticket=ticket, confirm=console.confirm, on_event=console.on_event
        )

    _finish(ctx, run(with_backend(inv.profile, go)), as_json)


@runbook.command()
@click.argument("run_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before each action step.")
@_json
@click.pass_context
@handles_errors
def resume(ctx: click.Context, run_id: str, yes: bool, as_json: bool) -> None:
    """Continue an interrupted or failed run from its first unfinished step (same reason and params)."""
    from flagops.runbooks.runs import resume_run

    want_json(ctx, as_json)
    log = RunStore().load(run_id)
    _needs_terminal(yes, as_json, f"resume run {run_id}")
    inv = invocation(ctx)

    async def go(backend: Any) -> RunLog:
        from flagops.runbooks.loader import load_file

        ops = Ops(backend, readonly=inv.readonly, min_reason_length=inv.profile.min_reason_length)
        console = _Console(load_file(Path(log.runbook_path)), ops, yes, as_json)
        return await resume_run(ops, run_id, confirm=console.confirm, on_event=console.on_event)

    _finish(ctx, run(with_backend(inv.profile, go)), as_json)


@runbook.command()
@click.argument("run_id")
@click.option("--reason", "-r", default=None, help='Why (default: "undo of run ID: <the run\'s reason>").')
@click.option("--yes", "-y", is_flag=True, help="Do not ask; required without a terminal.")
@_json
@click.pass_context
@handles_errors
def undo(ctx: click.Context, run_id: str, reason: str | None, yes: bool, as_json: bool) -> None:
    """Revert a run's changes, newest first, with If-Match; refuses flags someone else changed since."""
    from flagops.runbooks.undo import undo_run

    want_json(ctx, as_json)
    store = RunStore()
    log = store.load(run_id)
    reason = (reason or "").strip() or f"undo of runbook run {run_id}: {log.reason}"
    _needs_terminal(yes, as_json, f"undo run {run_id}")
    inv = invocation(ctx)

    async def ask(plans: list[PlannedChange]) -> bool:
        if yes:
            return True
        for p in plans:
            say(f"will restore: {clean(p.summary())}")
        loop = asyncio.get_running_loop()
        return bool(await loop.run_in_executor(None, lambda: click.confirm("Undo these?", default=False)))

    async def go(backend: Any) -> Any:
        ops = Ops(backend, readonly=inv.readonly, min_reason_length=inv.profile.min_reason_length)
        return await undo_run(ops, log, store, reason=reason or "", confirm=ask)

    results = run(with_backend(inv.profile, go))
    if as_json:
        emit_json({"runId": run_id, "status": log.status, "flags": [views.undo_json(r) for r in results]})
    else:
        if not results:
            say(f"run {run_id} changed nothing that is left to undo")
        for r in results:
            say(f"{r.status:9} {clean(r.flag)} in {clean(r.environment)}: {clean(r.message)}")
    if any(r.status == "refused" for r in results):
        ctx.exit(EXIT.CONFLICT)
    if any(r.status == "failed" for r in results):
        ctx.exit(EXIT.ERROR)


@runbook.command()
@click.argument("run_id", required=False)
@_json
@click.pass_context
@handles_errors
def runs(ctx: click.Context, run_id: str | None, as_json: bool) -> None:
    """Runs recorded on this machine (newest first), or one run's steps and changes."""
    want_json(ctx, as_json)
    store = RunStore()
    if run_id:
        log = store.load(run_id)
        if as_json:
            emit_json({**log.to_json(), "status": log.shown_status})
        else:
            for line in views.run_text(log):
                say(clean(line))
        return
    logs = store.list()
    if as_json:
        emit_json({"runs": [{**views.run_summary_json(log)} for log in logs]})
        return
    emit_table(
        ["run", "runbook", "environment", "status", "changes", "started", "reason"],
        [
            [log.run_id, log.runbook, log.environment, log.shown_status, len(log.changes), log.started_at, log.reason]
            for log in logs
        ],
    )
