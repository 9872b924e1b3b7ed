"""FlagTable: a virtual table of flags that renders only the rows on screen.

Textual's DataTable builds every row up front (7-12 s for 50,000 flags on a small machine, blocking input
meanwhile). This is a Line API widget instead: it holds an ordered list of keys and, for each visible line,
looks the flag and its metrics up in the LiveFlags store and renders that one row. Setting 50,000 rows is
a list assignment; a live update repaints only the lines of the flags that changed, and only if visible.

Text from the API (keys, owners) goes into Segments after `printable()` (safe_text.plain), never through
markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from flagops.model import Flag
from flagops.tui.live.store import FlagMetrics, LiveFlags
from flagops.tui.safe_text import plain

SPARKS = "▁▂▃▄▅▆▇█"
ERROR_WARN = 0.01  # error rate at or above this is shown as a warning
ERROR_BAD = 0.05  # ... and at or above this as bad


def printable(text: str, limit: int = 400) -> str:
    """Untrusted text as one inert line (safe_text.plain: escapes and bidi controls made visible, cut)."""
    return plain(text, limit)


def fit(text: str, width: int) -> str:
    """Pad or cut `text` to exactly `width` cells, with an ellipsis when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


def sparkline(values: Sequence[float], width: int) -> str:
    """One scale for every row (charts.TREND_BANDS), so 0.3 % and 5 % never look alike."""
    from flagops.tui.widgets.charts import trend_sparkline

    return trend_sparkline(values, width)


def fit_middle(text: str, width: int) -> str:
    """Pad or cut `text` to `width` cells, cutting from the middle: flag keys differ at the end
    (`checkout-coupon-stacking-beta` / `-eu` / `-killswitch`), so the end is kept."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    if width < 8:
        return fit(text, width)
    tail = (width - 1) // 2
    head = width - 1 - tail
    end = text[-tail:]
    while cell_len(end) > tail:  # wide characters: cut by cells, not by code points
        end = end[1:]
    return set_cell_size(set_cell_size(text, head) + "…" + end, width)


@dataclass(frozen=True)
class Column:
    """A table column. `minimum` is the narrowest it is shown at, `ideal` what it gets when there is room;
    `priority` orders who gets space (0 first: always shown; higher numbers are dropped first)."""

    name: str
    title: str
    minimum: int
    ideal: int
    priority: int
    right: bool = False


KEY_MINIMUM = 20
KEY_COMFORT = 36  # the key grows to this before optional columns are added: a key is worth more than a stage
KEY_IDEAL_CAP = 60
COLUMNS = (
    Column("key", "FLAG", KEY_MINIMUM, KEY_MINIMUM, 0),
    Column("state", "STATE", 5, 5, 0),
    Column("rollout", "ROLL", 5, 5, 0, right=True),
    Column("error", "ERR%", 5, 5, 0, right=True),
    Column("trend", "TREND", 6, 10, 1),
    Column("owner", "OWNER", 8, 16, 2),
    Column("stage", "STAGE", 10, 10, 3),
    Column("stale", "", 5, 5, 4),
)


def layout_columns(width: int, longest_key: int) -> list[tuple[Column, int]]:
    """Which columns fit in `width` cells and how wide each is, k9s-style.

    The essentials (key, state, rollout, error rate) are always there; the key then grows to a
    comfortable width; optional columns are added by priority at their minimum width while they fit;
    what is left widens the key up to its longest value, then the trend and owner up to their ideal,
    and the rest goes to the key. Every column is followed by one space.
    """
    key_ideal = max(KEY_MINIMUM, min(KEY_IDEAL_CAP, longest_key))
    widths = {c.name: c.minimum for c in COLUMNS if c.priority == 0}
    free = width - sum(w + 1 for w in widths.values())

    def grow(name: str, target: int) -> None:
        nonlocal free
        extra = max(0, min(free, target - widths[name]))
        widths[name] += extra
        free -= extra

    grow("key", min(key_ideal, KEY_COMFORT))
    for column in sorted((c for c in COLUMNS if c.priority), key=lambda c: c.priority):
        if column.minimum + 1 <= free:
            widths[column.name] = column.minimum
            free -= column.minimum + 1
    grow("key", key_ideal)
    for name in ("trend", "owner"):
        if name in widths:
            grow(name, next(c.ideal for c in COLUMNS if c.name == name))
    widths["key"] += max(0, free)
    return [(c, widths[c.name]) for c in COLUMNS if c.name in widths]


class FlagTable(ScrollView, can_focus=True):
    """Flags in the order given by `set_rows`; the cursor row is the flag actions apply to."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up_rows", "Page up", show=False),
        Binding("pagedown", "page_down_rows", "Page down", show=False),
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
        Binding("enter", "select_row", "Open", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "flag-table--header",
        "flag-table--cursor",
        "flag-table--on",
        "flag-table--off",
        "flag-table--error-ok",
        "flag-table--error-warn",
        "flag-table--error-bad",
        "flag-table--muted",
        "flag-table--stale",
    }

    DEFAULT_CSS = """
    FlagTable {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
    }
    FlagTable > .flag-table--header { text-style: bold; background: $panel; }
    FlagTable > .flag-table--cursor { background: $accent 40%; }
    FlagTable:focus > .flag-table--cursor { background: $accent; color: $text; }
    FlagTable > .flag-table--on { color: $success; text-style: bold; }
    FlagTable > .flag-table--off { color: $text-muted; }
    FlagTable > .flag-table--error-ok { color: $success; }
    FlagTable > .flag-table--error-warn { color: $warning; text-style: bold; }
    FlagTable > .flag-table--error-bad { color: $error; text-style: bold reverse; }
    FlagTable > .flag-table--muted { color: $text-muted; }
    FlagTable > .flag-table--stale { color: $warning; }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True)
    """Index of the highlighted row in the current order."""

    class Highlighted(Message):
        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    class Selected(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class VisibleRowsChanged(Message):
        def __init__(self, keys: list[str]) -> None:
            super().__init__()
            self.keys = keys

    def __init__(self, store: LiveFlags, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.store = store
        self.keys: list[str] = []
        self._longest_key = 0  # how wide the key column would like to be
        self._longest_of = -1  # the number of flags _longest_key was measured over
        self._last_visible: list[str] = []
        self._now = datetime.now(UTC)

    # -- rows ----------------------------------------------------------------------------------------

    def set_rows(self, keys: list[str], *, keep_cursor: bool = True) -> None:
        """Show `keys` in this order. Keeps the cursor on the same flag when it is still there."""
        current = self.cursor_key if keep_cursor else None
        self.keys = keys
        if len(self.store.flags) != self._longest_of:
            # of every flag, not of the rows shown: the columns must not shift while a search is typed
            self._longest_of = len(self.store.flags)
            self._longest_key = max(map(len, self.store.flags), default=0)
        self._now = datetime.now(UTC)
        self.virtual_size = Size(self.size.width, len(keys) + 1)
        row = 0
        if current is not None and len(keys) < 200_000:
            try:
                row = keys.index(current)
            except ValueError:
                row = 0
        self.cursor_row = min(row, max(0, len(keys) - 1))
        self._scroll_cursor_into_view()
        self.refresh()
        self._report_visible()

    def refresh_keys(self, changed: set[str]) -> None:
        """Repaint only the visible lines whose flag changed (live updates land here)."""
        first = int(self.scroll_y)
        for row in range(first, min(len(self.keys), first + self._page_rows())):
            if self.keys[row] in changed:
                self.refresh_line(row + 1)

    @property
    def cursor_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self.keys):
            return self.keys[self.cursor_row]
        return None

    def move_to(self, key: str) -> bool:
        try:
            self.cursor_row = self.keys.index(key)
        except ValueError:
            return False
        self._scroll_cursor_into_view()
        return True

    def visible_keys(self) -> list[str]:
        first = int(self.scroll_y)
        return self.keys[first : first + self._page_rows()]

    # -- cursor and scrolling ---------------------------------------------------------------------------

    def _page_rows(self) -> int:
        return max(1, self.size.height - 1)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self.post_message(self.Highlighted(self.cursor_key))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        rows = self._page_rows()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False)

    def _move(self, delta: int) -> None:
        if self.keys:
            self.cursor_row = max(0, min(len(self.keys) - 1, self.cursor_row + delta))
            self._scroll_cursor_into_view()

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up_rows(self) -> None:
        self._move(-self._page_rows())

    def action_page_down_rows(self) -> None:
        self._move(self._page_rows())

    def action_first_row(self) -> None:
        self._move(-len(self.keys))

    def action_last_row(self) -> None:
        self._move(len(self.keys))

    def action_select_row(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Selected(self.cursor_key))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._report_visible()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.keys) + 1)
        self._report_visible()

    def _report_visible(self) -> None:
        visible = self.visible_keys()
        if visible != self._last_visible:
            self._last_visible = visible
            self.post_message(self.VisibleRowsChanged(visible))

    # -- rendering --------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._render_header(width, base)
        row = int(self.scroll_y) + y - 1
        if row >= len(self.keys):
            return Strip.blank(width, base)
        return self._render_row(row, width, base)

    def _layout(self, width: int) -> list[tuple[Column, int]]:
        return layout_columns(width - 1, self._longest_key)  # one leading space

    def _render_header(self, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("flag-table--header")
        text = " ".join((c.title.rjust(w) if c.right else c.title.ljust(w))[:w] for c, w in self._layout(width))
        return Strip([Segment(fit(" " + text, width), style)], width)

    def _render_row(self, row: int, width: int, base: Style) -> Strip:
        key = self.keys[row]
        flag = self.store.flags.get(key)
        metrics = self.store.metrics.get(key)
        style = self.get_component_rich_style
        cursor = style("flag-table--cursor") if row == self.cursor_row else None
        line_style = base + cursor if cursor is not None else base
        layout = self._layout(width)
        cells = self._cells(key, flag, metrics, trend_width={c.name: w for c, w in layout}.get("trend", 0))
        segments: list[Segment] = [Segment(" ", line_style)]
        for column, w in layout:
            text, component = cells[column.name]
            cell_style = line_style + style(component) if component else line_style
            if cursor is not None:
                cell_style += cursor  # the cursor row reads as one bar; colours return when it moves
            if column.name == "key":
                cell = fit_middle(text, w)
            else:
                cell = fit(text, w) if not column.right else fit(text.rjust(w), w)
            segments.append(Segment(cell, cell_style))
            segments.append(Segment(" ", line_style))
        strip = Strip(segments)
        return strip.crop_extend(0, width, line_style)

    def _cells(
        self, key: str, flag: Flag | None, metrics: FlagMetrics | None, *, trend_width: int
    ) -> dict[str, tuple[str, str]]:
        state = flag.state(self.store.environment) if flag is not None else None
        if state is None:
            power, rollout = ("?", "flag-table--muted"), ("", "")
        elif state.enabled:
            power, rollout = ("on", "flag-table--on"), (f"{state.rollout:g}%", "")
        else:
            power, rollout = ("off", "flag-table--off"), (f"{state.rollout:g}%", "flag-table--muted")
        if metrics is None:
            error, trend = ("…", "flag-table--muted"), ("", "")
        elif metrics.error_rate is None:
            error, trend = ("n/a", "flag-table--muted"), ("", "")
        elif metrics.evaluations_per_minute == 0:
            error, trend = ("-", "flag-table--muted"), ("", "")  # no traffic: no rate to speak of
        else:
            component = error_component(metrics.error_rate)
            error = (f"{metrics.error_rate * 100:.1f}", component)
            trend = (sparkline(metrics.trend, trend_width), component)
        owner = printable(flag.owner) if flag is not None else ""
        stage = flag.stage.value if flag is not None else ""
        stale = ("stale", "flag-table--stale") if flag is not None and flag.is_stale(self._now) else ("", "")
        return {
            "key": (printable(key), ""),
            "state": power,
            "rollout": rollout,
            "error": error,
            "trend": trend,
            "owner": (owner, "flag-table--muted"),
            "stage": (stage, "flag-table--muted" if stage != "active" else ""),
            "stale": stale,
        }


def error_component(rate: float) -> str:
    if rate >= ERROR_BAD:
        return "flag-table--error-bad"
    if rate >= ERROR_WARN:
        return "flag-table--error-warn"
    return "flag-table--error-ok"
