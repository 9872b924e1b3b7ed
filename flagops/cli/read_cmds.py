"""`flagops flags | status | audit`: quick looks over SSH. Tables on a terminal, JSON with --json."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import click

from flagops import numfmt
from flagops.cli.common import (
    EXIT,
    handles_errors,
    invocation,
    parse_since,
    require_environment,
    run,
    unknown_flag,
    want_json,
    with_backend,
)
from flagops.cli.output import clean, emit_json, emit_table, percent, say, table
from flagops.errors import FlagOpsError, Forbidden, NotFound
from flagops.metrics.base import variant_rates
from flagops.model import AuditEntry, Flag, FlagState, MetricSeries
from flagops.timefmt import ago, when

_env = click.option("--env", "env_opt", default=None, help="Environment (default: the profile's).")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def moment(at: datetime, now: datetime) -> str:
    """When, unambiguous at any age ("14:02" today, "Nov 23 14:02" before), and how long ago."""
    return f"{when(at, now, seconds=False)} ({ago(at, now)})"


def _state_cell(flag: Flag, environment: str) -> tuple[str, str]:
    state = flag.state(environment)
    if state is None:
        return "-", "-"
    return ("on" if state.enabled else "off"), numfmt.rollout(state.rollout)


@click.command()
@_env
@click.option(
    "--search",
    "-s",
    "query",
    default=None,
    help="Fuzzy search over key, name, tags, owner; filters tag:, owner:, state:on|off, stale.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N flags.")
@_json
@click.pass_context
@handles_errors
def flags(ctx: click.Context, env_opt: str | None, query: str | None, limit: int | None, as_json: bool) -> None:
    """List flags with their state in one environment."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    environment = require_environment(inv, env_opt, ctx, write=False)

    async def go(backend: Any) -> list[Flag]:
        return list(await backend.list_flags(environment))

    found = run(with_backend(inv.profile, go))
    if query:
        from flagops.search import FlagIndex

        found = FlagIndex(found, environment=environment).search(query, limit=limit)
    else:
        found.sort(key=lambda f: f.key)
        if limit:
            found = found[:limit]
    if as_json:
        from flagops.v1 import wire

        emit_json({"environment": environment, "flags": [wire.flag_to_json(f) for f in found]})
        return
    rows = []
    for flag in found:
        state, rollout = _state_cell(flag, environment)
        st = flag.state(environment)
        rows.append(
            [
                flag.key,
                state,
                rollout,
                flag.owner,
                ",".join(flag.tags),
                flag.stage.value,
                ago(st.updated_at if st else None),
            ]
        )
    emit_table(["key", "state", "rollout", "owner", "tags", "stage", "changed"], rows)
    if not rows:
        say(f"(no flags in {environment}" + (f" matching {query!r})" if query else ")"))


async def _status_data(backend: Any, key: str, environment: str | None) -> dict[str, Any]:
    flag: Flag = await backend.get_flag(key)
    if environment and environment not in flag.states:
        raise NotFound(f"{key} has no state in environment {environment!r}; it has: {', '.join(sorted(flag.states))}.")
    envs = [environment] if environment else sorted(flag.states)

    async def metrics(env: str) -> MetricSeries | str:
        try:
            series: MetricSeries = await backend.metrics(key, env, window_seconds=300)
            return series
        except FlagOpsError as exc:
            return exc.message

    async def audit() -> list[AuditEntry]:
        try:
            found: list[AuditEntry] = await backend.audit(flag=key, limit=200)
            return found
        except (Forbidden, NotFound):
            return []  # a token without audit:read still gets the states and metrics

    series_list, entries = await asyncio.gather(asyncio.gather(*(metrics(e) for e in envs)), audit())
    last: dict[str, AuditEntry] = {}
    for entry in entries:  # newest first
        # an entry without an environment (the flag's creation) is the last change of every environment
        # that has had none of its own since
        for env in [entry.environment] if entry.environment else envs:
            last.setdefault(env, entry)
    return {"flag": flag, "envs": envs, "metrics": dict(zip(envs, series_list, strict=True)), "last": last}


@click.command()
@click.argument("flag")
@click.option("--env", "env_opt", default=None, help="Only this environment (default: all).")
@_json
@click.pass_context
@handles_errors
def status(ctx: click.Context, flag: str, env_opt: str | None, as_json: bool) -> None:
    """FLAG's state in every environment: rollout, error rate over 5 minutes, last change."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    data = run(with_backend(inv.profile, lambda b: _status_data(b, flag, env_opt), flag=flag, environment=env_opt))
    found: Flag = data["flag"]
    if as_json:
        from flagops.v1 import wire

        out = wire.flag_to_json(found)
        out["status"] = {}
        for env in data["envs"]:
            series = data["metrics"][env]
            entry = data["last"].get(env)
            out["status"][env] = {
                "evaluationsPerMinute": series.evaluations_per_minute() if isinstance(series, MetricSeries) else None,
                "errorRate": series.error_rate if isinstance(series, MetricSeries) else None,
                "errorRateByVariant": (
                    {v.variant: v.rate for v in variant_rates(series) if v.rate is not None}
                    if isinstance(series, MetricSeries)
                    else {}
                ),
                "metricsError": series if isinstance(series, str) else None,
                "lastChange": None
                if entry is None
                else {
                    "actor": entry.actor,
                    "action": entry.action,
                    "reason": entry.reason,
                    "ticket": entry.ticket,
                    "at": entry.at.isoformat(),
                    "sequence": entry.sequence,
                },
            }
        emit_json(out)
        return
    say(f"{clean(found.key)} — {clean(found.name)}")
    meta = [f"owner {clean(found.owner) or '-'}", f"stage {found.stage.value}", f"risk {found.risk_level.value}"]
    if found.tags:
        meta.append("tags " + clean(",".join(found.tags)))
    if found.kill_switch:
        meta.append("kill switch")
    say("  " + ", ".join(meta))
    rows = []
    now = datetime.now(UTC)
    for env in data["envs"]:
        state = found.state(env)
        if state is None:
            continue
        series = data["metrics"][env]
        entry = data["last"].get(env)
        evals = f"{series.evaluations_per_minute():,.0f}/min" if isinstance(series, MetricSeries) else "?"
        rate = percent(series.error_rate) if isinstance(series, MetricSeries) else "?"
        split = [v for v in variant_rates(series) if v.rate is not None] if isinstance(series, MetricSeries) else []
        if len(split) > 1:  # is the new path the one failing? say it per variant
            rate += " (" + ", ".join(f"{clean(v.variant)} {percent(v.rate)}" for v in split[:4]) + ")"
        change = "-" if entry is None else f"{entry.actor}, {moment(entry.at, now)}: {entry.reason}"
        rows.append(
            [env, "on" if state.enabled else "off", numfmt.rollout(state.rollout), state.version, evals, rate, change]
        )
    say("")
    emit_table(["env", "state", "rollout", "version", "evals", "errors 5m", "last change"], rows)


def _short(snapshot: FlagState | None) -> str:
    """One environment's state in an audit snapshot: "on 25% v7"."""
    if snapshot is None:
        return "?"
    shown = f"on {numfmt.rollout(snapshot.rollout)}" if snapshot.enabled else "off"
    return f"{shown} v{snapshot.version}"


def _change_text(entry: AuditEntry, environment: str | None = None) -> str:
    if entry.action == "flag.created":
        states = entry.flag.states if entry.flag is not None else {}
        if not states:
            return "created"
        if environment in states:
            return f"created: {_short(states[environment])}"
        shown = {env: _short(state) for env, state in sorted(states.items())}
        if len(set(shown.values())) == 1:
            return f"created: {next(iter(shown.values()))} everywhere"
        return "created: " + ", ".join(f"{env} {text}" for env, text in shown.items())
    if entry.action == "flag.archived":
        return "archived"
    if entry.before is None and entry.after is None:
        return "-"
    text = f"{_short(entry.before)} -> {_short(entry.after)}"
    return ("restored: " + text) if entry.action == "flag.restored" else text


@click.command()
@click.argument("flag", required=False)
@click.option("--env", "env_opt", default=None, help="Only this environment.")
@click.option("--since", default=None, help="Only entries newer than this: 30m, 2h, 7d or an ISO time.")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=200, show_default=True)
@click.option("--verify", is_flag=True, help="Recompute the hash chain and say where it breaks.")
@_json
@click.pass_context
@handles_errors
def audit(
    ctx: click.Context,
    flag: str | None,
    env_opt: str | None,
    since: str | None,
    limit: int,
    verify: bool,
    as_json: bool,
) -> None:
    """Who changed what, when and why (newest first)."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    since_at = parse_since(since)
    if verify:
        result = run(with_backend(inv.profile, lambda b: b.verify_audit()))
        if as_json:
            emit_json(
                {"ok": result.ok, "checked": result.checked, "brokenAt": result.broken_at, "problem": result.problem}
            )
        elif result.ok:
            say(f"Audit log verified: {result.checked} entries, hash chain intact.")
        else:
            say(
                f"Audit log does NOT verify: broken at sequence {result.broken_at} "
                f"({clean(result.problem) or 'hash mismatch'}); {result.checked} entries checked."
            )
        if not result.ok:
            ctx.exit(EXIT.INTEGRITY)
        return

    async def read(backend: Any) -> list[AuditEntry]:
        found: list[AuditEntry] = await backend.audit(flag=flag, environment=env_opt, since=since_at, limit=limit)
        if flag and not found:
            # nothing for this key: say so when it is no flag at all (a mistyped key), not just a quiet window
            missing = await unknown_flag(backend, flag, env_opt)
            if missing is not None:
                raise missing
        return found

    entries = run(with_backend(inv.profile, read))
    if as_json:
        from flagops.v1.audit import audit_to_json

        emit_json({"entries": [audit_to_json(e) for e in entries]})
        return
    now = datetime.now(UTC)
    rows = [
        [
            e.sequence,
            when(e.at, now),
            ago(e.at, now),
            e.actor,
            e.action.removeprefix("flag."),
            e.flag_key,
            e.environment or "-",
            _change_text(e, env_opt),
            e.reason,
            e.ticket or "",
        ]
        for e in entries
    ]
    # wide enough for a creation in three environments: a cut there would turn "on 100%" into "on 10…"
    say(table(["seq", "at", "", "actor", "action", "flag", "env", "change", "reason", "ticket"], rows, max_width=60))
    if not rows:
        say("(no audit entries match)")
