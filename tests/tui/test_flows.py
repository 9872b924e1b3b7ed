"""Console flows driven with Textual's Pilot against the real reference service (loopback HTTP).

Flags screen, search, sort, environment switch, kill / rollout / rollback through the confirmation modal,
conflicts, read-only, live updates from another client, key remaps. Disconnect/reconnect is in
test_flows_live.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Button, Input
from tui_helpers import (
    audit_entries,
    create_flag,
    flag_state,
    flags_screen,
    label_text,
    make_app,
    row_text,
    table,
    wait_for,
    wait_loaded,
)

from flagops.tui.app import FlagOpsApp
from flagops.tui.screens.action_modal import ActionModal

pytestmark = pytest.mark.timeout(120)


async def search_and_select(pilot: Any, app: FlagOpsApp, key: str) -> None:
    await pilot.press("slash")
    await pilot.press(*key)
    await wait_for(pilot, lambda: table(app).cursor_key == key, what=f"{key} at the cursor")
    await pilot.press("enter")  # leaves the search box; the table has focus again
    assert app.focused is table(app)


async def fill(pilot: Any, app: FlagOpsApp, selector: str, text: str) -> None:
    field = app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    field.value = ""
    await pilot.press(*text)


async def open_modal(pilot: Any, app: FlagOpsApp, key_press: str) -> ActionModal:
    await pilot.press(key_press)
    await wait_for(pilot, lambda: isinstance(app.screen, ActionModal), what="the action modal")
    modal = app.screen
    assert isinstance(modal, ActionModal)
    await wait_for(pilot, lambda: modal.plan is not None or modal.kind == "rollout", what="a plan")
    return modal


def message(app: FlagOpsApp) -> str:
    return label_text(app, "#action-message")


async def test_flags_screen_shows_every_flag_with_header(service: Any) -> None:
    with service.client() as client:
        expected = {f["key"] for f in client.get("/v1/flags", params={"environment": "dev"}).json()["flags"]}
    app = make_app(service.url, service.admin_token, environment="dev")
    async with app.run_test(size=(100, 30)) as pilot:
        t = await wait_loaded(pilot, app)
        assert set(t.keys) == expected
        assert label_text(app, "#header-env") == "env dev"
        assert label_text(app, "#header-mode") == "[RW]"
        await wait_for(pilot, lambda: "live" in label_text(app, "#header-connection"), what="live")
        header = t.render_line(0).text
        for title in ("FLAG", "STATE", "ROLL", "ERR%", "TREND", "OWNER", "STAGE"):
            assert title in header
        # error rates arrive for the rows on screen
        visible = t.visible_keys()
        await wait_for(pilot, lambda: all(k in app.store.metrics for k in visible[:5]), what="error rates")
        first = row_text(app, visible[0])
        assert visible[0][:10] in first and "%" in first


async def test_search_filters_live_and_escape_clears(service: Any) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=(100, 30)) as pilot:
        t = await wait_loaded(pilot, app)
        total = len(t.keys)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"checkout-new-flow")
        await wait_for(pilot, lambda: t.cursor_key == "checkout-new-flow", what="best match first")
        assert len(t.keys) < total
        assert "matching" in label_text(app, "#status")
        # filter tokens go through search.py
        await pilot.press("escape")
        assert len(t.keys) == total and app.focused is t
        assert t.cursor_key == "checkout-new-flow"  # the cursor stays on what was found
        await pilot.press("slash", *"state:off")
        await wait_for(pilot, lambda: len(t.keys) < total, what="state:off filter")
        assert all(not app.store.flags[k].states["prod"].enabled for k in t.keys)
        await pilot.press("escape")
        assert len(t.keys) == total


async def test_arrows_in_the_search_box_move_through_results(service: Any) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=(100, 30)) as pilot:
        t = await wait_loaded(pilot, app)
        await pilot.press("slash", *"checkout")
        await wait_for(pilot, lambda: t.cursor_row == 0 and len(t.keys) > 2, what="checkout results")
        first, second = t.keys[0], t.keys[1]
        await pilot.press("down")
        assert isinstance(app.focused, Input)  # still typing
        assert t.cursor_key == second
        await pilot.press("up")
        assert t.cursor_key == first
        await pilot.press("down", "enter")  # enter leaves the box on the highlighted result
        assert app.focused is t and t.cursor_key == second


async def test_sort_by_error_rate_and_last_change(service: Any) -> None:
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=(100, 30)) as pilot:
        t = await wait_loaded(pilot, app)
        await pilot.press("s")
        assert flags_screen(app).sort == "error rate"
        rates = [
            app.store.metrics[k].error_rate
            for k in t.keys
            if k in app.store.metrics and app.store.metrics[k].error_rate is not None
        ]
        assert rates == sorted(rates, reverse=True)
        await pilot.press("s")
        assert flags_screen(app).sort == "last change"
        times = [app.store.flags[k].states["prod"].updated_at for k in t.keys]
        assert times == sorted(times, reverse=True)  # type: ignore[type-var]
        assert "sort: last change" in label_text(app, "#status")


async def test_switch_environment(service: Any) -> None:
    app = make_app(service.url, service.admin_token, environment="dev")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("v")
        await wait_for(pilot, lambda: app.screen.id == "environment-modal", what="environment picker")
        keys = [e.key for e in app.environments]
        for _ in range(keys.index("prod") - keys.index("dev")):
            await pilot.press("down")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.store.environment == "prod" and app.store.loaded, what="prod loaded")
        await wait_for(pilot, lambda: label_text(app, "#header-env") == "env prod PROTECTED", what="header")
        assert "protected" in app.screen.query_one("#header-env").classes
        assert all("prod" in app.store.flags[k].states for k in table(app).keys[:20])


async def test_kill_in_protected_environment_needs_reason_and_typed_key(service: Any) -> None:
    with service.client() as client:
        key = create_flag(client, enabled=True, rollout=25)
    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await wait_for(pilot, lambda: key in app.store.flags, what="the new flag")
        await search_and_select(pilot, app, key)
        modal = await open_modal(pilot, app, "k")
        assert app.focused is modal.query_one("#action-cancel", Button)  # focus starts on Cancel
        assert "on 25%" in label_text(app, "#action-effect") and "-> off" in label_text(app, "#action-effect")
        assert "evaluations/min" in label_text(app, "#action-blast")
        assert "PROTECTED" in label_text(app, "#action-environment")
        assert modal.query_one("#action-typed-key").display
        # no reason: refused, nothing written
        modal.query_one("#action-apply", Button).press()
        await pilot.pause(0.2)
        assert "reason is required" in message(app)
        await fill(pilot, app, "#action-reason", "short")
        modal.query_one("#action-apply", Button).press()
        await pilot.pause(0.2)
        assert "at least 8" in message(app)
        await fill(pilot, app, "#action-reason", "errors spiking after deploy 1234")
        modal.query_one("#action-apply", Button).press()
        await pilot.pause(0.2)
        assert "typed key does not match" in message(app)
        with service.client() as client:
            assert flag_state(client, key, "prod")["enabled"] is True
        await fill(pilot, app, "#action-typed-key", key)
        modal.query_one("#action-apply", Button).press()
        await wait_for(pilot, lambda: modal.applied is not None, what="the kill to apply")
        assert "Took effect in" in message(app) and "now off" in message(app)
        await pilot.press("enter")  # Close has focus
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="back on the flags screen")
        assert " off " in row_text(app, key)
    with service.client() as client:
        assert flag_state(client, key, "prod")["enabled"] is False
        entry = audit_entries(client, key)[0]
        assert entry["reason"] == "errors spiking after deploy 1234" and entry["environment"] == "prod"


async def test_escape_cancels_and_writes_nothing(service: Any) -> None:
    with service.client() as client:
        key = create_flag(client)
        before = len(audit_entries(client, key))
    app = make_app(service.url, service.admin_token, environment="dev")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await wait_for(pilot, lambda: key in app.store.flags, what="the new flag")
        await search_and_select(pilot, app, key)
        await open_modal(pilot, app, "k")
        await fill(pilot, app, "#action-reason", "a perfectly good reason")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="modal closed")
    with service.client() as client:
        assert len(audit_entries(client, key)) == before
        assert flag_state(client, key, "dev")["enabled"] is True


async def test_set_rollout_then_roll_back(service: Any) -> None:
    with service.client() as client:
        key = create_flag(client, rollout=50)
    app = make_app(service.url, service.admin_token, environment="dev")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await wait_for(pilot, lambda: key in app.store.flags, what="the new flag")
        await search_and_select(pilot, app, key)
        modal = await open_modal(pilot, app, "percent_sign")
        assert not modal.query_one("#action-typed-key").display  # dev is not protected
        await fill(pilot, app, "#action-percent", "5")
        await wait_for(pilot, lambda: modal.plan is not None and modal.plan.after.rollout == 5, what="plan 5%")
        assert "on 50% (v1) -> on 5%" in label_text(app, "#action-effect")
        await fill(pilot, app, "#action-reason", "ramp down while we look")
        modal.query_one("#action-apply", Button).press()
        await wait_for(pilot, lambda: modal.applied is not None, what="rollout applied")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="modal closed")
        assert "5%" in row_text(app, key)
        modal = await open_modal(pilot, app, "u")
        assert "on 5% (v2) -> on 50%" in label_text(app, "#action-effect")
        assert "restores v1" in label_text(app, "#action-effect")
        await fill(pilot, app, "#action-reason", "back to where it was")
        modal.query_one("#action-apply", Button).press()
        await wait_for(pilot, lambda: modal.applied is not None, what="rollback applied")
        assert "now on 50%" in message(app)
    with service.client() as client:
        assert flag_state(client, key, "dev")["rollout"] == 50
        reasons = [e["reason"] for e in audit_entries(client, key)]
        assert reasons[:2] == ["back to where it was", "ramp down while we look"]


async def test_conflict_shows_fresh_state_and_allows_retry(service: Any) -> None:
    with service.client() as client:
        key = create_flag(client, rollout=50)
    app = make_app(service.url, service.admin_token, environment="dev")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await wait_for(pilot, lambda: key in app.store.flags, what="the new flag")
        await search_and_select(pilot, app, key)
        modal = await open_modal(pilot, app, "k")
        await fill(pilot, app, "#action-reason", "kill it before it spreads")
        # someone else changes the flag while the modal is open
        with service.client() as client:
            version = flag_state(client, key, "dev")["version"]
            r = client.patch(
                f"/v1/flags/{key}",
                params={"environment": "dev"},
                headers={"If-Match": f'"{version}"'},
                json={"rollout": 10, "changeReason": "another engineer ramps down"},
            )
            assert r.status_code == 200, r.text
        modal.query_one("#action-apply", Button).press()
        await wait_for(pilot, lambda: "Someone else changed this flag first" in message(app), what="conflict")
        assert "on 10%" in message(app)
        await wait_for(pilot, lambda: modal.plan is not None and modal.plan.before.rollout == 10, what="replan")
        assert "on 10% (v2) -> off" in label_text(app, "#action-effect")
        assert modal.query_one("#action-reason", Input).value == "kill it before it spreads"
        modal.query_one("#action-apply", Button).press()
        await wait_for(pilot, lambda: modal.applied is not None, what="retry applied")
    with service.client() as client:
        assert flag_state(client, key, "dev")["enabled"] is False


async def test_read_only_removes_write_actions(service: Any) -> None:
    app = make_app(service.url, service.read_token, environment="prod", readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        t = await wait_loaded(pilot, app)
        assert label_text(app, "#header-mode") == "[RO]"
        ids = {active.binding.id for active in app.screen.active_bindings.values()}
        assert {"search", "sort", "environment"} <= ids
        assert not ids & {"kill", "rollout", "rollback"}
        for key in ("k", "percent_sign", "u"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen.id == "flags-screen"
        assert t.cursor_key is not None


async def test_change_by_another_client_shows_within_a_second(service: Any) -> None:
    with service.client() as client:
        key = create_flag(client, rollout=50)
    app = make_app(service.url, service.admin_token, environment="dev")
    app.changes.probe_interval = 30  # the stream alone must deliver it
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await wait_for(pilot, lambda: key in app.store.flags, what="the new flag")
        await search_and_select(pilot, app, key)
        await pilot.pause(0.5)  # the stream is connected
        with service.client() as client:
            version = flag_state(client, key, "dev")["version"]
            r = client.patch(
                f"/v1/flags/{key}",
                params={"environment": "dev"},
                headers={"If-Match": f'"{version}"'},
                json={"rollout": 33, "changeReason": "someone else, elsewhere"},
            )
            assert r.status_code == 200, r.text
        await wait_for(pilot, lambda: "33%" in row_text(app, key), timeout=1.0, what="the change on screen")


async def test_bindings_can_be_remapped_by_id(service: Any) -> None:
    with service.client() as client:
        key = create_flag(client)
    app = make_app(service.url, service.admin_token, environment="dev", keys={"kill": "x", "search": "f"})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await wait_for(pilot, lambda: key in app.store.flags, what="the new flag")
        await pilot.press("f", *key)
        await wait_for(pilot, lambda: table(app).cursor_key == key, what="search via f")
        await pilot.press("enter", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, ActionModal), what="kill via x")


async def test_small_terminal_says_so(service: Any) -> None:
    app = make_app(service.url, service.admin_token, environment="dev")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause(0.3)
        assert app.screen.id == "too-small"
        assert "Terminal too small: 60x20" in label_text(app, "#too-small-message")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="console back at 80x24")


async def test_enter_opens_the_flag_and_escape_returns(service: Any) -> None:
    from flagops.tui.screens.detail_screen import FlagDetailScreen

    app = make_app(service.url, service.admin_token, environment="prod")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app)
        await search_and_select(pilot, app, "checkout-new-flow")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlagDetailScreen), what="the detail screen")
        assert app.screen.key == "checkout-new-flow"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id == "flags-screen", what="back on the flags screen")
        assert table(app).cursor_key == "checkout-new-flow"


async def test_a_refused_token_is_said_plainly_and_not_retried(service: Any) -> None:
    app = make_app(service.url, "not-a-valid-token", environment="dev")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "not authorized" in label_text(app, "#header-connection"), what="refusal")
        assert "failed" in app.screen.query_one("#header-connection").classes
        assert not app.store.loaded
        assert "not-a-valid-token" not in label_text(app, "#status")
