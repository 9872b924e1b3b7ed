"""SVG snapshots of every console screen (pytest-textual-snapshot), against fixed data.

The pictures live in tests/tui/__snapshots__/test_snapshots/. After an intended visual change, look at
the new pictures, then accept them with:

    .venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update

The real console (FlagOpsApp) runs against `FixedBackend` (see fixed_backend.py for why snapshots, and
only snapshots, do not use the real service), with the clock pinned and times shown in UTC.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixed_backend import INCIDENT, NOW, FixedBackend
from textual.command import CommandInput, CommandPalette
from textual.pilot import Pilot

from flagops.config import Profile
from flagops.tui.app import FlagOpsApp

Snap = Callable[..., bool]


@pytest.fixture(autouse=True)
def pinned_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Pin what the pictures depend on besides the data: the clock, the time zone, themes, runbooks."""
    from flagops.runbooks import catalog
    from flagops.tui import clock
    from flagops.tui.screens import dashboard_screen

    monkeypatch.setattr(dashboard_screen, "utcnow", lambda: NOW)
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    monkeypatch.setenv("FLAGOPS_THEME_DIR", os.devnull)  # only the shipped themes
    # the repo's runbooks change as examples are added; the pictures should not
    monkeypatch.setattr(catalog, "shipped_dir", lambda: None)
    monkeypatch.setenv("FLAGOPS_RUNBOOKS_DIR", str(tmp_path))
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz
    time.tzset()


def console(*, readonly: bool = False, theme: str | None = None, error_metrics: bool = True) -> FlagOpsApp:
    profile = Profile(name="snapshots", url="http://fixed.invalid", environment="prod", readonly=readonly, theme=theme)
    return FlagOpsApp(profile, FixedBackend(error_metrics=error_metrics))  # type: ignore[arg-type]


async def until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("the console did not reach the expected state")


async def loaded(pilot: Pilot[Any]) -> None:
    app: Any = pilot.app
    await until(pilot, lambda: app.store.loaded and len(app.store.metrics) >= len(app.store.flags))
    await pilot.pause(0.2)


async def open_detail(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    app: Any = pilot.app
    app.open_flag(INCIDENT)
    await until(pilot, lambda: getattr(app.screen, "flag", None) is not None)
    await until(pilot, lambda: "evaluations" in str(app.screen.query_one("#chart-summary").render()))
    await until(pilot, lambda: "deploy-bot" in str(app.screen.query_one("#detail-audit").render()))


async def open_dashboard(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    app: Any = pilot.app
    await pilot.press("d")
    await until(pilot, lambda: bool(getattr(app.screen, "rises", None)))


def test_flags_screen(snap_compare: Snap) -> None:
    assert snap_compare(console(), terminal_size=(120, 30), run_before=loaded)


def test_flags_screen_readonly_80x24(snap_compare: Snap) -> None:
    assert snap_compare(console(readonly=True), terminal_size=(80, 24), run_before=loaded)


def test_detail_screen(snap_compare: Snap) -> None:
    assert snap_compare(console(), terminal_size=(120, 40), run_before=open_detail)


def test_detail_screen_80x24(snap_compare: Snap) -> None:
    assert snap_compare(console(), terminal_size=(80, 24), run_before=open_detail)


def test_detail_screen_without_error_source(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await open_detail(pilot)
        await until(
            pilot, lambda: "no error source configured" in str(pilot.app.screen.query_one(".no-error-source").render())
        )

    assert snap_compare(console(error_metrics=False), terminal_size=(100, 30), run_before=before)


def test_dashboard(snap_compare: Snap) -> None:
    assert snap_compare(console(), terminal_size=(120, 36), run_before=open_dashboard)


def test_dashboard_80x24(snap_compare: Snap) -> None:
    assert snap_compare(console(), terminal_size=(80, 24), run_before=open_dashboard)


def test_help(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(console(), terminal_size=(100, 40), run_before=before)


def test_palette_in_detail_context(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await open_detail(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: CommandPalette.is_open(pilot.app))
        pilot.app.screen.query_one(CommandInput).cursor_blink = False  # a blinking cursor is a coin toss
        await pilot.pause(0.3)
        await pilot.press(*"kill")
        await pilot.pause(1.0)

    assert snap_compare(console(), terminal_size=(100, 30), run_before=before)


def test_kill_modal(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await open_detail(pilot)
        await pilot.press("k")
        await pilot.pause(0.5)

    assert snap_compare(console(), terminal_size=(100, 30), run_before=before)


@pytest.mark.parametrize("theme", ["high-contrast", "ansi-16"])
def test_themes(snap_compare: Snap, theme: str) -> None:
    assert snap_compare(console(theme=theme), terminal_size=(100, 24), run_before=loaded)


def test_terminal_too_small(snap_compare: Snap) -> None:
    assert snap_compare(console(), terminal_size=(50, 12), run_before=lambda pilot: pilot.pause(0.3))


# -- issue 15: 80 columns, every screen with its header, the runbooks and timeline screens, dialogs ---------

BOTH_SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
RUNBOOK = """\
id: coupon-abuse
title: Coupon abuse
description: Stop coupon stacking while fraud looks at it.
environment: prod
steps:
  - note: "Tell #fraud you are running this."
  - name: Stop stacking
    kill: checkout-coupon-stacking-rollout
"""


@BOTH_SIZES
def test_flags_search_long_keys(snap_compare: Snap, size: tuple[int, int]) -> None:
    """`/coupon` at 80 columns: four keys that differ only at the end stay apart (cut in the middle)."""

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"coupon")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(console(), terminal_size=size, run_before=before)


@BOTH_SIZES
def test_runbooks_screen(
    snap_compare: Snap, size: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "coupon-abuse.yaml").write_text(RUNBOOK)
    monkeypatch.setenv("FLAGOPS_RUNBOOKS_DIR", str(tmp_path))
    from flagops.runbooks import views

    shown = views.runbook_text  # the file's folder is a new temporary one on every run: pin it in the picture
    monkeypatch.setattr(
        views, "runbook_text", lambda rb: [line.replace(str(tmp_path), "~/runbooks") for line in shown(rb)]
    )

    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("b")
        app: Any = pilot.app
        await until(
            pilot, lambda: app.screen.query("#runbook-list") and app.screen.query_one("#runbook-list").option_count > 0
        )
        await pilot.press("p")
        await until(pilot, lambda: "r: run" in str(app.screen.query_one("#runbook-plan").render()))
        await pilot.pause(0.3)

    assert snap_compare(console(), terminal_size=size, run_before=before)


@BOTH_SIZES
def test_timeline_screen(snap_compare: Snap, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("t")
        app: Any = pilot.app
        await until(pilot, lambda: getattr(app.screen, "timeline", None) is not None)
        await pilot.pause(0.3)

    assert snap_compare(console(), terminal_size=size, run_before=before)


def test_kill_of_an_off_flag_asks_nothing_80x24(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"coupon-stacking-killswitch", "enter", "k")
        app: Any = pilot.app
        await until(pilot, lambda: getattr(app.screen, "plan", None) is not None)
        await pilot.pause(0.3)

    assert snap_compare(console(), terminal_size=(80, 24), run_before=before)


def test_goto_unknown_flag_did_you_mean_80x24(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("g", *"chekout-new-flw", "enter")
        await pilot.pause(0.3)

    assert snap_compare(console(), terminal_size=(80, 24), run_before=before)
