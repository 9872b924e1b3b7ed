"""`g`: go to a flag by its key. An exact key opens it; anything else says there is no such flag and
offers the closest keys (flagops.suggest.did_you_mean, the same answer the CLI gives), one `enter` away.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from flagops.suggest import did_you_mean
from flagops.tui.safe_text import plain


def unknown_flag_message(key: str, environment: str, suggestions: list[str]) -> str:
    """What the dialog says about a key that is not there; the suggestions themselves are listed below it."""
    text = f"No flag {plain(key, 80, note=False)!r} in {plain(environment, 30, note=False)}."
    if suggestions:
        text += " Did you mean one of these? (enter opens it)"
    else:
        text += " No flag has a similar key."
    return text


class GoToFlagModal(ModalScreen[str | None]):
    """Type a flag key; enter opens it, or lists the keys it was probably meant to be."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="goto.cancel")]

    def __init__(self, keys: Any, environment: str, typed: str = "") -> None:
        super().__init__(id="goto-modal")
        self.keys = keys  # the store's flags mapping (read, not copied)
        self.environment = environment
        self.typed = typed

    def compose(self) -> ComposeResult:
        with Vertical(id="goto-dialog"):
            yield Label("Go to flag (enter opens, esc cancels)", id="goto-title", markup=False)
            yield Input(value=self.typed, placeholder="flag key", id="goto-key", max_length=400)
            yield Label("", id="goto-message", markup=False)
            yield OptionList(id="goto-suggestions")  # hidden (TCSS) until there are suggestions

    def on_mount(self) -> None:
        # the dialog's children may mount after the screen's own Mount event: start once they are there
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self.query_one(Input).focus()
        if self.typed:
            self._submit(self.typed)

    @on(Input.Submitted, "#goto-key")
    def _submitted(self, event: Input.Submitted) -> None:
        self._submit(event.value)

    def _submit(self, value: str) -> None:
        key = value.strip()
        if not key:
            return
        if key in self.keys:
            self.dismiss(key)
            return
        suggestions = did_you_mean(key, self.keys)
        self.query_one("#goto-message", Label).update(Content(unknown_flag_message(key, self.environment, suggestions)))
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(Content(plain(s, 120)), id=s) for s in suggestions])
        options.display = bool(suggestions)
        if suggestions:
            options.highlighted = 0
            options.focus()

    @on(OptionList.OptionSelected, "#goto-suggestions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
