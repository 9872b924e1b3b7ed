"""The runbook dialogs: start a run (reason, ticket, params) and confirm one step (or an undo).

Focus starts on Cancel and `esc` cancels, like every confirmation in the console. In a protected
environment the step dialog asks for the flag key (one flag) or the environment name (several) to be
typed. Everything shown came from a runbook or the API, so it is drawn as plain Content, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from flagops.errors import FlagOpsError
from flagops.runbooks.params import bind, parse_assignments
from flagops.runbooks.schema import ParamType, Runbook, show_value
from flagops.tui.safe_text import plain, plain_lines


@dataclass(frozen=True)
class StartRequest:
    reason: str
    ticket: str | None
    params: dict[str, str]


def default_params_text(runbook: Runbook) -> str:
    units = {ParamType.DURATION: "s"}
    return " ".join(
        f"{p.name}={show_value(p.default)}{units.get(p.type, '')}" for p in runbook.params if p.default is not None
    )


class RunbookStartModal(ModalScreen[StartRequest | None]):
    """Ask once for the run's reason (and ticket, params) before a runbook runs."""

    CSS_PATH = "runbooks.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="runbook_start_cancel")]

    def __init__(self, runbook: Runbook, min_reason_length: int) -> None:
        super().__init__(id="runbook-start-modal", classes="runbook-modal")
        self.runbook = runbook
        self.min_reason_length = min_reason_length

    def compose(self) -> ComposeResult:
        with Vertical(classes="runbook-dialog"):
            yield Label(Content(f"Run {plain(self.runbook.id, 64)}"), classes="runbook-dialog-title")
            yield Label(Content(plain(self.runbook.title, 120)), markup=False)
            yield Label(
                Content(f"Reason for the whole run (at least {self.min_reason_length} characters)"),
                classes="runbook-field-label",
            )
            yield Input(placeholder="why, for the audit log", id="runbook-reason", max_length=500)
            yield Label(Content("Ticket / incident (optional)"), classes="runbook-field-label")
            yield Input(placeholder="e.g. INC-123", id="runbook-ticket", max_length=100)
            yield Label(Content("Params (name=value, space separated)"), classes="runbook-field-label")
            yield Input(value=default_params_text(self.runbook), id="runbook-params", max_length=1000)
            yield Label("", id="runbook-start-message", markup=False)
            with Horizontal(classes="runbook-buttons"):
                yield Button("Cancel", id="runbook-start-cancel")
                yield Button("Run", id="runbook-start-run", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#runbook-start-cancel", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#runbook-start-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#runbook-start-run")
    def _run(self) -> None:
        reason = self.query_one("#runbook-reason", Input).value.strip()
        ticket = self.query_one("#runbook-ticket", Input).value.strip() or None
        message = self.query_one("#runbook-start-message", Label)
        if len(reason) < self.min_reason_length:
            message.update(Content(f"A reason of at least {self.min_reason_length} characters is required."))
            self.query_one("#runbook-reason", Input).focus()
            return
        try:
            params = parse_assignments(self.query_one("#runbook-params", Input).value.split())
            bind(self.runbook, params)
        except FlagOpsError as exc:
            message.update(Content(plain(exc.message, 200)))
            self.query_one("#runbook-params", Input).focus()
            return
        self.dismiss(StartRequest(reason, ticket, params))


class StepConfirmModal(ModalScreen[bool]):
    """Show what one step (or an undo) will change, and ask to apply it."""

    CSS_PATH = "runbooks.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="runbook_step_cancel")]

    def __init__(
        self, title: str, lines: list[str], *, typed: str | None = None, what: str = "", verb: str = "Apply"
    ) -> None:
        super().__init__(id="runbook-step-modal", classes="runbook-modal")
        self.title_text = title
        self.lines = lines
        self.typed = typed  # what must be typed (protected environment), or None
        self.what = what
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical(classes="runbook-dialog"):
            yield Label(Content(plain(self.title_text, 120)), classes="runbook-dialog-title")
            with VerticalScroll(id="runbook-step-changes"):
                yield Static(Content(plain_lines("\n".join(self.lines), 4000)), markup=False)
            if self.typed is not None:
                yield Label(
                    Content(f"Protected environment: type {self.what} to confirm"),
                    classes="runbook-field-label protected",
                )
                yield Input(placeholder=self.what, id="runbook-typed", max_length=300)
            with Horizontal(classes="runbook-buttons"):
                yield Button("Cancel", id="runbook-step-cancel")
                yield Button(self.verb, id="runbook-step-apply", variant="error", disabled=self.typed is not None)

    def on_mount(self) -> None:
        self.query_one("#runbook-step-cancel", Button).focus()

    @on(Input.Changed, "#runbook-typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#runbook-step-apply", Button).disabled = event.value.strip() != self.typed

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#runbook-step-cancel")
    def _cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#runbook-step-apply")
    def _apply(self) -> None:
        self.dismiss(True)
