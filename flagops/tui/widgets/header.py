"""The console header: profile, environment (protected ones stand out), [RO]/[RW], connection state.

Every full screen shows it (screens/console_screen.py composes it and hands it the console host), and
each one follows the host's live store by itself: it subscribes on mount and unsubscribes on unmount, so
a screen cannot forget to update it (the runbooks screen once said "connecting" forever) and a closed
screen is never called back.

Each part is its own Label so the TCSS can colour it by class (`.protected`, `.readonly`, `.live`,
`.reconnecting`, `.stale`). Values come from config and the API, so Labels are built with markup off.
While break-glass reviews are open or requests wait for approval, a badge says so (and names the
approvals key) on every screen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label

from flagops.model import Environment
from flagops.tui.approvals_text import badge_text
from flagops.tui.host import ConsoleHost
from flagops.tui.live.connection import ConnectionState, Link
from flagops.tui.widgets.flag_table import printable

BADGE_AND_SPACER = ("header-governance", "header-spacer")
SYMBOLS = {Link.LIVE: "●", Link.RECONNECTING: "◌", Link.STALE: "✖", Link.CONNECTING: "◌", Link.FAILED: "✖"}


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
    ConsoleHeader > #header-governance { color: $warning; text-style: bold; display: none; }
    ConsoleHeader > #header-governance.-shown { display: block; }
    """

    def __init__(self, host: ConsoleHost) -> None:
        super().__init__()
        self.host = host

    def compose(self) -> ComposeResult:
        yield Label("flagops", id="header-title", markup=False)
        yield Label(f"profile {printable(self.host.profile.name, 40)}", id="header-profile", markup=False)
        yield Label("", id="header-env", markup=False)
        yield Label("", id="header-mode", markup=False)
        yield Label("", id="header-spacer", markup=False)
        yield Label("", id="header-governance", markup=False)  # open reviews / requests to approve
        yield Label("connecting", id="header-connection", classes="connecting", markup=False)

    def on_mount(self) -> None:
        readonly = self.host.readonly
        mode = self.query_one("#header-mode", Label)
        mode.update("[RO]" if readonly else "[RW]")
        mode.set_class(readonly, "readonly")
        mode.set_class(not readonly, "readwrite")
        self._show_environment()
        store = self.host.store
        store.on_connection(self.set_connection)
        store.on_reload(self._show_environment)  # an environment switch reloads the store
        self.set_connection(store.connection)
        self.host.governance.on_change(self._show_governance)
        self._show_governance()

    def on_unmount(self) -> None:
        self.host.store.remove_listener(self.set_connection)
        self.host.store.remove_listener(self._show_environment)
        self.host.governance.remove_listener(self._show_governance)

    def _show_environment(self) -> None:
        self.set_environment(self.host.current_environment())

    def _show_governance(self) -> None:
        """Open break-glass reviews stay in sight on every screen until someone acknowledges them."""
        governance = self.host.governance
        label = self.query_one("#header-governance", Label)
        # what the other parts leave (each has one cell of padding either side): never push "live" off
        used = sum(len(str(part.content)) + 2 for part in self.query(Label) if part.id not in BADGE_AND_SPACER)
        room = self.app.size.width - used - 2
        text = badge_text(len(governance.reviews), governance.pending_count(), room)
        label.update(text)
        label.set_class(bool(text), "-shown")

    def on_resize(self) -> None:
        self._show_governance()

    def set_environment(self, environment: Environment | None) -> None:
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
        label.update(f"{SYMBOLS[state.link]} {state.label()}")
        for link in Link:
            label.set_class(state.link is link, link.value)
        self._show_governance()  # the connection text's length changed: the badge may fit more or less
        if state.error and state.link is not Link.LIVE:
            label.tooltip = Content(printable(state.error, 200))  # a str tooltip would be parsed as markup
        else:
            label.tooltip = None
