"""Audit history as a person reads it: when, where, who, what changed (before -> after), and why.

Every value here came from the service, so it is drawn with Content(...) built from plain strings,
never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from flagops.model import AuditEntry, FlagState
from flagops.tui import clock
from flagops.tui.safe_text import plain


def describe_state(state: FlagState | None) -> str:
    """A state snapshot in a few words: "on 25%", "off", "on 100% +2 rules"."""
    if state is None:
        return "—"
    words = f"on {state.rollout:g}%" if state.enabled else "off"
    if state.rules:
        words += f" +{len(state.rules)} rule{'s' if len(state.rules) != 1 else ''}"
    if state.default_variant not in ("on", "true", ""):
        words += f" -> {plain(state.default_variant, 24)}"
    return words


# what a change that leaves the few words alone may have changed, by the names the audit log uses
_QUIET_FIELDS = (
    ("enabled", "enabled"),
    ("rollout", "rollout"),
    ("rules", "rules"),
    ("default_variant", "defaultVariant"),
    ("off_variant", "offVariant"),
)


def change_summary(entry: AuditEntry) -> str:
    """ "on 25% -> off" for updates and restores, the action itself otherwise."""
    if entry.before is None and entry.after is None:
        return entry.action.removeprefix("flag.")
    if entry.before is None:
        return f"created: {describe_state(entry.after)}"
    before, after = describe_state(entry.before), describe_state(entry.after)
    if before == after and entry.after is not None:
        changed = sorted(
            name for field, name in _QUIET_FIELDS if getattr(entry.before, field) != getattr(entry.after, field)
        )
        return f"{before} (changed: {', '.join(changed)})" if changed else before
    return f"{before} -> {after}"


def _when(at: datetime) -> str:
    return clock.when(at)  # a time today, with the date otherwise


def audit_lines(entries: Sequence[AuditEntry], *, show_flag: bool = False) -> Content:
    """Two lines per entry: the change, then the reason (and ticket, and runbook origin)."""
    if not entries:
        return Content("no changes recorded")
    parts: list[Content | str | tuple[str, str]] = []
    for i, entry in enumerate(entries):
        if i:
            parts.append("\n")
        parts.append((_when(entry.at), "dim"))
        parts.append("  ")
        if show_flag:
            parts.append((plain(entry.flag_key, 40), "bold"))
            parts.append("  ")
        parts.append((plain(entry.environment or "all", 12), "$accent"))
        parts.append("  ")
        parts.append(plain(entry.actor, 24))
        parts.append("  ")
        action = entry.action.removeprefix("flag.")
        parts.append((action, "italic"))
        parts.append("  ")
        parts.append((change_summary(entry), "bold"))
        parts.append("\n    why: ")
        parts.append(plain(entry.reason, 300) if entry.reason else ("(no reason recorded)", "dim"))
        if entry.ticket:
            parts.append("  ticket: ")
            parts.append(plain(entry.ticket, 40))
        if entry.origin is not None and entry.origin.runbook:
            parts.append("  runbook: ")
            parts.append(plain(entry.origin.runbook, 40))
            if entry.origin.step is not None:
                parts.append(f" step {entry.origin.step}")
    return Content.assemble(*parts)


class AuditView(Static):
    """Newest-first audit history of one flag (or of an environment, with `show_flag=True`)."""

    DEFAULT_CSS = """
    AuditView { height: auto; }
    """

    def __init__(self, *, show_flag: bool = False, id: str | None = None) -> None:
        super().__init__("loading audit…", id=id, markup=False)
        self.show_flag = show_flag

    def show(self, entries: Sequence[AuditEntry]) -> None:
        self.update(audit_lines(entries, show_flag=self.show_flag))

    def show_problem(self, message: str) -> None:
        self.update(Content(plain(message, 300)))
