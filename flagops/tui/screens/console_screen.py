"""ConsoleScreen: what every full screen of the console shares.

- the context header on top (profile, environment, [RO]/[RW], connection; widgets/header.py follows the
  live store by itself) and the footer at the bottom: subclasses compose only their body;
- the keys that reach the other screens from anywhere: `d` dashboard, `b` runbooks, `t` timeline, `c`
  approvals, `?` keys, `g` go to a flag by key. A screen's own key for itself is hidden (check_action),
  and going to a screen that is already open further down goes back to it instead of stacking a second
  copy that would poll the service too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.screen import Screen

from flagops.tui.widgets.footer import ConsoleFooter
from flagops.tui.widgets.header import ConsoleHeader

# name -> (module, class): imported when first visited (the flags screen starts without them)
DESTINATIONS = {
    "dashboard": ("flagops.tui.screens.dashboard_screen", "DashboardScreen"),
    "runbooks": ("flagops.tui.screens.runbooks_screen", "RunbooksScreen"),
    "timeline": ("flagops.tui.screens.timeline_screen", "TimelineScreen"),
    "approvals": ("flagops.tui.screens.approvals_screen", "ApprovalsScreen"),
}


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

    DESTINATION: ClassVar[str] = ""  # this screen's name in DESTINATIONS ("" for flags and detail)
    NARROW_HIDDEN: ClassVar[frozenset[str]] = frozenset()  # binding ids left out of an 80-column footer

    @classmethod
    def _merge_bindings(cls):  # type: ignore[no-untyped-def]
        """A screen's own keys first in the footer, the navigation keys shared by all screens after them."""
        keys = super()._merge_bindings().key_to_bindings
        ordered = {k: v for k, v in keys.items() if k not in NAVIGATION_KEYS} | {
            k: v for k, v in keys.items() if k in NAVIGATION_KEYS
        }
        return BindingsMap.from_keys(ordered)

    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield from self.compose_body()
        yield ConsoleFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "go" and parameters and parameters[0] == self.DESTINATION:
            return False  # "d" on the dashboard: hidden from footer and help, does nothing
        return True

    def action_go(self, name: str) -> None:
        go_to(self.app, name)

    def action_goto_flag(self) -> None:
        goto = getattr(self.app, "goto_flag", None)
        if goto is not None:
            goto()

    def action_help(self) -> None:
        from flagops.tui.screens.help_screen import HelpScreen

        self.app.push_screen(HelpScreen(self))


def go_to(app: Any, name: str, **kwargs: Any) -> None:
    """Show the screen `name`: back to it when it is open further down the stack, else push a new one."""
    import importlib

    module_name, class_name = DESTINATIONS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    stack = list(app.screen_stack)
    for depth, screen in enumerate(reversed(stack)):
        if isinstance(screen, cls):
            for _ in range(depth):
                app.pop_screen()
            if kwargs and hasattr(screen, "reopen"):
                screen.reopen(**kwargs)
            return
    app.push_screen(cls(**kwargs))
