"""The runbooks screen in the real console against the real service: filter, plan, run with step
confirmations (typed key in the protected environment), live progress, undo; and the palette entry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningService
from textual.pilot import Pilot
from textual.widgets import Button, Input, Label, OptionList, Static

from flagops.config import Profile
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.app import FlagOpsApp
from flagops.tui.screens.runbook_modal import RunbookStartModal, StepConfirmModal
from flagops.tui.screens.runbooks_screen import RunbooksScreen

from .helpers import post_metrics, state


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FLAGOPS_RUNBOOKS_DIR", str(tmp_path / "user-runbooks"))


def make_app(service: RunningService, *, readonly: bool = False) -> FlagOpsApp:
    profile = Profile(name="test", url=service.url, environment="prod", readonly=readonly)
    return FlagOpsApp(
        profile, open_backend(profile, Secret(service.admin_token)), environment="prod", readonly=readonly
    )


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def showing(app: FlagOpsApp, cls: type, selector: str) -> bool:
    """`cls` is the top screen and has been composed (its `selector` widget exists)."""
    return isinstance(app.screen, cls) and bool(app.screen.query(selector))


def text(screen: Any, selector: str) -> str:
    widget = screen.query_one(selector)
    return str(widget.content if isinstance(widget, Static) else widget.render())


async def test_filter_plan_run_and_undo_from_the_console(fresh_service: RunningService) -> None:
    svc = fresh_service
    post_metrics(svc, "checkout-new-flow", "prod", evaluations=2000, errors=300, ago_seconds=60)
    app = make_app(svc)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunbooksScreen()
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.shown, "runbooks listed")
        await pilot.press("slash", *"spike", "enter")
        assert [rb.id for rb in screen.shown] == ["checkout-error-spike"]
        await pilot.press("enter")  # plan the highlighted one
        await wait_for(pilot, lambda: "on 1% -> off" in text(screen, "#runbook-plan"), "the plan")
        assert "would pass" in text(screen, "#runbook-plan")

        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, RunbookStartModal, "#runbook-start-run"), "the start dialog")
        assert app.screen.focused is not None and app.screen.focused.id == "runbook-start-cancel"
        app.screen.query_one("#runbook-reason", Input).value = "INC-3 checkout errors, console run"
        params = app.screen.query_one("#runbook-params", Input)
        assert "flag=checkout-new-flow" in params.value
        params.value += " timeout=5s"
        await pilot.pause()
        app.screen.query_one("#runbook-start-run", Button).press()

        await wait_for(pilot, lambda: showing(app, StepConfirmModal, "#runbook-step-apply"), "the step confirmation")
        modal = app.screen
        assert "checkout-new-flow in prod: on 1% -> off" in text(modal, "#runbook-step-changes Static")
        apply = modal.query_one("#runbook-step-apply")
        assert apply.disabled  # prod is protected: the flag key must be typed first
        modal.query_one("#runbook-typed", Input).value = "checkout-new-flow"
        await pilot.pause()
        assert not apply.disabled
        await pilot.pause()
        app.screen.query_one("#runbook-step-apply", Button).press()

        await wait_for(pilot, lambda: screen.last_run is not None, "the run to finish")
        assert screen.last_run is not None and screen.last_run.status == "done"
        progress = text(screen, "#runbook-progress")
        assert "[x] 4. Wait for recovery" in progress and "error rate 0%" in progress
        assert state(svc, "checkout-new-flow")["enabled"] is False
        assert "u: undo this run" in text(screen, "#runbook-status")

        await pilot.press("u")
        await wait_for(pilot, lambda: showing(app, StepConfirmModal, "#runbook-step-apply"), "the undo confirmation")
        await pilot.pause()
        app.screen.query_one("#runbook-step-apply", Button).press()
        await wait_for(pilot, lambda: "undone: checkout-new-flow" in text(screen, "#runbook-plan"), "undo")
        assert state(svc, "checkout-new-flow")["enabled"] is True


async def test_declining_a_step_stops_the_run_without_changes(fresh_service: RunningService) -> None:
    app = make_app(fresh_service)
    before = state(fresh_service, "payments-sepa-debit")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = RunbooksScreen(select="freeze-team")
        await app.push_screen(screen)
        await wait_for(
            pilot,
            lambda: screen.current() is not None and screen.current().id == "freeze-team",
            "freeze-team highlighted",
        )
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, RunbookStartModal, "#runbook-start-run"), "the start dialog")
        app.screen.query_one("#runbook-reason", Input).value = "INC-4 trying the freeze"
        await pilot.pause()
        app.screen.query_one("#runbook-start-run", Button).press()
        await wait_for(pilot, lambda: showing(app, StepConfirmModal, "#runbook-step-apply"), "the step confirmation")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.last_run is not None, "the run to stop")
        assert screen.last_run is not None and screen.last_run.status == "stopped"
        assert "[!] 2." in text(screen, "#runbook-progress")
    assert state(fresh_service, "payments-sepa-debit") == before


async def test_read_only_console_and_hostile_runbook_text(service: RunningService, tmp_path: Path) -> None:
    user = tmp_path / "user-runbooks"
    user.mkdir()
    (user / "hostile.yaml").write_text(
        'id: hostile\ntitle: "[bold red]pwn[/] \\x1b[31m"\nenvironment: dev\nsteps:\n  - note: "[link=x]click[/link]"\n'
    )
    app = make_app(service, readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = RunbooksScreen(select="hostile")
        await app.push_screen(screen)
        await wait_for(pilot, lambda: "hostile" in text(screen, "#runbook-about"), "listed")
        assert "[bold red]pwn[/] \\x1b[31m" in text(screen, "#runbook-about")  # shown literally
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, RunbooksScreen)
        assert "Read-only" in str(screen.query_one("#runbook-status", Label).content)


async def test_palette_opens_a_runbook(service: RunningService) -> None:
    app = make_app(service)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"runbook: guarded")
        await wait_for(
            pilot,
            lambda: (
                "runbook: guarded-rollout" in str([str(o.prompt) for o in app.screen.query_one(OptionList).options])
            ),
            "the palette hit",
            timeout=10,
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbooksScreen), "the runbooks screen")
        screen = app.screen
        assert isinstance(screen, RunbooksScreen)
        await wait_for(
            pilot,
            lambda: screen.current() is not None and screen.current().id == "guarded-rollout",
            "guarded-rollout highlighted",
        )
