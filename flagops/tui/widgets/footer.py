"""ConsoleFooter: Textual's footer, made to fit the terminal instead of running off its right edge.

Textual's footer cuts whatever does not fit, which at 80 columns was `d`, `?` and `q`. This one tries,
in order, until the keys fit the width: the normal footer; compact; without the palette hint (`?`
lists ctrl+p too); without the keys the screen names in `narrow_hidden` (binding ids; they stay in
`?` help); with a few long labels shortened. So the keys that matter in an incident — the screen's own
actions, `d`, `?` and `q` — stay visible.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

SHORT_LABELS = {"Dashboard": "Dash"}
PALETTE_WIDTH = 14  # " ^p palette " plus its border


def _width(key: FooterKey, compact: bool, label: str) -> int:
    if compact:
        return len(key.key_display) + 1 + len(label) + 1  # key, space, label; margin-right 1
    return len(key.key_display) + 2 + len(label) + 1  # padded key, label with right padding


class ConsoleFooter(Footer):
    def __init__(self, narrow_hidden: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.narrow_hidden = narrow_hidden  # binding ids left out first when the keys do not fit
        self._laid_out_for = -1

    def compose(self) -> ComposeResult:
        width = self.app.size.width
        self._laid_out_for = width
        self.show_command_palette = True
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        palette = [w for w in widgets if isinstance(w, FooterKey) and w.has_class("-command-palette")]
        others = [w for w in widgets if not isinstance(w, FooterKey)]
        hidden = self._hidden_actions()
        plans = (  # (compact, with the palette hint, drop narrow_hidden, short labels)
            (False, True, False, False),
            (True, True, False, False),
            (True, False, False, False),
            (True, False, True, False),
            (True, False, True, True),
        )
        for compact, with_palette, drop, short in plans:
            shown = [k for k in keys if not (drop and k.action in hidden)]
            labels = [SHORT_LABELS.get(k.description, k.description) if short else k.description for k in shown]
            used = sum(_width(k, compact, label) for k, label in zip(shown, labels, strict=True))
            used += PALETTE_WIDTH if with_palette and palette else 0
            if used <= width:
                break
        self.compact = compact
        for key, label in zip(shown, labels, strict=True):
            key.description = label
        result: list[Widget] = [*others, *shown, *(palette if with_palette else [])]
        yield from result

    def _hidden_actions(self) -> set[str]:
        return {
            active.binding.action
            for active in self.screen.active_bindings.values()
            if active.binding.id in self.narrow_hidden
        }

    def on_resize(self, event: Resize) -> None:
        if self._laid_out_for >= 0 and self.app.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
