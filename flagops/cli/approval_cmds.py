"""Four-eyes approvals on the command line: `requests`, `approve`, `reject`, `cancel`, `apply`, `reviews`, `ack`,
and what `kill / rollout / rollback / request` say about them (`flagops request ...` is in request_cmd.py).

A write that the policy holds for approval is refused with exit 13 and the `flagops request ...` line that opens
the change request instead: flagops never opens one behind the person's back (a kill that did not happen must
look like one). A kill of a kill-switch flag is break-glass: applied at once, and the review it opened is named.
Where the backend cannot enforce approvals (Unleash OSS) the commands say so plainly. Comments, reasons and
names from the service are printed inert (cli/output.clean).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from flagops.approvals import AppliedRequest, approvals_phrase, describe_change, not_enforced_note
from flagops.cli.common import handles_errors, invocation, run, want_json, with_backend
from flagops.cli.output import clean, emit_json, emit_table, say, stdin_is_tty, stdout_is_tty
from flagops.errors import ApprovalRequired, Refused
from flagops.governance import ApprovalRule, ChangeRequest, RequestStatus, Review

if TYPE_CHECKING:
    from flagops.ops import Ops, PlannedChange


# --- what the write commands say --------------------------------------------------------------


def request_command(plan: PlannedChange, percent: float | None) -> str:
    """The `flagops request ...` line that asks for `plan` instead (the reason stays for the person to give)."""
    words = ["flagops", "request", plan.action, plan.flag.key]
    if plan.action == "rollout" and percent is not None:
        words.append(f"{percent:g}")
    words += ["--env", plan.environment.key]
    if plan.action == "rollback" and plan.to_version is not None:
        words += ["--to-version", str(plan.to_version)]
    return " ".join(shlex.quote(clean(w)) for w in words) + ' --reason "..."'


def _needs_text(plan: PlannedChange, approvers: int, scope: str | None) -> str:
    who = f"someone other than you with {scope}" if scope else "someone other than you"
    return (
        f"{plan.action} {plan.flag.key} in {plan.environment.key} needs {approvals_phrase(approvers)} "
        f"({plan.flag.risk_level.value}-risk flag; {who}). Nothing was changed."
    )


async def refuse_unapproved(ops: Ops, plan: PlannedChange, percent: float | None) -> None:
    """Exit 13 with the way forward when the policy holds `plan` for approval (break-glass kills pass)."""
    rule: ApprovalRule | None = await ops.needs_approval(plan)
    if rule is not None:
        raise ApprovalRequired(
            _needs_text(plan, rule.approvers, rule.approver_scope)
            + f" Open a change request instead: {request_command(plan, percent)}",
            approvers=rule.approvers,
        )


def with_request_hint(error: ApprovalRequired, plan: PlannedChange, percent: float | None) -> ApprovalRequired:
    return ApprovalRequired(
        _needs_text(plan, error.approvers, None) + f" Open a change request instead: {request_command(plan, percent)}",
        approvers=error.approvers,
        detail=error.message,
    )


def report_break_glass(review_id: str | None) -> None:
    if review_id:
        say(
            f"Break-glass: this kill opened review {clean(review_id)}; it stays open until someone else "
            f'acknowledges it: flagops ack {clean(review_id)} --comment "..."'
        )


async def open_request(
    ops: Ops,
    plan: PlannedChange,
    reason: str,
    ticket: str | None,
    yes: bool,
    show_plan: Callable[[PlannedChange], None],
    confirm: Callable[..., None],
) -> ChangeRequest:
    """`flagops request ACTION`: show the plan, confirm, open the change request (nothing is written)."""
    if plan.noop:
        raise Refused(f"{plan.summary()}: a change request for it would change nothing. Nothing was opened.")
    ops.approvals.check_supported(f"open a change request for {plan.flag.key}")
    rule = await ops.needs_approval(plan)
    if not yes:
        show_plan(plan)
        if rule is None:
            say("  approval: not required by the policy (a voluntary review)")
        needs = approvals_phrase(rule.approvers if rule else 1)
        say(f"  this opens a change request (needs {needs}); nothing changes yet")
        confirm(plan, ops, "Open the change request?")
    return await ops.approvals.request_change(plan, reason=reason, ticket=ticket)


def report_opened(request: ChangeRequest, as_json: bool) -> None:
    if as_json:
        emit_json({"changeRequest": _request_json(request)})
        return
    rid = clean(request.id)
    say(
        f"Opened change request {rid}: {clean(request.flag_key)} in {clean(request.environment)} -> "
        f"{clean(describe_change(request))}; needs {approvals_phrase(request.required_approvals)} by someone "
        f"other than you, expires {_when(request.expires_at)}. Nothing has changed yet."
    )
    say(f'  to approve (another person): flagops approve {rid} --comment "..."')
    say(f"  once approved:               flagops apply {rid}")


# --- shared -------------------------------------------------------------------------------------


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def _request_json(request: ChangeRequest) -> dict[str, Any]:
    from flagops.v1.governance import change_request_to_json

    return change_request_to_json(request)


def _review_json(review: Review) -> dict[str, Any]:
    from flagops.v1.governance import review_to_json

    return review_to_json(review)


def _comment(comment: str | None, what: str, as_json: bool) -> str:
    if not (comment or "").strip() and stdin_is_tty() and stdout_is_tty() and not as_json:
        comment = click.prompt(f"Comment for {what} (goes into the audit log)", default="", show_default=False)
    return comment or ""


def _ops(backend: Any, ctx: click.Context) -> Ops:
    from flagops.ops import Ops

    inv = invocation(ctx)
    return Ops(backend, readonly=inv.readonly, min_reason_length=inv.profile.min_reason_length)


def _status(text: str) -> RequestStatus | None:
    return None if text in ("open", "all") else RequestStatus(text)


_STATUSES = ["open", "all", *(s.value for s in RequestStatus)]
_json_opt = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_comment_opt = click.option(
    "--comment", "-c", default=None, help="Why (goes into the audit log; min length per profile)."
)


# --- listing ------------------------------------------------------------------------------------


@click.command()
@click.option("--env", "env_opt", default=None, help="Only this environment (default: every environment).")
@click.option("--status", "status", type=click.Choice(_STATUSES), default="open", show_default=True)
@click.option("--flag", "flag", default=None, help="Only requests for this flag.")
@_json_opt
@click.pass_context
@handles_errors
def requests(ctx: click.Context, env_opt: str | None, status: str, flag: str | None, as_json: bool) -> None:
    """List change requests, newest first (default: the open ones, pending or approved)."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    environment = env_opt or None

    async def go(backend: Any) -> tuple[bool, str, list[ChangeRequest]]:
        ops = _ops(backend, ctx)
        found = await ops.approvals.requests(environment, _status(status), flag)
        enforced = ops.approvals.supported and await ops.approvals.enforced()
        return enforced, ops.approvals.backend_name, found

    enforced, backend_name, found = run(with_backend(inv.profile, go))
    if status == "open":
        found = [r for r in found if r.status.is_open]
    note = None if enforced else not_enforced_note(backend_name)
    if as_json:
        emit_json({"enforced": enforced, "note": note, "changeRequests": [_request_json(r) for r in found]})
        return
    if note:
        say(f"{note}: there are no change requests there; changes are applied directly.")
        return
    if not found:
        say(f"No {'' if status == 'all' else status + ' '}change requests.")
        return
    rows = [
        (
            r.id,
            r.status.value,
            r.flag_key,
            r.environment,
            describe_change(r),
            f"{len(r.approvals)}/{r.required_approvals}",
            r.author,
            _when(r.expires_at),
            r.reason,
        )
        for r in found
    ]
    emit_table(["id", "status", "flag", "env", "change", "approvals", "author", "expires", "reason"], rows)


@click.command()
@click.option("--env", "env_opt", default=None, help="Only this environment (default: every environment).")
@click.option("--all", "show_all", is_flag=True, help="Acknowledged reviews too.")
@_json_opt
@click.pass_context
@handles_errors
def reviews(ctx: click.Context, env_opt: str | None, show_all: bool, as_json: bool) -> None:
    """Break-glass reviews (kills of kill-switch flags applied without approval), newest first: open ones by default."""
    want_json(ctx, as_json)
    inv = invocation(ctx)

    async def go(backend: Any) -> tuple[bool, str, list[Review]]:
        ops = _ops(backend, ctx)
        return (
            ops.approvals.supported,
            ops.approvals.backend_name,
            await ops.approvals.reviews(env_opt, open_only=not show_all),
        )

    supported, backend_name, found = run(with_backend(inv.profile, go))
    note = None if supported else not_enforced_note(backend_name)
    if as_json:
        emit_json({"enforced": supported, "note": note, "reviews": [_review_json(r) for r in found]})
        return
    if note:
        say(f"{note}: kills there open no reviews.")
        return
    if not found:
        say("No open break-glass reviews." if not show_all else "No break-glass reviews.")
        return
    rows = [
        (
            r.id,
            "open" if r.is_open else f"acked by {r.acknowledged_by}",
            r.flag_key,
            r.environment,
            r.actor,
            _when(r.at),
            r.reason,
            r.comment or "",
        )
        for r in found
    ]
    emit_table(["id", "state", "flag", "env", "killed by", "at", "reason", "comment"], rows)


# --- deciding -----------------------------------------------------------------------------------


def _decide(ctx: click.Context, verb: str, request_id: str, comment: str | None, as_json: bool) -> None:
    want_json(ctx, as_json)
    inv = invocation(ctx)
    comment = _comment(comment, f"{verb} {request_id}", as_json)

    async def go(backend: Any) -> ChangeRequest:
        approvals = _ops(backend, ctx).approvals
        decide = {"approve": approvals.approve, "reject": approvals.reject, "cancel": approvals.cancel}[verb]
        return await decide(request_id, comment or "")

    request = run(with_backend(inv.profile, go))
    if as_json:
        emit_json({"changeRequest": _request_json(request)})
        return
    done = {"approve": "Approved", "reject": "Rejected", "cancel": "Cancelled"}[verb]
    say(
        f"{done} {clean(request.id)} ({clean(request.flag_key)} in {clean(request.environment)} -> "
        f"{clean(describe_change(request))}): now {request.status.value}, "
        f"{len(request.approvals)}/{request.required_approvals} approvals."
    )
    if request.status is RequestStatus.APPROVED:
        say(f"  apply it: flagops apply {clean(request.id)}")


@click.command()
@click.argument("request_id", metavar="ID")
@_comment_opt
@_json_opt
@click.pass_context
@handles_errors
def approve(ctx: click.Context, request_id: str, comment: str | None, as_json: bool) -> None:
    """Approve change request ID (never your own: four eyes are two people)."""
    _decide(ctx, "approve", request_id, comment, as_json)


@click.command()
@click.argument("request_id", metavar="ID")
@_comment_opt
@_json_opt
@click.pass_context
@handles_errors
def reject(ctx: click.Context, request_id: str, comment: str | None, as_json: bool) -> None:
    """Reject change request ID (one rejection ends it; the author withdraws with `cancel`)."""
    _decide(ctx, "reject", request_id, comment, as_json)


@click.command()
@click.argument("request_id", metavar="ID")
@_comment_opt
@_json_opt
@click.pass_context
@handles_errors
def cancel(ctx: click.Context, request_id: str, comment: str | None, as_json: bool) -> None:
    """Withdraw your own change request ID."""
    _decide(ctx, "cancel", request_id, comment, as_json)


@click.command(name="apply")
@click.argument("request_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask; required without a terminal.")
@_json_opt
@click.pass_context
@handles_errors
def apply_request(ctx: click.Context, request_id: str, yes: bool, as_json: bool) -> None:
    """Apply approved change request ID (refused if the flag changed since it was written)."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    interactive = stdin_is_tty() and stdout_is_tty() and not as_json
    if not yes and not interactive:
        raise Refused(f"Refusing to apply {request_id} without confirmation: pass --yes to confirm non-interactively.")

    async def go(backend: Any) -> AppliedRequest:
        ops = _ops(backend, ctx)
        approvals = ops.approvals
        ops.check_writable("apply", request_id)
        if not yes:
            request = await approvals.request(request_id)
            say(
                f"Apply {clean(request.id)}: {clean(request.flag_key)} in {clean(request.environment)} -> "
                f"{clean(describe_change(request))} (status {request.status.value}, "
                f"{len(request.approvals)}/{request.required_approvals} approvals)"
            )
            if not click.confirm("Apply?", default=False):
                raise Refused("Not confirmed. Nothing was changed.")
        return await approvals.apply_request(request_id)

    done = run(with_backend(inv.profile, go))
    request = done.request
    if as_json:
        from flagops.v1 import wire

        emit_json(
            {
                "changeRequest": _request_json(request),
                "state": wire.state_to_json(done.state),
                "confirmed": done.confirmed,
                "timeToEffect": done.time_to_effect,
            }
        )
    else:
        effect = (
            f"served after {done.time_to_effect:.2f}s"
            if done.confirmed and done.time_to_effect
            else "not yet confirmed"
        )
        say(
            f"Applied {clean(request.id)}: {clean(request.flag_key)} in {clean(request.environment)} is now "
            f"{'on' if done.state.enabled else 'off'}, rollout {done.state.rollout:g}% (version {done.state.version}); "
            f"{effect}."
        )
    if not done.confirmed:
        from flagops.cli.common import EXIT

        ctx.exit(EXIT.UNCONFIRMED)


@click.command()
@click.argument("review_id", metavar="REVIEW_ID")
@_comment_opt
@_json_opt
@click.pass_context
@handles_errors
def ack(ctx: click.Context, review_id: str, comment: str | None, as_json: bool) -> None:
    """Acknowledge break-glass review REVIEW_ID (someone other than the person who pulled the kill)."""
    want_json(ctx, as_json)
    inv = invocation(ctx)
    comment = _comment(comment, f"acknowledging {review_id}", as_json)

    async def go(backend: Any) -> Review:
        return await _ops(backend, ctx).approvals.acknowledge(review_id, comment or "")

    review = run(with_backend(inv.profile, go))
    if as_json:
        emit_json({"review": _review_json(review)})
        return
    say(
        f"Acknowledged {clean(review.id)}: the break-glass kill of {clean(review.flag_key)} in "
        f"{clean(review.environment)} by {clean(review.actor)} ({_when(review.at)})."
    )
