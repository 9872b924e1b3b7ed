"""The console header: profile, environment (protected ones stand out), [RO]/[RW], connection state.

Each part is its own Label so the TCSS can colour it by class (`.protected`, `.readonly`, `.live`,
`.reconnecting`, `.stale`). Values come from config and the API, so Labels are built with markup off.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label

from flagops.model import Environment
from flagops.tui.live import ConnectionState, Link
from flagops.tui.widgets.flag_table import printable


class ConsoleHeader(Horizontal):
    DEFAULT_CSS = """
    ConsoleHeader {
        height: 1;
        dock: top;
        background: $panel;
    }
    ConsoleHeader > Label { padding: 0 1; }
    ConsoleHeader > #header-title { text-style: bold; color: $primary; }
    ConsoleHeader > #header-spacer { width: 1fr; padding: 0; }
    """

    def __init__(self, profile: str, environment: Environment | None, readonly: bool) -> None:
        super().__init__()
        self._profile = profile
        self._environment = environment
        self._readonly = readonly

    def compose(self) -> ComposeResult:
        yield Label("flagops", id="header-title", markup=False)
        yield Label(f"profile {printable(self._profile, 40)}", id="header-profile", markup=False)
        yield Label("", id="header-env", markup=False)
        yield Label("", id="header-mode", markup=False)
        yield Label("", id="header-spacer", markup=False)
        yield Label("connecting", id="header-connection", classes="connecting", markup=False)

    def on_mount(self) -> None:
        self.set_environment(self._environment)
        mode = self.query_one("#header-mode", Label)
        mode.update("[RO]" if self._readonly else "[RW]")
        mode.set_class(self._readonly, "readonly")
        mode.set_class(not self._readonly, "readwrite")

    def set_environment(self, environment: Environment | None) -> None:
        self._environment = environment
        label = self.query_one("#header-env", Label)
        if environment is None:
            label.update("env …")
            label.remove_class("protected")
            return
        name = printable(environment.key, 40)
        label.update(f"env {name} PROTECTED" if environment.protected else f"env {name}")
        label.set_class(environment.protected, "protected")

    def set_connection(self, state: ConnectionState) -> None:
        label = self.query_one("#header-connection", Label)
        symbol = {Link.LIVE: "●", Link.RECONNECTING: "◌", Link.STALE: "✖", Link.CONNECTING: "◌",
                  Link.FAILED: "✖"}[state.link]
        label.update(f"{symbol} {state.label()}")
        for link in Link:
            label.set_class(state.link is link, link.value)
        if state.error and state.link is not Link.LIVE:
            label.tooltip = Content(printable(state.error, 200))  # a str tooltip would be parsed as markup
