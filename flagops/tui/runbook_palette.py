"""Runbooks in the ctrl+p palette: "runbooks" opens the runbooks screen; "runbook: ID" opens it on one.

Registered in flagops/tui/palette.py (one line). Runbook ids and titles are untrusted text: hits are built
as Content from plain strings; `help` (parsed as markup by Textual) only holds our own fixed text.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.screen import Screen
from textual.style import Style

from flagops.runbooks.catalog import runbook_catalog
from flagops.tui.host import console_host
from flagops.tui.safe_text import plain, safe_highlight

HELP = "Open the runbooks screen on this runbook: plan, run, undo"


def open_runbooks(app: object, select: str | None = None) -> None:
    console_host(app).go_to("runbooks", select=select)


class RunbooksProvider(Provider):
    def __init__(self, screen: Screen[Any], match_style: Style | None = None) -> None:
        super().__init__(screen, match_style)
        self.entries: list[tuple[str, str | None]] = []  # (hit text, runbook id), filled by startup

    async def startup(self) -> None:
        runbooks_dir = console_host(self.app).profile.runbooks_dir
        catalog = await asyncio.to_thread(runbook_catalog, runbooks_dir)
        self.entries = [
            (f"runbook: {plain(rb.id, 64)}  {plain(rb.title, 60)}", rb.id)
            for rb in sorted(catalog.runbooks.values(), key=lambda rb: rb.id)
        ]

    def _commands(self) -> list[tuple[str, str | None]]:
        return [("runbooks", None), *self.entries]

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            Content("runbooks"),
            partial(open_runbooks, self.app),
            text="runbooks",
            help="Every runbook: plan, run, undo",
        )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, ident in self._commands():
            score, display = safe_highlight(text, query, matcher)
            if score > 0:
                yield Hit(
                    score,
                    display,
                    partial(open_runbooks, self.app, ident),
                    text=text,
                    help=HELP if ident else "Every runbook: plan, run, undo",
                )
