"""Four eyes in the console, against the real service: two operators (alice, bob; two tokens) in two consoles.

alice opens a change request from the confirm dialog; bob sees it appear on his approvals screen (live: the
change-request event on the stream, no key pressed), approves it with a comment; alice sees it approved and
applies it. Self-approval is refused and said in the status line; hostile text in reasons and comments
shows inert; a break-glass kill is applied at once and its review stays in bob's header until he
acknowledges it; a read-only console has no write keys; the detail screen names segment references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server.governance_helpers import create_flag, open_request, prod_version, start_governed
from textual.widgets import Button, Input, OptionList
from tui_helpers import make_app, wait_for

from flagops.tui.app import FlagOpsApp

try:
    from textual._context import active_app
except ImportError:  # pragma: no cover
    active_app = None  # type: ignore[assignment]

pytestmark = pytest.mark.timeout(180)

HOSTILE = "[bold red]pwned[/] \x1b[31mred\x1b[0m [link=http://x]y[/link]"


def acting(app: FlagOpsApp) -> FlagOpsApp:
    """Two consoles in one test: Textual finds "the app" of a widget through a context variable, which in the
    test's own task is the console started last. Calls made here on one console's widgets (and the workers
    they start) must see that console."""
    if active_app is not None:
        active_app.set(app)
    return app


def list_text(app: FlagOpsApp) -> str:
    options = app.screen.query_one("#approvals-list", OptionList)
    return "\n".join(str(options.get_option_at_index(i).prompt) for i in range(options.option_count))


def status_text(app: FlagOpsApp) -> str:
    return str(app.screen.query_one("#approvals-status").render())


def highlight(app: FlagOpsApp, option_id: str) -> None:
    acting(app)
    options = app.screen.query_one("#approvals-list", OptionList)
    options.highlighted = options.get_option_index(option_id)


async def open_approvals(pilot: Any, app: FlagOpsApp) -> None:
    acting(app)
    await wait_for(pilot, lambda: app.store.loaded, what="flags loaded")
    await pilot.press("c")
    await wait_for(pilot, lambda: app.screen.id == "approvals-screen", what="approvals screen")
    await wait_for(pilot, lambda: app.governance.loaded, what="approvals read")


async def sign_off(pilot: Any, app: FlagOpsApp, key: str, comment: str | None, typed_key: str | None = None) -> None:
    """Press `key` on the approvals screen, fill the dialog, confirm."""
    acting(app)
    await pilot.press(key)
    await wait_for(pilot, lambda: app.screen.id == "signoff-modal", what="sign-off dialog")
    modal = app.screen
    assert modal.focused is not None and modal.focused.id == "signoff-cancel"  # focus starts on Cancel
    if comment is not None:
        modal.query_one("#signoff-comment", Input).value = comment
    if typed_key is not None:
        modal.query_one("#signoff-typed-key", Input).value = typed_key
    app.screen.query_one("#signoff-confirm", Button).press()
    await pilot.pause()
    await wait_for(pilot, lambda: app.screen.id == "approvals-screen", what="dialog closed")


async def request_rollout(pilot: Any, app: FlagOpsApp, key: str, percent: str, reason: str) -> str:
    """alice's confirm dialog: says it will open a change request; applying opens it. Returns the dialog's result."""
    acting(app)
    await wait_for(pilot, lambda: app.store.loaded and key in app.store.flags, what="flag listed")
    app.start_action("rollout", key)
    await wait_for(pilot, lambda: app.screen.id == "action-modal", what="confirm dialog")
    modal: Any = app.screen
    # the dialog fills in the current rollout once it is laid out: type the new one after that
    await wait_for(pilot, lambda: modal.query("#action-percent") and modal.query_one("#action-percent", Input).value)
    modal.query_one("#action-percent", Input).value = percent
    await wait_for(
        pilot,
        lambda: modal.plan is not None and modal.plan.after.rollout == float(percent),
        what=f"plan ({modal.query_one('#action-effect').render()} {modal.query_one('#action-message').render()})",
    )
    approval = str(modal.query_one("#action-approval").render())
    assert "this will open a change request (needs 1 approval)" in approval
    assert str(modal.query_one("#action-apply").label) == "Request"
    modal.query_one("#action-reason", Input).value = reason
    modal.query_one("#action-typed-key", Input).value = key  # prod is protected
    modal.try_apply()
    await wait_for(pilot, lambda: "Change request cr-" in str(modal.query_one("#action-message").render()))
    message = str(modal.query_one("#action-message").render())
    modal.query_one("#action-close", Button).press()
    return message


async def test_two_operators_request_approve_apply(tmp_path: Path) -> None:
    svc, bob_token = start_governed(tmp_path / "svc")
    key = "tui-four-eyes"
    try:
        with svc.client() as c:
            create_flag(c, key, risk="high")
            before = prod_version(c, key)
        alice = make_app(svc.url, svc.admin_token, environment="prod")
        bob = make_app(svc.url, bob_token, environment="prod")
        async with alice.run_test(size=(120, 35)) as pa, bob.run_test(size=(120, 35)) as pb:
            await open_approvals(pb, bob)
            assert key not in list_text(bob)

            message = await request_rollout(pa, alice, key, "40", "ramp to 40% after the load test")
            assert "Nothing is changed until it is approved" in message
            with svc.client() as c:
                assert prod_version(c, key) == before  # nothing written yet
                request_id = c.get("/v1/change-requests", params={"flag": key}).json()["changeRequests"][0]["id"]

            # bob: it appears without a key press (the change-request event on his stream)
            await wait_for(pb, lambda: request_id in list_text(bob), what="the request appears live for bob")
            text = list_text(bob)
            assert "on 10% -> on 40%" in text and "approvals 0/1" in text and "by alice" in text
            assert "expires in 23h" in text
            assert "1 to approve" in str(bob.screen.query_one("#header-governance").render())
            highlight(bob, f"cr:{request_id}")
            await sign_off(pb, bob, "a", "looked at the load test, fine")
            await wait_for(pb, lambda: "Approved" in status_text(bob), what="approved")

            # alice: sees it approved live, applies it from her approvals screen
            await open_approvals(pa, alice)
            await wait_for(pa, lambda: "ready to apply" in list_text(alice), what="approved, for alice")
            highlight(alice, f"cr:{request_id}")
            await sign_off(pa, alice, "p", None, typed_key=key)
            await wait_for(pa, lambda: "Applied" in status_text(alice), what="applied")
            await wait_for(pa, lambda: request_id not in list_text(alice), what="off the open list")
            await wait_for(pb, lambda: request_id not in list_text(bob), what="off bob's list too")
        with svc.client() as c:
            state = c.get(f"/v1/flags/{key}", params={"environment": "prod"}).json()["environments"]["prod"]
            assert state["rollout"] == 40
            row = c.get(f"/v1/change-requests/{request_id}").json()
            assert row["status"] == "applied" and row["verdicts"][0]["actor"] == "bob"
            assert row["verdicts"][0]["comment"] == "looked at the load test, fine"
    finally:
        svc.stop()


async def test_self_approval_refused_and_hostile_text_inert(tmp_path: Path) -> None:
    svc, bob_token = start_governed(tmp_path / "svc")
    key = "tui-self-approval"
    try:
        with svc.client() as c:
            create_flag(c, key, risk="high")
            r = open_request(c, key, {"rollout": 30}, prod_version(c, key), changeReason=HOSTILE)
            assert r.status_code == 201, r.text
            request_id = r.json()["id"]
        alice = make_app(svc.url, svc.admin_token, environment="prod")
        async with alice.run_test(size=(120, 35)) as pilot:
            await open_approvals(pilot, alice)
            await wait_for(pilot, lambda: request_id in list_text(alice), what="listed")
            text = list_text(alice)
            assert "[bold red]pwned[/]" in text and "\\x1b[31m" in text and "\x1b" not in text
            highlight(alice, f"cr:{request_id}")

            # the dialog's comment rule first: too short is said in the dialog, nothing is sent
            await pilot.press("a")
            await wait_for(pilot, lambda: alice.screen.id == "signoff-modal")
            acting(alice).screen.query_one("#signoff-comment", Input).value = "ok"
            alice.screen.query_one("#signoff-confirm", Button).press()
            await pilot.pause()
            assert "at least 8 characters (2 typed)" in str(alice.screen.query_one("#signoff-message").render())
            await pilot.press("escape")
            await wait_for(pilot, lambda: alice.screen.id == "approvals-screen")

            await sign_off(pilot, alice, "a", "approving my own change")
            await wait_for(pilot, lambda: "Refused" in status_text(alice), what="refusal shown")
            assert alice.is_running and alice.screen.id == "approvals-screen"
            assert "approvals 0/1" in list_text(alice)

        bob = make_app(svc.url, bob_token, environment="prod")
        async with bob.run_test(size=(120, 35)) as pilot:
            await open_approvals(pilot, bob)
            await wait_for(pilot, lambda: request_id in list_text(bob), what="listed for bob")
            highlight(bob, f"cr:{request_id}")
            await sign_off(pilot, bob, "x", f"no: {HOSTILE}")
            await wait_for(pilot, lambda: "Rejected" in status_text(bob), what="rejected")
            await wait_for(pilot, lambda: request_id not in list_text(bob), what="closed")
        with svc.client() as c:
            row = c.get(f"/v1/change-requests/{request_id}").json()
            assert row["status"] == "rejected" and row["verdicts"][-1]["comment"] == f"no: {HOSTILE}"  # verbatim
    finally:
        svc.stop()


async def test_break_glass_kill_review_badge_until_acknowledged(tmp_path: Path) -> None:
    svc, bob_token = start_governed(tmp_path / "svc")
    key = "tui-break-glass"
    try:
        with svc.client() as c:
            create_flag(c, key, risk="critical", kill_switch=True)
        alice = make_app(svc.url, svc.admin_token, environment="prod")
        bob = make_app(svc.url, bob_token, environment="prod")
        async with alice.run_test(size=(120, 35)) as pa, bob.run_test(size=(120, 35)) as pb:
            await wait_for(pb, lambda: bob.store.loaded, what="bob loaded")
            await wait_for(pa, lambda: alice.store.loaded and key in alice.store.flags, what="alice loaded")
            acting(alice).start_action("kill", key)
            await wait_for(pa, lambda: alice.screen.id == "action-modal")
            modal: Any = alice.screen
            await wait_for(pa, lambda: modal.plan is not None, what="plan")
            approval = str(modal.query_one("#action-approval").render())
            assert "applied now; opens a post-hoc review" in approval
            modal.query_one("#action-reason", Input).value = f"panic at 03:00 {HOSTILE}"
            modal.query_one("#action-typed-key", Input).value = key
            acting(alice)
            modal.try_apply()
            await wait_for(pa, lambda: modal.applied is not None, what="kill applied")
            assert "review" in str(modal.query_one("#action-message").render())

            badge = bob.screen.query_one("#header-governance")
            await wait_for(pb, lambda: "1 review open" in str(badge.render()), what="bob's badge, live")
            await open_approvals(pb, bob)
            text = list_text(bob)
            assert "break-glass kill of" in text and key in text and "[bold red]pwned[/]" in text
            review_id = bob.governance.reviews[0].id
            highlight(bob, f"review:{review_id}")
            await sign_off(pb, bob, "o", "seen it, the kill was right")
            await wait_for(pb, lambda: "Acknowledged" in status_text(bob), what="acknowledged")
            await wait_for(pb, lambda: not bob.screen.query_one("#header-governance").display, what="badge gone")
        with svc.client() as c:
            state = c.get(f"/v1/flags/{key}", params={"environment": "prod"}).json()["environments"]["prod"]
            assert state["enabled"] is False
    finally:
        svc.stop()


async def test_readonly_has_no_write_keys_and_detail_names_segments(tmp_path: Path) -> None:
    svc, _bob = start_governed(tmp_path / "svc")
    try:
        with svc.client() as c:
            flags = c.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
        segment_flag = next(
            f["key"] for f in flags if any(r["op"] == "in_segment" for r in f["environments"]["prod"].get("rules", []))
        )
        app = make_app(svc.url, svc.read_token, environment="prod", readonly=True)
        async with app.run_test(size=(120, 35)) as pilot:
            await open_approvals(pilot, app)
            actions = {b.binding.action for b in app.screen.active_bindings.values()}
            assert not actions & {"approve", "reject", "apply", "acknowledge"}
            assert "Read-only console" in str(app.screen.query_one("#approvals-notice").render())
            await pilot.press("escape")
            app.open_flag(segment_flag)
            await wait_for(pilot, lambda: getattr(app.screen, "flag", None) is not None, what="detail")
            rules = str(app.screen.query_one("#detail-rules").render())
            assert "if in segment " in rules and ("enterprise_accounts" in rules or "eu_users" in rules)
    finally:
        svc.stop()
