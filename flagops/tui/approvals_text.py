"""How a change request and a break-glass review read in the console (approvals screen, header badge).

Everything here came from the service (flag keys, reasons, comments, actor names), so it is built as
Content from `plain` strings: Rich markup stays text and ANSI escapes show as `\\x1b`. Lines are cut to
the width given, so 80 columns never wrap into a ragged left edge.
"""

from __future__ import annotations

from datetime import datetime

from textual.content import Content

from flagops import timefmt
from flagops.approvals import not_enforced_note
from flagops.governance import ChangeRequest, RequestStatus, Review
from flagops.model import FlagState
from flagops.ops import describe_state
from flagops.tui.safe_text import plain

NOT_SUPPORTED = "The {backend} backend has no change requests: nothing here can wait for approval."


def not_enforced_banner(backend_name: str) -> str:
    """The ops core's sentence (flagops.approvals.not_enforced_note), and what it means for the person."""
    note = not_enforced_note(backend_name)
    return f"{note[:1].upper()}{note[1:]}: changes apply at once, nobody signs off."


def until(at: datetime, now: datetime) -> str:
    """ "in 23h", "in 4m"; "expired" once past."""
    seconds = (at - now).total_seconds()
    if seconds <= 0:
        return "expired"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"in {int(seconds // size)}{unit}"
    return f"in {int(seconds)}s"


def change_text(cr: ChangeRequest, current: FlagState | None) -> str:
    """before -> after as the approvers will sign it: against the flag's state when it is still at the
    version the request was written against, else the fields alone (and the screen says it moved)."""
    if cr.restore_to_version is not None:
        base = f"{describe_state(current)} -> " if current is not None else ""
        return f"{base}restore v{cr.restore_to_version}"
    change = cr.change
    if change is None:
        return "no change"
    if current is not None and current.version == cr.base_version:
        after = current.with_changes(change)
        text = f"{describe_state(current)} -> {describe_state(after)}"
        if change.rules is not None and change.rules != current.rules:
            text += f", rules {len(current.rules)} -> {len(change.rules)}"
        if change.default_variant is not None and change.default_variant != current.default_variant:
            text += f", serves {plain(change.default_variant, 20, note=False)}"
        return text
    parts = []
    if change.enabled is not None:
        parts.append("on" if change.enabled else "off")
    if change.rollout is not None:
        parts.append(f"rollout {change.rollout:g}%")
    if change.rules is not None:
        parts.append(f"{len(change.rules)} rule(s)")
    if change.default_variant is not None:
        parts.append(f"serves {plain(change.default_variant, 20, note=False)}")
    return "set " + ", ".join(parts) if parts else "no change"


def moved_since(cr: ChangeRequest, current: FlagState | None) -> bool:
    return current is not None and current.version != cr.base_version


def status_text(cr: ChangeRequest, now: datetime) -> tuple[str, str]:
    """(words, style) for the request's state: approvals n/N, ready to apply, expired."""
    if cr.status.is_open and cr.expires_at <= now:
        return "expired", "bold $error"
    if cr.status is RequestStatus.APPROVED:
        return f"approved {len(cr.approvals)}/{cr.required_approvals}: ready to apply", "bold $success"
    if cr.status is RequestStatus.PENDING:
        return f"approvals {len(cr.approvals)}/{cr.required_approvals}", "bold $warning"
    return cr.status.value, "dim"


def request_content(cr: ChangeRequest, current: FlagState | None, now: datetime, width: int) -> Content:
    """Three or more lines: what and where; who, when, expiry and why; the verdicts so far."""
    words, style = status_text(cr, now)
    first = Content.assemble(
        (f"{plain(cr.id, 16, note=False)}  ", "dim"),
        (plain(cr.flag_key, 60, note=False), "bold"),
        ("  " + plain(cr.environment, 12, note=False), "$accent"),
        ("  " + change_text(cr, current), "bold"),
        ("  " + words, style),
    )
    who: list[str | tuple[str, str]] = [
        "    by ",
        plain(cr.author, 30, note=False),
        (f", {timefmt.ago(cr.created_at, now)}, expires {until(cr.expires_at, now)}", "dim"),
        ": ",
        plain(cr.reason, 300, note=False),
    ]
    if cr.ticket:
        who += ["  ticket ", plain(cr.ticket, 40, note=False)]
    lines = [first, Content.assemble(*who)]
    if moved_since(cr, current):
        assert current is not None
        lines.append(
            Content.assemble(
                (
                    f"    the flag moved since: v{cr.base_version} -> v{current.version} "
                    "(approve/apply are refused; ask for a new request)",
                    "$error",
                )
            )
        )
    for verdict in cr.verdicts:
        mark, mark_style = ("✔ approved", "$success") if verdict.approve else ("✖ rejected", "$error")
        lines.append(
            Content.assemble(
                ("    " + mark, mark_style),
                f" by {plain(verdict.actor, 30, note=False)}: ",
                plain(verdict.comment, 300, note=False),
            )
        )
    return Content("\n").join(line.truncate(width, ellipsis=True) for line in lines)


def review_content(review: Review, now: datetime, width: int) -> Content:
    first = Content.assemble(
        (f"{plain(review.id, 16, note=False)}  ", "dim"),
        ("break-glass kill of ", "bold $error"),
        (plain(review.flag_key, 60, note=False), "bold"),
        ("  " + plain(review.environment, 12, note=False), "$accent"),
        ("  open: someone else must acknowledge", "bold $warning"),
    )
    second = Content.assemble(
        "    by ",
        plain(review.actor, 30, note=False),
        (f", {timefmt.ago(review.at, now)}", "dim"),
        ": ",
        plain(review.reason, 300, note=False),
    )
    return Content("\n").join(line.truncate(width, ellipsis=True) for line in (first, second))


def badge_text(open_reviews: int, pending: int, room: int = 1000) -> str:
    """The header's reminder ("" when nothing waits), in the longest form that fits `room` cells: open
    reviews first (they stay until acknowledged), then requests to approve, then the key that shows them."""
    if not open_reviews and not pending:
        return ""
    reviews = f"{open_reviews} review{'s' if open_reviews != 1 else ''}" if open_reviews else ""
    forms = [
        " · ".join(p for p in (f"{reviews} open" if reviews else "", f"{pending} to approve" if pending else "") if p)
        + " (c)",
        " · ".join(p for p in (reviews, f"{pending} CR" if pending else "") if p),
        f"{open_reviews + pending} (c)",
        f"{open_reviews + pending}",
    ]
    return next((f"⚑ {form}" for form in forms if len(form) + 2 <= room), "⚑")
