"""ConsoleFooter: Textual's footer, made to fit 80 columns.

Below `NARROW_BELOW` columns it is compact, drops the keys a screen lists in `NARROW_HIDDEN` (binding
ids; they stay in `?` help) and the palette hint (`?` lists ctrl+p too), and shortens a few long labels,
so that the keys that matter in an incident — the screen's own actions, `d`, `?` and `q` — stay visible.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW_BELOW = 100
SHORT_LABELS = {"Dashboard": "Dash"}


class ConsoleFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._narrow: bool | None = None

    def _is_narrow(self) -> bool:
        return self.app.size.width < NARROW_BELOW

    def compose(self) -> ComposeResult:
        narrow = self._is_narrow()
        self._narrow = narrow
        self.compact = narrow
        self.show_command_palette = not narrow
        if not narrow:
            yield from super().compose()
            return
        hidden = self._hidden_actions()
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                if widget.action in hidden:
                    continue
                widget.description = SHORT_LABELS.get(widget.description, widget.description)
            yield widget

    def _hidden_actions(self) -> set[str]:
        ids = set(getattr(self.screen, "NARROW_HIDDEN", ()))
        return {active.binding.action for active in self.screen.active_bindings.values()
                if active.binding.id in ids}

    def on_resize(self, event: Resize) -> None:
        if self._narrow is not None and self._is_narrow() != self._narrow:
            self.call_after_refresh(self.recompose)
