"""The confirmation dialog as an on-call person meets it, against the real service at 80x24 and 120x35:

- a blocked apply names the field, marks it and puts the cursor there; the message goes once it is valid;
- the typed-key prompt shows a long key whole (it was cut at 100 columns);
- killing a flag that is already off says so, asks for nothing, offers no Kill button, writes nothing;
- a dialog opened while the service is down plans by itself once the service is back.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from conftest import start_service
from textual.widgets import Button, Input
from tui_helpers import audit_entries, create_flag, label_text, make_app, table, wait_for, wait_loaded

from flagops.tui.screens.action_modal import ActionModal

pytestmark = pytest.mark.timeout(150)
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])


async def open_kill(pilot: Any, app: Any, key: str) -> ActionModal:
    await wait_for(pilot, lambda: key in app.store.flags, what="the flag")
    table(app).move_to(key) or (app.screen.apply_query(), table(app).move_to(key))
    await wait_for(pilot, lambda: table(app).cursor_key == key, what="the flag at the cursor")
    app.start_action("kill", key)
    await wait_for(pilot, lambda: isinstance(app.screen, ActionModal), what="the kill dialog")
    modal: ActionModal = app.screen
    return modal


def shown(app: Any, selector: str) -> str:
    """The rendered text of a widget on the current screen ("" while it is not mounted yet)."""
    found = app.screen.query(selector)
    return str(found.first().render()) if found else ""


def message(app: Any) -> str:
    return shown(app, "#action-message")


@SIZES
async def test_blocked_field_is_named_and_the_message_clears(service: Any, size: tuple[int, int]) -> None:
    with service.client() as client:
        key = create_flag(client, prefix="dialog", rollout=40)
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        modal = await open_kill(pilot, app, key)
        await wait_for(pilot, lambda: modal.plan is not None, what="a plan")
        reason = modal.query_one("#action-reason", Input)
        modal.query_one("#action-apply", Button).press()
        await pilot.pause(0.2)
        assert "A reason is required" in message(app) and "The cursor is in the Reason field" in message(app)
        assert app.focused is reason and reason.has_class("invalid")
        await pilot.press(*"errors")  # 6 characters: still too short, the message stays
        assert "A reason is required" in message(app)
        await pilot.press(*" after deploy")
        assert message(app) == "" and not reason.has_class("invalid")
        # the cursor was where the message said: the reason went into Reason, not into Ticket
        assert reason.value == "errors after deploy"
        assert modal.query_one("#action-ticket", Input).value == ""
        await pilot.press("tab")
        assert app.focused is modal.query_one("#action-ticket", Input)
        modal.query_one("#action-apply", Button).press()
        await pilot.pause(0.2)
        typed = modal.query_one("#action-typed-key", Input)
        assert "typed key does not match" in message(app) and app.focused is typed and typed.has_class("invalid")
        await pilot.press(*key)
        assert message(app) == "" and not typed.has_class("invalid")
        await pilot.press("escape")
    with service.client() as client:
        assert len(audit_entries(client, key)) == 1  # only the creation: nothing was applied


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 35)], ids=["80x24", "100x30", "120x35"])
async def test_typed_key_prompt_shows_a_long_key_whole(service: Any, size: tuple[int, int]) -> None:
    with service.client() as client:
        key = create_flag(client, prefix="dialog-a-very-long-flag-key-for-the-typed-confirmation-prompt")
    assert len(key) > 60
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        modal = await open_kill(pilot, app, key)
        await wait_for(pilot, lambda: modal.plan is not None, what="a plan")
        label = modal.query_one("#action-typed-label")
        assert label.display

        def on_screen(selector: str) -> str:
            """What the terminal shows of a widget, its lines joined."""
            region = modal.query_one(selector).region
            lines = [strip.text for strip in app.screen._compositor.render_strips()]
            return "".join(line[region.x : region.right].strip() for line in lines[region.y : region.bottom])

        # the plan is in; the next refresh lays the prompt out: then the whole key is there
        await wait_for(pilot, lambda: "type the flag key" in on_screen("#action-typed-label"), what="the prompt")
        assert key in on_screen("#action-typed-label"), on_screen("#action-typed-label")
        assert key in on_screen("#action-target").replace(" ", "")


@SIZES
async def test_kill_of_an_off_flag_says_so_and_asks_nothing(service: Any, size: tuple[int, int]) -> None:
    with service.client() as client:
        key = create_flag(client, prefix="dialog-off", enabled=False)
        before = len(audit_entries(client, key))
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=size) as pilot:
        await wait_loaded(pilot, app)
        modal = await open_kill(pilot, app, key)
        await wait_for(pilot, lambda: modal.plan is not None, what="a plan")
        assert "Already off in prod: nothing to change" in message(app)
        assert not modal.query_one("#action-reason").display  # no reason asked for
        assert not modal.query_one("#action-typed-key").display
        assert not modal.query_one("#action-apply").display  # no active Kill button
        close = modal.query_one("#action-close", Button)
        assert close.display and app.focused is close
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="closed")
    with service.client() as client:
        assert len(audit_entries(client, key)) == before  # nothing written


@SIZES
async def test_dialog_opened_while_the_service_is_down_plans_when_it_is_back(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    svc = start_service(tmp_path / "svc", demo=True)
    port = urlparse(svc.url).port
    tokens = {
        "admin": svc.admin_token,
        "read": svc.read_token,
        "writer_dev": svc.writer_dev_token,
        "metrics": svc.metrics_token,
    }
    restarted = None
    try:
        with svc.client() as client:
            key = create_flag(client, prefix=f"dialog-down-{secrets.token_hex(2)}", rollout=20)
        app = make_app(svc.url, svc.admin_token, environment="dev")
        async with app.run_test(size=size) as pilot:
            await wait_loaded(pilot, app)
            await wait_for(pilot, lambda: key in app.store.flags, what="the flag")
            svc.kill()
            await wait_for(
                pilot,
                lambda: "live" not in label_text(app, "#header-connection"),
                timeout=15,
                what="the console noticed",
            )
            app.start_action("kill", key)
            await wait_for(pilot, lambda: isinstance(app.screen, ActionModal), what="the kill dialog")
            modal: ActionModal = app.screen  # type: ignore[assignment]
            await wait_for(
                pilot, lambda: "cannot plan" in shown(app, "#action-effect"), timeout=40, what="planning failed"
            )
            assert "plans again when the service is back" in message(app)
            assert modal.query_one("#action-apply", Button).disabled
            restarted = start_service(
                tmp_path / "svc",
                demo=True,
                db_path=svc.db_path,
                tokens_file=svc.tokens_file,
                tokens=tokens,
                extra_args=["--port", str(port)],
            )
            await wait_for(pilot, lambda: modal.plan is not None, timeout=40, what="planned again by itself")
            assert "on 20% (v1) -> off" in shown(app, "#action-effect")
            assert "reachable again" in message(app)
            assert not modal.query_one("#action-apply", Button).disabled
            await pilot.press("escape")
    finally:
        svc.stop()
        if restarted is not None:
            restarted.stop()
