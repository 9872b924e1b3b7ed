"""The flags screen: every flag of the environment, live, searchable, sortable; actions on the cursor row.

Rows live in the virtual FlagTable; this screen decides which keys and in what order (search.py does the
matching), and forwards live updates to the table so only changed visible lines repaint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from flagops.model import Environment, Flag
from flagops.tui import clock
from flagops.tui.host import ActionKind
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.widgets.flag_table import FlagTable, fit_middle, printable

SORTS = ("relevance", "error rate", "last change")
WRITE_BINDING_IDS = frozenset({"kill", "rollout", "rollback"})
RESORT_SECONDS = 2.0  # order-changing sorts are re-applied at most this often, never per update


class FlagsScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="search"),
        Binding("escape", "clear_search", "Clear", id="clear_search", show=False),
        Binding("enter", "open", "Open", id="open"),
        Binding("k", "kill", "Kill", id="kill"),
        Binding("percent_sign", "rollout", "Rollout", id="rollout"),
        Binding("u", "rollback", "Rollback", id="rollback"),
        Binding("s", "cycle_sort", "Sort", id="sort"),
        Binding("v", "pick_environment", "Env", id="environment"),
        # while typing in the search box (which has no use for them): move through the results without
        # leaving it; the table's own up/down win when it has focus
        Binding("down", "results_down", "Next result", id="results_down", show=False),
        Binding("up", "results_up", "Previous result", id="results_up", show=False),
    ]

    NARROW_HIDDEN = frozenset({"sort", "environment"})

    def __init__(self) -> None:
        super().__init__(id="flags-screen")
        self.query_text = ""
        self.sort = SORTS[0]
        self._dirty = False
        if self.host.readonly:
            # read-only removes the write actions: not in the footer, help or palette, keys do nothing
            self._bindings = BindingsMap.from_keys(
                {
                    key: kept
                    for key, bindings in self._bindings.key_to_bindings.items()
                    if (kept := [b for b in bindings if b.id not in WRITE_BINDING_IDS])
                }
            )

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="search: words, tag:x owner:y state:on|off stale  (esc clears)", id="search")
        yield FlagTable(self.host.store, id="flags")
        yield Label("Loading flags…", id="status", markup=False)

    def on_mount(self) -> None:
        store = self.host.store
        store.on_flags(self._on_flags_changed)
        store.on_reload(self._on_reload)
        self.query_one("#search", Input).display = False
        self.query_one(FlagTable).focus()
        self.set_interval(RESORT_SECONDS, self._resort_if_dirty)
        if store.loaded:
            self._on_reload()

    def on_resize(self) -> None:
        self.call_after_refresh(self.host.check_size)

    # -- live data --------------------------------------------------------------------------------------

    def _on_reload(self) -> None:
        self.apply_query()

    def _on_flags_changed(self, keys: set[str]) -> None:
        table = self.query_one(FlagTable)
        table.refresh_keys(keys)
        if table.cursor_key in keys:
            self._show_cursor_flag(table.cursor_key)
        self._dirty = True

    def _resort_if_dirty(self) -> None:
        # Only order-changing views need it: a state or error rate change may move rows or filter them.
        if self._dirty and (self.sort != "relevance" or ":" in self.query_text or "stale" in self.query_text):
            self.apply_query()
        self._dirty = False

    # -- the query --------------------------------------------------------------------------------------

    def apply_query(self, *, keep_cursor: bool = True) -> None:
        """Run the search and sort; hand the table the resulting keys (a list, not widgets).

        Live updates keep the cursor on its flag; a new query or sort starts at the best match.
        """
        store = self.host.store
        table = self.query_one(FlagTable)
        if not store.loaded:
            table.set_rows([])
            return
        flags = store.search(self.query_text)
        if self.sort == "error rate":
            metrics = store.metrics

            def error_key(flag: Flag) -> float:
                m = metrics.get(flag.key)
                return -(m.error_rate if m is not None and m.error_rate is not None else -1.0)

            flags = sorted(flags, key=error_key)
        elif self.sort == "last change":
            env = store.environment
            epoch = datetime.min.replace(tzinfo=UTC)

            def change_key(flag: Flag) -> datetime:
                state = flag.state(env)
                return state.updated_at or epoch if state is not None else epoch

            flags = sorted(flags, key=change_key, reverse=True)
        table.set_rows([flag.key for flag in flags], keep_cursor=keep_cursor)
        self._update_status(len(flags))

    def _update_status(self, shown: int) -> None:
        total = len(self.host.store.flags)
        text = f"{shown:,} of {total:,} flags" if self.query_text else f"{total:,} flags"
        if self.query_text:
            text += f" matching {printable(self.query_text, 60)!r}"
        if self.sort != SORTS[0] or self.size.width >= 100:  # the default sort is not worth a narrow line
            text += f" · sort: {self.sort}"
        key = self.query_one(FlagTable).cursor_key
        if key is not None:
            # the line is one row: cut the key in the middle rather than lose who changed it and when
            room = self.size.width - 2 - len(text) - 3
            text += " · " + self._flag_summary(key, room)
        self.query_one("#status", Label).update(text)

    def _flag_summary(self, key: str, room: int) -> str:
        """The highlighted flag's key, version, when and by whom it last changed, fitted to `room` cells:
        the key shrinks (in the middle) to 16 cells first, then "by whom" goes, then the version."""
        flag = self.host.store.get(key)
        state = flag.state(self.host.store.environment) if flag is not None else None
        shown_key = printable(key, 60)
        tails = [""]
        if state is not None:
            when = clock.when(state.updated_at)
            who = printable(state.updated_by or "?", 30)
            tails = [f" v{state.version} · {when} by {who}", f" v{state.version} · {when}", f" · {when}", ""]
        for tail in tails:
            if room - len(tail) >= min(16, len(shown_key)):
                break
        width = max(min(16, len(shown_key)), min(len(shown_key), room - len(tail)))
        return fit_middle(shown_key, width).rstrip() + tail

    def _show_cursor_flag(self, key: str | None) -> None:
        table = self.query_one(FlagTable)
        shown = len(table.keys)
        self._update_status(shown)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if event.value == self.query_text:
            return  # set by clear_search, already applied
        self.query_text = event.value
        self.apply_query(keep_cursor=False)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.query_one(FlagTable).focus()

    @on(FlagTable.Highlighted)
    def _highlighted(self, event: FlagTable.Highlighted) -> None:
        self._show_cursor_flag(event.key)

    @on(FlagTable.Selected)
    def _selected(self, event: FlagTable.Selected) -> None:
        self.host.open_flag(event.key)

    @on(FlagTable.VisibleRowsChanged)
    def _visible(self, event: FlagTable.VisibleRowsChanged) -> None:
        self.host.error_rates.set_visible(event.keys)

    # -- actions ----------------------------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        had_query = bool(self.query_text)
        self.query_text = ""
        search.value = ""
        search.display = False
        self.query_one(FlagTable).focus()
        if had_query:
            self.apply_query()  # the cursor stays on the flag found, now among all flags

    def action_results_down(self) -> None:
        self.query_one(FlagTable).action_cursor_down()

    def action_results_up(self) -> None:
        self.query_one(FlagTable).action_cursor_up()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.apply_query(keep_cursor=False)
        self.notify(f"Sorted by {self.sort}", timeout=2)

    def palette_flag_key(self) -> str | None:
        """The flag the palette's actions apply to (palette.py asks the screen)."""
        return self.query_one(FlagTable).cursor_key

    def action_open(self) -> None:
        key = self.query_one(FlagTable).cursor_key
        if key is not None:
            self.host.open_flag(key)

    def _act(self, kind: ActionKind) -> None:
        key = self.query_one(FlagTable).cursor_key
        if key is None:
            self.notify("No flag selected.", severity="warning")
            return
        self.host.start_action(kind, key)

    def action_kill(self) -> None:
        self._act("kill")

    def action_rollout(self) -> None:
        self._act("rollout")

    def action_rollback(self) -> None:
        self._act("rollback")

    def action_pick_environment(self) -> None:
        host = self.host

        def chosen(environment: str | None) -> None:
            if environment is not None and environment != host.environment:
                host.switch_environment(environment)

        self.app.push_screen(EnvironmentModal(host.environments, host.environment), chosen)


class EnvironmentModal(ModalScreen[str | None]):
    """Pick the environment to look at; protected ones are marked."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel")]

    def __init__(self, environments: list[Environment], current: str) -> None:
        super().__init__(id="environment-modal")
        self.environments = environments
        self.current = current

    def compose(self) -> ComposeResult:
        yield Label("Switch environment (enter picks, esc cancels)", id="environment-title", markup=False)
        options = []
        for env in self.environments:
            marks = (" PROTECTED" if env.protected else "") + (" (current)" if env.key == self.current else "")
            options.append(Option(Content(printable(f"{env.key}  {env.name}{marks}", 80)), id=env.key))
        yield OptionList(*options, id="environment-list")

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        keys = [env.key for env in self.environments]
        if self.current in keys:
            option_list.highlighted = keys.index(self.current)
        option_list.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
