"""The sign-off dialog of the approvals screen: approve, reject, acknowledge (with a comment) and apply.

Like the action modal: it repeats the target and the effect, focus starts on Cancel, `esc` cancels,
`enter` in a field moves on and never confirms by itself. A comment follows the reason rule of every
write (ops.refuse_bad_reason: required, at least the profile's minimum, 8 by default); the dialog says
what is missing and puts the cursor there. Applying in a protected environment asks for the typed flag
key, as every other write there does. The dialog only collects; the screen does the write through ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from flagops.errors import Refused
from flagops.ops import refuse_bad_reason
from flagops.tui.safe_text import plain


@dataclass(frozen=True)
class SignOff:
    """What the dialog asks for."""

    title: str  # our own words: "Approve change request"
    verb: str  # the confirm button: "Approve"
    lines: tuple[str, ...]  # target and effect (untrusted parts already made plain)
    min_comment: int | None  # None: no comment asked (apply)
    typed_key: str | None = None  # the flag key to type (protected environment), or None
    danger: bool = False  # the confirm button in the error colour (reject)


class CommentModal(ModalScreen[str | None]):
    """Returns the comment ("" when none was asked for), or None when cancelled."""

    CSS_PATH = "approvals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="signoff.cancel")]

    def __init__(self, ask: SignOff) -> None:
        super().__init__(id="signoff-modal")
        self.ask = ask

    def compose(self) -> ComposeResult:
        ask = self.ask
        with Vertical(id="signoff-dialog"):
            yield Label(ask.title, id="signoff-title", markup=False)
            for n, line in enumerate(ask.lines):
                yield Label(line, id=f"signoff-line-{n}", classes="signoff-line", markup=False)
            if ask.min_comment is not None:
                yield Label(
                    f"Comment (required, at least {ask.min_comment} characters; goes into the audit log)",
                    classes="signoff-field-label",
                    markup=False,
                )
                yield Input(placeholder="why", id="signoff-comment", max_length=500)
            if ask.typed_key is not None:
                yield Label(
                    f"Protected environment: to confirm, type the flag key\n{plain(ask.typed_key, 300)}",
                    classes="signoff-field-label",
                    markup=False,
                )
                yield Input(placeholder="type the flag key", id="signoff-typed-key", max_length=1000)
            yield Label("", id="signoff-message", markup=False)
            with Horizontal(id="signoff-buttons"):
                yield Button("Cancel", id="signoff-cancel", variant="default")
                yield Button(ask.verb, id="signoff-confirm", variant="error" if ask.danger else "primary")

    def on_mount(self) -> None:
        self.call_after_refresh(self.query_one("#signoff-cancel", Button).focus)

    def _problem(self) -> tuple[str, str] | None:
        """(field id, what is wrong) for the first field that blocks confirming."""
        if self.ask.min_comment is not None:
            comment = self.query_one("#signoff-comment", Input).value
            try:
                refuse_bad_reason(comment, self.ask.min_comment)
            except Refused:
                typed = len(comment.strip())
                return (
                    "signoff-comment",
                    f"A comment is required: at least {self.ask.min_comment} characters ({typed} typed).",
                )
        typed_key = self.ask.typed_key
        if typed_key is not None and self.query_one("#signoff-typed-key", Input).value.strip() != typed_key:
            return "signoff-typed-key", "The typed key does not match the flag key."
        return None

    @on(Button.Pressed, "#signoff-confirm")
    def _confirm(self) -> None:
        problem = self._problem()
        if problem is not None:
            field, text = problem
            label = self.query_one("#signoff-message", Label)
            label.update(text)
            label.add_class("error")
            self.query_one(f"#{field}", Input).focus()
            return
        comment = self.query_one("#signoff-comment", Input).value.strip() if self.ask.min_comment is not None else ""
        self.dismiss(comment)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Input.Changed)
    def _changed(self) -> None:
        label = self.query_one("#signoff-message", Label)
        if label.has_class("error") and self._problem() is None:
            label.update("")
            label.remove_class("error")

    @on(Button.Pressed, "#signoff-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
