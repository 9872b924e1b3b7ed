"""ConsoleScreen: what every full screen of the console shares.

- the context header on top (profile, environment, [RO]/[RW], connection; widgets/header.py follows the
  live store by itself) and the footer at the bottom: subclasses compose only their body;
- `host`: the app as a ConsoleHost (flagops/tui/host.py), the one way a screen reaches the console;
- the keys that reach the other screens from anywhere: `d` dashboard, `b` runbooks, `t` timeline, `c`
  approvals, `?` keys, `g` go to a flag by key. A screen's own key for itself is hidden (check_action), and going to a
  screen that is already open further down goes back to it (the app's `go_to`) instead of stacking a
  second copy that would poll the service too.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.screen import Screen

from flagops.tui.host import ConsoleHost, Destination, console_host
from flagops.tui.screens.help_screen import HelpScreen
from flagops.tui.widgets.footer import ConsoleFooter
from flagops.tui.widgets.header import ConsoleHeader

NAVIGATION: list[BindingType] = [
    Binding("d", "go('dashboard')", "Dashboard", id="dashboard"),
    Binding("b", "go('runbooks')", "Runbooks", id="runbooks"),
    Binding("t", "go('timeline')", "Timeline", id="timeline"),
    Binding("question_mark", "help", "Keys", id="help"),
    Binding("g", "goto_flag", "Go to flag", id="goto", show=False),  # in `?` and the palette; 80 columns are full
    # also off the footer for the same reason; the header's badge names the key when something waits
    Binding("c", "go('approvals')", "Approvals", id="approvals", show=False),
]
NAVIGATION_KEYS = frozenset(b.key for b in NAVIGATION if isinstance(b, Binding))


class ConsoleScreen(Screen[None]):
    """A full console screen: header, body (`compose_body`), footer, and the navigation keys."""

    BINDINGS: ClassVar[list[BindingType]] = NAVIGATION

    DESTINATION: ClassVar[Destination | None] = None  # this screen's name for `go_to` (None: flags, detail)
    NARROW_HIDDEN: ClassVar[frozenset[str]] = frozenset()  # binding ids left out of an 80-column footer

    @classmethod
    def _merge_bindings(cls):  # type: ignore[no-untyped-def]
        """A screen's own keys first in the footer, the navigation keys shared by all screens after them."""
        keys = super()._merge_bindings().key_to_bindings
        ordered = {k: v for k, v in keys.items() if k not in NAVIGATION_KEYS} | {
            k: v for k, v in keys.items() if k in NAVIGATION_KEYS
        }
        return BindingsMap.from_keys(ordered)

    @property
    def host(self) -> ConsoleHost:
        """The console app this screen runs in (a TypeError in any other app)."""
        return console_host(self.app)

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(self.host)
        yield from self.compose_body()
        yield ConsoleFooter(self.NARROW_HIDDEN)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def palette_flag_key(self) -> str | None:
        """The flag this screen is about, if any: the palette then offers actions on it (palette.py)."""
        return None

    def reopen(self, select: str) -> None:
        """Shown again by `go_to` with something to select (only the runbooks screen has a selection)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "d" on the dashboard: hidden from footer and help, does nothing
        return not (action == "go" and parameters and parameters[0] == self.DESTINATION)

    def action_go(self, name: Destination) -> None:
        self.host.go_to(name)

    def action_goto_flag(self) -> None:
        self.host.goto_flag()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))
