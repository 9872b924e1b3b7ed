"""ctrl+p command palette providers: flags, actions, themes.

Context dependent: the actions offered depend on the screen the palette was opened from. A screen that
is "about" one flag (the detail screen, or the flags screen with a row highlighted) exposes it through a
`palette_flag_key() -> str | None` method, and the palette then offers kill / rollout / rollback for
that flag; read-only sessions get no write actions at all.

Flag keys and names are untrusted: hits are built as Content from plain strings, and the fuzzy match is
highlighted by offsets on that Content. (Textual's `Matcher.highlight` parses its input as markup, so it
is not used here; `Hit.help` is parsed as markup too, so it only ever holds our own fixed text.)

App.py registers them with `COMMANDS = App.COMMANDS | PALETTE_PROVIDERS`. They reach the console through
`console_host(self.app)` (flagops/tui/host.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider, SearchIcon
from textual.content import Content
from textual.screen import Screen

from flagops.model import Flag
from flagops.tui.host import Destination, console_host
from flagops.tui.runbook_palette import RunbooksProvider  # runbooks in the palette (owned by runbooks)
from flagops.tui.safe_text import plain, safe_highlight
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.screens.help_screen import HelpScreen

MAX_FLAG_HITS = 30
PROMPT = ">"  # Textual's magnifier emoji is a box (or two cells of garbage) on many terminals and fonts


class ConsolePalette(CommandPalette):
    """Textual's command palette with a prompt that renders on every terminal."""

    def on_mount(self) -> None:
        self.query_one(SearchIcon).icon = PROMPT


CONTEXT_BOOST = 0.05
DESTINATIONS: tuple[tuple[Destination, str], ...] = (
    ("dashboard", "Flags ranked by error rate and recent change, live change feed"),
    ("timeline", "Every flag change of the last hours: who, why, error rate after"),
    ("runbooks", "Every runbook: plan, run, undo"),
    ("approvals", "Change requests waiting for approval, open break-glass reviews"),
)


def context_flag_key(screen: Screen[Any]) -> str | None:
    """The flag the screen the palette was opened from is about (ConsoleScreen.palette_flag_key)."""
    key = screen.palette_flag_key() if isinstance(screen, ConsoleScreen) else None
    return key or None


class FlagsProvider(Provider):
    """Open any flag of the current environment by fuzzy key / name."""

    def _candidates(self, query: str) -> list[Flag]:
        # ask the index for a page, not 50,000 flags per keystroke
        return console_host(self.app).store.index.search(query, limit=MAX_FLAG_HITS * 4)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        found = 0
        for flag in self._candidates(query):
            label = plain(flag.key, 120)
            score, display = safe_highlight(label, query, matcher)
            if score <= 0:
                name_score = matcher.fuzzy_search.match(query, plain(flag.name, 120))[0]
                if name_score <= 0:
                    continue
                score = name_score * 0.8
            found += 1
            yield Hit(
                score,
                Content.assemble("open flag ", display),
                partial(console_host(self.app).open_flag, flag.key),
                text=f"open flag {label}",
            )
        goto = console_host(self.app).goto_flag
        typed = query.strip()
        if not found and len(typed) >= 3:
            # no flag matches what was typed: offer to look it up, which answers with "did you mean"
            text = f"go to flag {plain(typed, 80)!r}"
            yield Hit(0.01, Content(text), partial(goto, typed), text=text)


class ActionsProvider(Provider):
    """What can be done here: actions on the flag in context, then console-wide actions."""

    def _commands(self) -> Iterable[tuple[str, Callable[[], Any], str]]:
        host = console_host(self.app)
        key = context_flag_key(self.screen)
        if key is not None:
            label = plain(key, 80)
            yield f"open {label}", partial(host.open_flag, key), "Flag detail: state, rules, charts, audit"
            if not host.readonly:
                start = host.start_action
                yield f"kill {label}", partial(start, "kill", key), "Turn the flag off in this environment"
                yield f"set rollout of {label}", partial(start, "rollout", key), "Change the rollout percentage"
                yield f"roll back {label}", partial(start, "rollback", key), "Restore the previous version"
        screen = self.screen
        here = screen.DESTINATION if isinstance(screen, ConsoleScreen) else None
        for name, what in DESTINATIONS:
            if name != here:
                yield f"open {name}", partial(host.go_to, name), what
        yield "go to flag by key", host.goto_flag, 'Type a key; a mistyped one gets "did you mean"'
        yield "show keys", partial(self.app.push_screen, HelpScreen(screen)), "Every key on this screen"
        for env in host.environments:
            if env.key != host.environment:
                yield (
                    f"switch to environment {plain(env.key, 40)}",
                    partial(host.switch_environment, env.key),
                    "protected" if env.protected else "Show this environment's flags",
                )

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(Content(text), command, text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score, display = safe_highlight(text, query, matcher)
            if score > 0:
                # what can be done here ranks above equally good matches elsewhere (and the order is stable)
                yield Hit(min(1.0, score + CONTEXT_BOOST), display, command, text=text, help=help_text)


class ThemesProvider(Provider):
    """Switch theme for this session (a profile's `theme:` sets the default)."""

    def _themes(self) -> list[str]:
        return sorted(self.app.available_themes)

    def _set(self, name: str) -> None:
        self.app.theme = name

    async def discover(self) -> Hits:
        for name in self._themes():
            text = f"theme: {plain(name, 60)}"
            yield DiscoveryHit(Content(text), partial(self._set, name), text=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name in self._themes():
            text = f"theme: {plain(name, 60)}"
            score, display = safe_highlight(text, query, matcher)
            if score > 0:
                yield Hit(score, display, partial(self._set, name), text=text)


PALETTE_PROVIDERS: set[type[Provider] | Callable[[], type[Provider]]] = {
    FlagsProvider,
    ActionsProvider,
    ThemesProvider,
    RunbooksProvider,
}
