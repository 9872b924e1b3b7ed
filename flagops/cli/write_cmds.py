"""`flagops kill | rollout | rollback`: the panic path.

Imports stay lean on purpose (no textual, fastapi, uvicorn; keyring only when FLAGOPS_TOKEN is unset):
tests/test_imports.py checks it. Flow: rules that need no network first (read-only, reason, --yes without
a terminal), then the plan from ops, then the confirmation (a typed flag key in protected environments),
then apply + confirm. Every write goes through `flagops.ops`.
"""

from __future__ import annotations

import math
from typing import Any

import click

from flagops.cli import approval_cmds
from flagops.cli.common import (
    EXIT,
    environment_from_variable,
    handles_errors,
    invocation,
    require_environment,
    run,
    want_json,
    with_backend,
)
from flagops.cli.output import clean, emit_json, say, stdin_is_tty, stdout_is_tty, warn
from flagops.errors import ApprovalRequired, Refused
from flagops.governance import ChangeRequest
from flagops.ops import AppliedChange, Ops, PlannedChange, describe_state, refuse_bad_reason, refuse_if_readonly
from flagops.probe import ProbeResult, probe_for


def _plan_json(plan: PlannedChange) -> dict[str, Any]:
    from flagops.v1 import wire

    return {
        "action": plan.action,
        "flag": plan.flag.key,
        "environment": plan.environment.key,
        "protected": plan.environment.protected,
        "noop": plan.noop,
        "summary": plan.summary(),
        "before": wire.state_to_json(plan.before),
        "after": wire.state_to_json(plan.after),
        "toVersion": plan.to_version,
        "blastRadius": {
            "evaluationsPerMinute": plan.blast.evaluations_per_minute,
            "errorRate": plan.blast.error_rate,
            "windowSeconds": plan.blast.window_seconds,
            "unknown": plan.blast.unknown,
            "errorRateByVariant": {v.variant: v.rate for v in plan.blast.by_variant},
        },
    }


def _applied_json(applied: AppliedChange) -> dict[str, Any]:
    from flagops.v1 import wire

    return {
        **_plan_json(applied.plan),
        "applied": not applied.noop,
        "confirmed": applied.confirmed,
        "timeToEffect": applied.time_to_effect,
        "state": wire.state_to_json(applied.state),
        "idempotencyKey": applied.idempotency_key,
    }


def _show_plan(plan: PlannedChange) -> None:
    env = plan.environment
    protected = " (PROTECTED)" if env.protected else ""
    before = plan.before
    who = f", by {clean(before.updated_by)}" if before.updated_by else ""
    say(f"Plan: {plan.action} {clean(plan.flag.key)} in {clean(env.key)}{protected}")
    say(f"  now:    {describe_state(before)} (version {before.version}{who})")
    after = describe_state(plan.after)
    if plan.action == "rollback":
        after += f" (as version {plan.to_version})"
    elif plan.action == "rollout" and not plan.after.enabled:
        after = f"off, rollout {plan.after.rollout:g}% (the flag stays off)"
    say(f"  after:  {after}")
    say(f"  blast radius: {clean(plan.blast.describe())}")


def _confirm(plan: PlannedChange, ops: Ops, question: str = "Apply?") -> None:
    from flagops.cli.confirm import TYPED_ATTEMPTS, typed_confirmation

    try:
        if ops.needs_typed_key(plan):
            if not typed_confirmation(
                f"{plan.environment.key} is protected. Type the flag key to confirm", plan.flag.key
            ):
                raise Refused(
                    f"Not confirmed: the typed key did not match (or nothing was typed; {TYPED_ATTEMPTS} "
                    "attempts at most). Nothing was changed."
                )
        elif not click.confirm(question, default=False):
            raise Refused("Not confirmed. Nothing was changed.")
    except click.Abort:
        raise Refused("Not confirmed. Nothing was changed.") from None


def _report(applied: AppliedChange, as_json: bool, probe: ProbeResult | None = None, review: str | None = None) -> None:
    plan = applied.plan
    if as_json:
        emit_json({**_applied_json(applied), "probe": probe.to_json() if probe is not None else None, "review": review})
    elif applied.noop:
        say(
            f"{clean(plan.flag.key)} in {clean(plan.environment.key)} is already {describe_state(plan.before)}: "
            "nothing to change, nothing written."
        )
    else:
        verb = {"kill": "Killed", "rollout": "Set rollout of", "rollback": "Rolled back"}[plan.action]
        effect = (
            f"served after {applied.time_to_effect:.2f}s"
            if applied.confirmed and applied.time_to_effect is not None
            else "not yet confirmed"
        )
        say(
            f"{verb} {clean(plan.flag.key)} in {clean(plan.environment.key)}: {describe_state(plan.before)} -> "
            f"{describe_state(applied.state)} (version {applied.state.version}); {effect}."
        )
    if not applied.noop and not applied.confirmed:
        warn(
            "flagops: the service accepted the change, but flagops did not see it served within the timeout. "
            "Check with `flagops status FLAG`."
        )


def _write(
    ctx: click.Context,
    action: str,
    key: str,
    env_opt: str | None,
    reason: str | None,
    ticket: str | None,
    yes: bool,
    as_json: bool,
    percent: float | None = None,
    to_version: int | None = None,
    open_request: bool = False,
) -> None:
    """`open_request`: open a change request for the change (`flagops request ...`) instead of applying it."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    environment = require_environment(inv, env_opt, ctx, write=True)
    if environment_from_variable(ctx, env_opt):
        warn(f"flagops: environment {clean(environment)} (from FLAGOPS_ENV)")
    interactive = stdin_is_tty() and stdout_is_tty() and not as_json
    # the rules that need no network first, so a refusal is instant even when the service is down
    refuse_if_readonly(inv.readonly, action, key)
    if not (reason or "").strip() and interactive and not yes:
        reason = click.prompt("Reason (goes into the audit log)", default="", show_default=False)
    refuse_bad_reason(reason, inv.profile.min_reason_length)
    if not yes and not interactive:
        why = "--json output does not ask" if as_json else "there is no terminal to ask on"
        raise Refused(
            f"Refusing to {action} {key} in {environment} without confirmation: {why}. "
            "Pass --yes to confirm non-interactively."
        )
    assert reason is not None

    ops_made: list[Ops] = []

    async def go(backend: Any) -> AppliedChange | ChangeRequest:
        ops = Ops(
            backend,
            readonly=inv.readonly,
            min_reason_length=inv.profile.min_reason_length,
            probe=probe_for(inv.profile),
        )
        ops_made.append(ops)
        if action == "kill":
            plan = await ops.plan_kill(key, environment)
        elif action == "rollout":
            assert percent is not None
            plan = await ops.plan_rollout(key, environment, percent)
        else:
            plan = await ops.plan_rollback(key, environment, to_version)
        if open_request:
            return await approval_cmds.open_request(ops, plan, reason, ticket, yes, _show_plan, _confirm)
        await approval_cmds.refuse_unapproved(ops, plan, percent)  # before asking: a yes it would refuse helps nobody
        if not yes and not plan.noop:
            _show_plan(plan)
            if ops.probe is not None and plan.action == "kill":
                ops.probe.warm()  # while the person reads the plan; with --yes the kill goes first
            _confirm(plan, ops)
        try:
            return await ops.apply(plan, reason=reason, ticket=ticket)
        except ApprovalRequired as exc:  # the service's policy said so (the client could not tell in advance)
            raise approval_cmds.with_request_hint(exc, plan, percent) from None

    result = run(with_backend(inv.profile, go, flag=key, environment=environment))
    if isinstance(result, ChangeRequest):
        approval_cmds.report_opened(result, as_json)
        return
    applied = result
    review = ops_made[0].approvals.review_opened(applied)
    if not as_json:
        _report(applied, as_json)  # the kill is done and said so before any probe starts
        approval_cmds.report_break_glass(review)
    probe = _probe_clients(ops_made[0], applied, as_json)
    if as_json:
        _report(applied, as_json, probe, review)
    if (not applied.noop and not applied.confirmed) or (probe is not None and probe.outcome == "still_on"):
        ctx.exit(EXIT.UNCONFIRMED)


def _probe_clients(ops: Ops, applied: AppliedChange, as_json: bool) -> ProbeResult | None:
    """The profile's propagation probe, after the kill (ops.probe_effect; bounded by the probe's timeout)."""
    if ops.probe is None or not ops.will_probe(applied):
        return None
    if not as_json:
        say(f"Probing clients ({ops.probe.client_name}, up to {ops.probe.settings.timeout:g} s)…")
    result = run(ops.probe_effect(applied))
    if result is not None and not as_json:
        (say if result.ok else warn)(f"{'Probe' if result.ok else 'flagops'}: {clean(result.describe())}.")
    return result


_env = click.option(
    "--env", "env_opt", default=None, help="Environment to change (required for writes; FLAGOPS_ENV counts)."
)
_reason = click.option("--reason", "-r", default=None, help="Why (goes into the audit log; min length per profile).")
_ticket = click.option("--ticket", "-t", default=None, help="Ticket or incident id.")
_yes = click.option("--yes", "-y", is_flag=True, help="Do not ask; required without a terminal.")
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.command()
@click.argument("flag")
@_env
@_reason
@_ticket
@_yes
@_json
@click.pass_context
@handles_errors
def kill(
    ctx: click.Context, flag: str, env_opt: str | None, reason: str | None, ticket: str | None, yes: bool, as_json: bool
) -> None:
    """Turn FLAG off in one environment. Killing a flag that is already off succeeds without writing."""
    _write(ctx, "kill", flag, env_opt, reason, ticket, yes, as_json)


class Percent(click.ParamType):
    """A rollout percentage as people type it: 5, 5.5, 5% or 5.5%."""

    name = "PERCENT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            try:
                number = float(text.removesuffix("%").strip())
            except ValueError:
                self.fail(f"{text!r} is not a percentage: give a number from 0 to 100, like 5, 5.5 or 5%.", param, ctx)
        if not math.isfinite(number) or not 0 <= number <= 100:
            self.fail(f"{value!r} is outside 0-100%.", param, ctx)
        return number


@click.command()
@click.argument("flag")
@click.argument("percent", type=Percent())
@_env
@_reason
@_ticket
@_yes
@_json
@click.pass_context
@handles_errors
def rollout(
    ctx: click.Context,
    flag: str,
    percent: float,
    env_opt: str | None,
    reason: str | None,
    ticket: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Set FLAG's rollout to PERCENT (0-100; 5, 5.5 and 5% all work) in one environment. Does not turn an off
    flag on."""
    _write(ctx, "rollout", flag, env_opt, reason, ticket, yes, as_json, percent=percent)


@click.command()
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
def rollback(
    ctx: click.Context,
    flag: str,
    env_opt: str | None,
    to_version: int | None,
    reason: str | None,
    ticket: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Restore FLAG's state in one environment to an earlier version (a new version equal to it)."""
    _write(ctx, "rollback", flag, env_opt, reason, ticket, yes, as_json, to_version=to_version)
