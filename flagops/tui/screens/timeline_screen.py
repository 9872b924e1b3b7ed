"""The incident timeline in the console (`t`): every flag change of a recent window, newest first.

The same timeline as `flagops timeline` (flagops/timeline.py builds it): who, what (before -> after,
versions), why, ticket, the runbook run and step it belonged to, and the changed flag's error rate in the
five minutes before and after. `w` changes the window, `a` switches between this environment and all of
them, `enter` opens the highlighted change's flag. It reloads every few seconds while it is open.
Everything shown came from the service, so it is built as Content from plain strings, never markup.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from flagops import numfmt
from flagops.errors import FlagOpsError
from flagops.timeline import Timeline, TimelineChange, build_timeline, origin_text
from flagops.tui import clock
from flagops.tui.safe_text import plain
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.widgets.flag_table import fit_middle

WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("15 min", timedelta(minutes=15)),
    ("1 h", timedelta(hours=1)),
    ("2 h", timedelta(hours=2)),
    ("24 h", timedelta(hours=24)),
)
DEFAULT_WINDOW = 2  # 2 h, as `flagops timeline` defaults to
REFRESH_SECONDS = 10.0


def change_content(change: TimelineChange, width: int) -> Content:
    """Three lines that each fit `width` cells (so 80 columns never wrap into a ragged left edge):
    when, flag, environment and effect; who and why; error rate before -> after and the runbook run.
    The key is cut in the middle when the first line is too long (keys differ at their end); the other
    lines are cut at the end (the full reason is in the flag's audit history, `enter`)."""
    e = change.entry
    when = f"{clock.when(e.at)}  "
    env = "  " + plain(e.environment or "all", 12, note=False)
    effect = f"  {change.summary}"
    key = plain(e.flag_key, 200, note=False)
    room = width - len(when) - len(env) - len(effect)
    first = Content.assemble(
        (when, "dim"), (fit_middle(key, max(16, room)).rstrip(), "bold"), (env, "$accent"), (effect, "bold")
    )
    who: list[str | tuple[str, str]] = ["    by ", plain(e.actor, 30, note=False), ": "]
    who.append(plain(e.reason, 300, note=False) if e.reason else ("(no reason recorded)", "dim"))
    if e.ticket:
        who += ["  ticket ", plain(e.ticket, 40, note=False)]
    rate = change.rate
    rose = rate.before is not None and rate.after is not None and rate.after > rate.before * 1.5 + 0.005
    third: list[str | tuple[str, str]] = [
        ("    error rate ", "dim"),
        f"{numfmt.rate(rate.before, none='n/a')} -> ",
        (numfmt.rate(rate.after, none="n/a"), "bold $error" if rose else ""),
    ]
    origin = origin_text(change)  # "runbook run ID step n", as `flagops timeline` writes it
    if origin:  # before the note: where a change came from matters more than how long "after" was
        third.append(f"  runbook {plain(origin, 100, note=False)}")
    if rate.after is not None and len(rate.after_by_variant) > 1:  # is the new path the one failing?
        third.append(
            "  by variant after: "
            + ", ".join(
                f"{plain(v, 20, note=False)} {numfmt.rate(r)}" for v, r in list(rate.after_by_variant.items())[:4]
            )
        )
    if rate.note:
        third.append((f"  ({plain(rate.note, 80, note=False)})", "dim"))
    lines = [first, Content.assemble(*who), Content.assemble(*third)]
    return Content("\n").join(line.truncate(width, ellipsis=True) for line in lines)


class TimelineScreen(ConsoleScreen):
    """What changed, who did it and why, and what the error rate did next."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="timeline.back"),
        Binding("w", "next_window", "Window", id="timeline.window"),
        Binding("a", "toggle_environments", "All envs", id="timeline.environments"),
        Binding("r", "refresh", "Refresh", id="timeline.refresh"),
    ]
    DESTINATION = "timeline"
    CSS_PATH = "screens.tcss"

    def __init__(self) -> None:
        super().__init__(id="timeline-screen")
        self.window = DEFAULT_WINDOW
        self.all_environments = False
        self.timeline: Timeline | None = None
        self.problem: str | None = None
        self._drawn_width = 0

    def compose_body(self) -> ComposeResult:
        yield Label("Flag changes: loading…", id="timeline-title", markup=False)
        yield OptionList(id="timeline-list")
        yield Label("", id="timeline-status", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)

    def _environment(self) -> str | None:
        return None if self.all_environments else self.host.environment or None

    @work(exclusive=True, group="timeline", exit_on_error=False)
    async def load(self) -> None:
        now = clock.utcnow()
        label, span = WINDOWS[self.window]
        environment = self._environment()
        try:
            timeline = await build_timeline(self.host.backend, now - span, environment, now=now)
        except FlagOpsError as exc:
            self.problem = plain(exc.message, 300)
            self._show_status()
            return
        self.problem = None
        if (label, environment) != (WINDOWS[self.window][0], self._environment()):
            return  # the window or environment changed while this was loading; its own load follows
        self.timeline = timeline
        self._show(timeline)

    def _show(self, timeline: Timeline) -> None:
        label = WINDOWS[self.window][0]
        where = f"in {plain(timeline.environment, 30)}" if timeline.environment else "in every environment"
        runs = len(timeline.runs())
        title = f"Flag changes {where}, last {label} (newest first): {len(timeline.changes)}"
        if runs:
            title += f", {runs} from runbook runs"
        if timeline.created:
            title += f"; {timeline.created} flag(s) created (not listed)"
        self.query_one("#timeline-title", Label).update(Content(title))
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        previous = (
            options.get_option_at_index(highlighted).id if highlighted is not None and options.option_count else None
        )
        changes = list(reversed(timeline.changes))
        options.clear_options()
        width = max(40, options.scrollable_content_region.width or self.size.width - 4)
        self._drawn_width = width
        options.add_options([Option(change_content(c, width), id=str(c.entry.sequence)) for c in changes])
        ids = [str(c.entry.sequence) for c in changes]
        if changes:
            options.highlighted = ids.index(previous) if previous in ids else 0
        self._show_status()

    def _show_status(self) -> None:
        parts = []
        if self.problem:
            parts.append(f"Could not load the timeline: {self.problem}")
        elif self.timeline is not None and not self.timeline.changes:
            parts.append("No flag changes in this window (w: a longer one).")
        if self.timeline is not None and self.timeline.truncated:
            parts.append("Only the newest 1000 audit entries were read.")
        if self.timeline is not None and self.timeline.changes:
            parts.append("enter: open the flag")
        self.query_one("#timeline-status", Label).update(Content(" · ".join(parts)))

    def on_resize(self) -> None:
        # the lines are cut to the width: draw them again for the new one
        if self.timeline is not None:
            self.call_after_refresh(self._redraw_if_resized)

    def _redraw_if_resized(self) -> None:
        options = self.query_one(OptionList)
        if self.timeline is not None and options.scrollable_content_region.width != self._drawn_width:
            self._show(self.timeline)

    @on(OptionList.OptionSelected, "#timeline-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if self.timeline is None:
            return
        for change in self.timeline.changes:
            if str(change.entry.sequence) == event.option.id:
                self.host.open_flag(change.entry.flag_key)
                return

    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self.load()

    def action_next_window(self) -> None:
        self.window = (self.window + 1) % len(WINDOWS)
        self.query_one("#timeline-title", Label).update(
            Content(f"Flag changes, last {WINDOWS[self.window][0]}: loading…")
        )
        self.load()

    def action_toggle_environments(self) -> None:
        self.all_environments = not self.all_environments
        self.load()
