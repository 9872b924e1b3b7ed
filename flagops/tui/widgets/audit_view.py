"""Audit history as a person reads it: when, where, who, what changed (before -> after), and why.

Every value here came from the service, so it is drawn with Content(...) built from plain strings,
never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from textual.content import Content
from textual.widgets import Static

from flagops.model import AuditEntry
from flagops.tui import clock
from flagops.tui.safe_text import plain


def describe_state(state: Any) -> str:
    """A wire State snapshot in a few words: "on 25%", "off", "on 100% +2 rules"."""
    if not isinstance(state, dict):
        return "—"
    enabled = state.get("enabled")
    rollout = state.get("rollout")
    if enabled is False:
        words = "off"
    elif isinstance(rollout, (int, float)) and not isinstance(rollout, bool):
        words = f"on {rollout:g}%"
    else:
        words = "on"
    rules = state.get("rules")
    if isinstance(rules, list) and rules:
        words += f" +{len(rules)} rule{'s' if len(rules) != 1 else ''}"
    variant = state.get("defaultVariant")
    if isinstance(variant, str) and variant not in ("on", "true", ""):
        words += f" -> {plain(variant, 24)}"
    return words


def change_summary(entry: AuditEntry) -> str:
    """ "on 25% -> off" for updates and restores, the action itself otherwise."""
    if entry.before is None and entry.after is None:
        return entry.action.removeprefix("flag.")
    if entry.before is None:
        return f"created: {describe_state(entry.after)}"
    before, after = describe_state(entry.before), describe_state(entry.after)
    if before == after and isinstance(entry.before, dict) and isinstance(entry.after, dict):
        changed = sorted(
            k
            for k in set(entry.before) | set(entry.after)
            if k not in ("version", "updatedAt", "updatedBy") and entry.before.get(k) != entry.after.get(k)
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
