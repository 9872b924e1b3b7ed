"""`?`: every key that works on the screen underneath, as bound right now (remaps included).

Built from that screen's active bindings (its focused widget, the screen, the app), so it cannot drift
from what the keys really do. Actions a read-only session removed do not appear. Each line also shows the
binding id, which is what a profile's `keys:` setting uses to remap it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from flagops.tui.safe_text import plain

# keys Textual binds on every app that people still ask about
GLOBAL_KEYS: tuple[tuple[str, str], ...] = (
    ("^p", "command palette: flags, actions, screens, runbooks, themes"),
    ("tab / shift+tab", "move focus"),
)


def _description(binding: Binding) -> str:
    if binding.description:
        return binding.description
    return binding.action.split("(")[0].replace("_", " ")


def key_lines(screen: Screen[Any]) -> list[tuple[str, str, str, str]]:
    """(where, key, what, binding id) for every active binding of `screen`, in chain order."""
    app = screen.app
    rows: list[tuple[str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system:
            continue
        where = "this screen" if active.node is screen else "everywhere" if active.node is app else "the focused panel"
        shown = app.get_key_display(binding) or key
        what = _description(binding)
        if (shown, what) in seen:
            continue
        seen.add((shown, what))
        rows.append((where, shown, what, binding.id or ""))
    order = {"this screen": 0, "everywhere": 1, "the focused panel": 2}
    # stable sort: ours (with ids, remappable) first in each group, Textual's generic ones after
    rows.sort(key=lambda row: (order[row[0]], not row[3]))
    return rows


class HelpScreen(ModalScreen[None]):
    """Every key, grouped by where it applies; esc / ? / q closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    CSS_PATH = "screens.tcss"  # detail, dashboard and help styles, in one file

    def __init__(self, for_screen: Screen[Any]) -> None:
        super().__init__()
        self.for_screen = for_screen

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Keys (esc closes)", id="help-title", markup=False)
            yield Static(self._body(), id="help-keys", markup=False)

    def _body(self) -> Content:
        rows = key_lines(self.for_screen)
        parts: list[str | tuple[str, str]] = []
        current = None
        for where, key, what, binding_id in rows:
            if where != current:
                current = where
                parts.append((f"\n{where}\n", "bold $accent"))
            parts.append((f"  {plain(key, 18):<18}", "bold"))
            parts.append(f" {plain(what, 50)}")
            if binding_id:
                parts.append((f"  [{plain(binding_id, 30)}]", "dim"))
            parts.append("\n")
        shown = {key for _, key, _, _ in rows}
        extra = [(key, what) for key, what in GLOBAL_KEYS if key not in shown]
        if extra:
            parts.append(("\nalso\n", "bold $accent"))
        for key, what in extra:
            parts.append((f"  {key:<18}", "bold"))
            parts.append(f" {what}\n")
        parts.append(("\nRemap a key in your profile: keys: {<id>: <key>}, e.g. keys: {kill: K}", "dim"))
        return Content.assemble(*parts)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
