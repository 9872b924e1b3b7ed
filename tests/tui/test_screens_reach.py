"""Every screen is reachable by a key, shows the context header, and fits 80 columns; against the real
service (loopback HTTP), at 80x24 and 120x35.

- the header (profile, environment, [RW], connection) on flags, detail, dashboard, runbooks and timeline,
  and it says "live" there (the runbooks screen once said "connecting" forever);
- `b` runbooks and `t` timeline from the flags and detail screens, in the footer and in `?`;
- going to a screen already open further down goes back to it instead of stacking another;
- `/coupon` at 80 columns: the four `checkout-coupon-stacking-*` rows are told apart (middle cut);
- the footer keeps `d` and `q` visible; the status line fits;
- the palette's prompt renders everywhere (no emoji magnifier);
- `g` with a mistyped key says "did you mean", and enter opens the suggestion;
- the timeline shows a change made a moment ago, with its reason, and enter opens its flag.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList
from tui_helpers import flag_state, label_text, make_app, table, wait_for, wait_loaded

from flagops.tui.screens.dashboard_screen import DashboardScreen
from flagops.tui.screens.detail_screen import FlagDetailScreen
from flagops.tui.screens.runbooks_screen import RunbooksScreen
from flagops.tui.screens.timeline_screen import TimelineScreen

pytestmark = pytest.mark.timeout(120)
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
COUPON_KEYS = {
    "checkout-coupon-stacking",
    "checkout-coupon-stacking-v2",
    "checkout-coupon-stacking-beta",
    "checkout-coupon-stacking-eu",
    "checkout-coupon-stacking-rollout",
    "checkout-coupon-stacking-experiment",
    "checkout-coupon-stacking-killswitch",
}


def goto_message(app: Any) -> str:
    found = app.screen.query("#goto-message")
    return str(found.first().render()) if found else ""


def screen_lines(pilot: Pilot[Any]) -> list[str]:
    return [strip.text for strip in pilot.app.screen._compositor.render_strips()]


def footer(pilot: Pilot[Any]) -> str:
    return screen_lines(pilot)[-1]


async def footer_shows(pilot: Pilot[Any], *parts: str) -> str:
    """The footer is composed once the screen's bindings are ready: wait for it, then return it."""
    await wait_for(pilot, lambda: all(p in footer(pilot) for p in parts), what=f"footer with {parts}")
    return footer(pilot)


async def header_is_live(pilot: Pilot[Any], environment: str) -> None:
    app: Any = pilot.app
    await wait_for(pilot, lambda: label_text(app, "#header-connection").endswith("live"), what="live header")
    assert label_text(app, "#header-env").startswith(f"env {environment}")
    assert label_text(app, "#header-mode") == "[RW]"
    assert label_text(app, "#header-profile") == "profile test"


@SIZES
async def test_every_screen_has_the_live_header_and_is_reachable_by_key(service: Any, size: tuple[int, int]) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        await header_is_live(pilot, "prod")
        await footer_shows(pilot, "b Runbooks", "t Timeline", "q Quit")

        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbooksScreen), what="runbooks")
        await header_is_live(pilot, "prod")
        await wait_for(pilot, lambda: "runbooks" in label_text(app, "#runbook-status"), what="catalog")
        await footer_shows(pilot, "t Timeline", "q Quit")

        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), what="timeline")
        await header_is_live(pilot, "prod")

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        await header_is_live(pilot, "prod")
        assert "d Dash" not in await footer_shows(pilot, "b Runbooks")  # a screen's own key is left out

        await pilot.press("b")  # the runbooks screen is open further down: back to it, not a second one
        await wait_for(pilot, lambda: isinstance(app.screen, RunbooksScreen), what="back to runbooks")
        assert sum(isinstance(s, RunbooksScreen) for s in app.screen_stack) == 1
        assert not any(isinstance(s, (TimelineScreen, DashboardScreen)) for s in app.screen_stack)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="flags screen")

        app.open_flag("checkout-new-flow")
        await wait_for(
            pilot, lambda: isinstance(app.screen, FlagDetailScreen) and app.screen.flag is not None, what="detail"
        )
        await header_is_live(pilot, "prod")
        await footer_shows(pilot, "t Timeline", "q Quit", "k Kill")
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        keys = "\n".join(screen_lines(pilot))
        for line in ("Runbooks  [runbooks]", "Timeline  [timeline]", "Go to flag  [goto]"):
            assert line in keys
        await pilot.press("escape")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), what="timeline from detail")


@SIZES
async def test_long_keys_stay_apart_and_footer_keeps_d_and_q(service: Any, size: tuple[int, int]) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        t = await wait_loaded(pilot, app)
        await pilot.press("slash", *"coupon")
        await wait_for(pilot, lambda: len(t.keys) >= 4 and set(t.keys[:4]) <= COUPON_KEYS, what="coupon rows")
        await pilot.press("enter")
        await pilot.pause(0.3)
        lines = screen_lines(pilot)
        coupon_rows = [line.split()[0] for line in lines if line.strip().startswith("checkout-co")]
        assert len(coupon_rows) >= 4
        assert len(set(coupon_rows)) == len(coupon_rows), coupon_rows  # no two rows read the same
        for key, shown in zip(t.keys, coupon_rows, strict=False):  # only the rows that fit on screen
            assert shown == key or ("…" in shown and key.endswith(shown.split("…")[1])), (key, shown)
        bottom = await footer_shows(pilot, "d Dash", "q Quit", "? Keys", "k Kill")
        status = label_text(app, "#status")
        assert len(status) <= size[0] - 2 and "matching 'coupon'" in status
        assert all(len(line) <= size[0] for line in lines)
        if size[0] >= 100:
            assert "STAGE" in lines[2] and "s Sort" in bottom


@SIZES
async def test_palette_prompt_renders_everywhere(service: Any, size: tuple[int, int]) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: CommandPalette.is_open(app), what="palette")
        await pilot.pause(0.3)
        text = "\n".join(screen_lines(pilot))
        assert "🔎" not in text
        assert any(line.strip().startswith("> ") for line in screen_lines(pilot))
        await pilot.press(*"timeline")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), what="timeline from the palette")


@SIZES
async def test_go_to_a_mistyped_key_suggests_and_opens(service: Any, size: tuple[int, int]) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("g", *"chekout-new-flw", "enter")
        await wait_for(pilot, lambda: "Did you mean" in goto_message(app), what="suggestion")
        assert "No flag 'chekout-new-flw' in prod" in goto_message(app)
        suggestions = app.screen.query_one("#goto-suggestions", OptionList)
        assert suggestions.get_option_at_index(0).id == "checkout-new-flow"
        assert app.focused is suggestions
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlagDetailScreen), what="the suggested flag")
        assert app.screen.key == "checkout-new-flow"
        await pilot.press("escape", "g", *"no-such-thing-at-all-xyz", "enter")
        await wait_for(pilot, lambda: "No flag" in goto_message(app), what="no such flag")
        assert "Did you mean" not in goto_message(app)
        # an exact key opens straight away; opening an unknown key from elsewhere gets the same answer
        await pilot.press("escape")
        app.open_flag("checkout-new-flwo")
        await wait_for(pilot, lambda: "Did you mean" in goto_message(app), what="open_flag")


@SIZES
async def test_timeline_shows_a_fresh_change_and_opens_its_flag(service: Any, size: tuple[int, int]) -> None:
    from tui_helpers import create_flag

    with service.client() as client:
        key = create_flag(client, prefix="timeline", rollout=30)
        version = flag_state(client, key, "prod")["version"]
        r = client.patch(
            f"/v1/flags/{key}",
            params={"environment": "prod"},
            headers={"If-Match": f'"{version}"'},
            json={"rollout": 60, "changeReason": "timeline test ramp", "ticket": "INC-15"},
        )
        assert r.status_code == 200, r.text
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("t")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, TimelineScreen) and app.screen.timeline is not None,
            what="timeline loaded",
        )
        options = app.screen.query_one("#timeline-list", OptionList)
        first = str(options.get_option_at_index(0).prompt)  # newest first
        assert key in first and "on 30% -> on 60%" in first and "timeline test ramp" in first
        assert "INC-15" in first
        assert all(len(line) <= size[0] for line in screen_lines(pilot))
        assert table(app).keys  # the flags screen underneath is untouched
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlagDetailScreen), what="its flag")
        assert app.screen.key == key


@SIZES
async def test_a_change_days_old_shows_its_date(service: Any, size: tuple[int, int]) -> None:
    """The demo's flags were last changed days ago: the status line and the detail screen say when, with
    the date (a time alone reads as "this morning")."""
    from datetime import datetime, timedelta

    from flagops.timefmt import when

    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        t = await wait_loaded(pilot, app)
        old = next(
            k
            for k in t.keys
            if (s := app.store.flags[k].states["prod"]).updated_at is not None
            and s.updated_at < datetime.now(UTC) - timedelta(days=2)
        )
        t.move_to(old)
        await pilot.pause(0.2)
        stamp = when(app.store.flags[old].states["prod"].updated_at)
        assert len(stamp) > len("03:12:09")  # a date as well as the time
        assert stamp in label_text(app, "#status")
        app.open_flag(old)
        await wait_for(
            pilot, lambda: isinstance(app.screen, FlagDetailScreen) and app.screen.flag is not None, what="detail"
        )
        envs = str(app.screen.query_one("#detail-envs").render())
        assert when(app.store.flags[old].states["prod"].updated_at, seconds=False) in envs


def test_audit_lines_show_the_date_of_an_old_change() -> None:
    from datetime import datetime, timedelta

    from flagops.model import AuditEntry, FlagState
    from flagops.tui.widgets.audit_view import audit_lines

    now = datetime.now(UTC)
    old = AuditEntry(
        1,
        now - timedelta(days=3),
        "alice",
        "flag.updated",
        "f",
        "prod",
        "why not",
        before=FlagState("prod", True, 100.0, "on", "off", 1),
        after=FlagState("prod", False, 100.0, "on", "off", 2),
    )
    fresh = AuditEntry(
        2,
        now - timedelta(seconds=5),
        "bob",
        "flag.updated",
        "f",
        "prod",
        "why not",
        before=FlagState("prod", False, 100.0, "on", "off", 2),
        after=FlagState("prod", True, 100.0, "on", "off", 3),
    )
    text = audit_lines([fresh, old]).plain.splitlines()
    assert text[0].startswith((now - timedelta(seconds=5)).astimezone().strftime("%H:%M:%S"))
    assert (now - timedelta(days=3)).astimezone().strftime("%H:%M:%S") in text[2]
    assert len(text[2].split("  ")[0]) > len("03:12:09")  # the old one carries its date


@SIZES
async def test_palette_offers_to_look_up_a_key_nothing_matches(service: Any, size: tuple[int, int]) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: CommandPalette.is_open(app), what="palette")
        await pilot.press(*"zzqx")
        await wait_for(pilot, lambda: "go to flag 'zzqx'" in "\n".join(screen_lines(pilot)), what="the offer")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "No flag 'zzqx' in prod" in goto_message(app), what="no such flag")
