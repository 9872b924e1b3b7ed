"""The same console on Unleash: the Textual app, driven with Pilot, operating a real Unleash."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from flagops.config import Profile
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.app import FlagOpsApp
from flagops.tui.screens.action_modal import ActionModal
from flagops.tui.widgets.flag_table import FlagTable

from .unleash_harness import UnleashServer

pytestmark = pytest.mark.timeout(120)


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def table(app: FlagOpsApp) -> FlagTable:
    screen = next(s for s in app.screen_stack if s.id == "flags-screen")
    return screen.query_one(FlagTable)


def prod_enabled(unleash: UnleashServer, key: str) -> bool:
    with unleash.client() as c:
        return bool(c.get(f"/api/admin/projects/default/features/{key}/environments/production").json()["enabled"])


@pytest.fixture
def app(unleash: UnleashServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlagOpsApp:
    monkeypatch.setenv("FLAGOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FLAGOPS_ACTOR", "oncall-tui")
    profile = Profile(name="unleash", url=unleash.url, backend="unleash", environment="production")
    return FlagOpsApp(profile, open_backend(profile, Secret(unleash.admin_token)), environment="production")


async def test_kill_in_production_from_the_console(
    app: FlagOpsApp, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("tui-kill", prod_rollout=25)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: key in app.store.flags, "the Unleash flag in the console")
        await pilot.press("slash", *key)
        await wait_for(pilot, lambda: table(app).cursor_key == key, "the flag at the cursor")
        await pilot.press("enter", "k")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ActionModal) and app.screen.plan is not None, "the kill plan"
        )
        modal = app.screen
        assert isinstance(modal, ActionModal)
        assert modal.query_one("#action-typed-key").display  # production is protected
        for selector, text in (("#action-reason", "errors after the deploy"), ("#action-typed-key", key)):
            field = modal.query_one(selector, Input)
            field.focus()
            await pilot.press(*text)
        modal.query_one("#action-apply", Button).press()
        await wait_for(pilot, lambda: modal.applied is not None, "the kill to apply")
        assert prod_enabled(unleash, key) is False
        entries = await app.backend.audit(flag=key, environment="production")
        assert (entries[0].reason, entries[0].actor) == ("errors after the deploy", "oncall-tui")


async def test_a_change_made_in_unleash_shows_up(
    app: FlagOpsApp, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("tui-live", prod_rollout=25)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: key in app.store.flags, "the Unleash flag in the console")
        with unleash.client() as c:
            c.post(f"/api/admin/projects/default/features/{key}/environments/production/off").raise_for_status()
        await wait_for(
            pilot,
            lambda: not app.store.flags[key].states["production"].enabled,
            "the change made in Unleash",
            timeout=10,
        )


async def test_approvals_screen_says_unleash_does_not_enforce_them(app: FlagOpsApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.store.loaded, "flags loaded")
        await pilot.press("c")
        await wait_for(pilot, lambda: app.screen.id == "approvals-screen", "the approvals screen")
        notice = str(app.screen.query_one("#approvals-notice").render())
        assert "Approvals are not enforced by the Unleash backend" in notice
        actions = {b.binding.action for b in app.screen.active_bindings.values()}
        assert not actions & {"approve", "reject", "apply", "acknowledge"}  # nothing to sign off there
