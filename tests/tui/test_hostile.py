"""Hostile data through every screen, the palette and toasts: shown literally, nothing crashes, nothing runs.

Flags whose every free-text field carries markup, ANSI escapes, bidi overrides, right-to-left text and a
5,000-character name are created in the real service over HTTP; the real console is driven with Pilot at
80x24. After each step the rendered screen (the compositor's output, i.e. what would reach the terminal)
is checked: the markup shows as text, no escape byte reaches the terminal, and no `@click` action from the
data exists anywhere on screen. The app must still be running at the end (`[@click=app.quit]` never ran).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningService, start_service
from textual.pilot import Pilot
from tui_helpers import no_approvals

MARKUP = "[bold]B[/bold] [/] [@click=app.quit]Q[/] [$error]E"
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07"
RTL = "שלום עולם مرحبا"
BIDI = "\u202eevil\u202c"
LONG_NAME = "L" * 4990 + " long-end"
CORPUS = f"{MARKUP} {ANSI} {RTL} {BIDI}"
REASON = f"hostile reason {MARKUP} {ANSI}"


def hostile_flag(key: str, name: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "description": f"{CORPUS}\nsecond line [italic]",
        "kind": "multivariate",
        "variants": [{"key": "[bold]", "value": 1}, {"key": "[/]", "value": 2}, {"key": ANSI, "value": 3}],
        "tags": ["[/]", "[$error]", RTL],
        "owner": "[@click=app.quit]owner[/]",
        "riskLevel": "critical",
        "killSwitch": True,
        "ticket": "[@click=app.quit]T-1",
        "dashboards": [f"https://grafana.example/{ANSI}[bold]"],
        "changeReason": REASON,
        "environments": {
            env: {
                "enabled": True,
                "rollout": 50,
                "defaultVariant": "[bold]",
                "offVariant": "[/]",
                "rules": [
                    {"id": "r1", "attribute": "[$error]", "op": "in", "values": [MARKUP, ANSI], "variant": "[/]"}
                ],
            }
            for env in ("dev", "staging", "prod")
        },
    }


@pytest.fixture(scope="module")
def hostile_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    workdir = tmp_path_factory.mktemp("hostile")
    svc = start_service(workdir, demo=True, extra_args=no_approvals(workdir))
    with svc.client() as http:
        for key, name in (("hostile-markup", CORPUS), ("hostile-long", LONG_NAME)):
            response = http.post("/v1/flags", json=hostile_flag(key, name))
            assert response.status_code == 201, response.text
        current = http.get("/v1/flags/hostile-markup", params={"environment": "prod"})
        response = http.patch(
            "/v1/flags/hostile-markup",
            params={"environment": "prod"},
            headers={"If-Match": current.headers["ETag"]},
            json={"rollout": 60, "changeReason": REASON, "ticket": f"{MARKUP}"},
        )
        assert response.status_code == 200, response.text
    yield svc
    svc.stop()


@pytest.fixture
async def console(
    hostile_service: RunningService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    from flagops.config import Profile
    from flagops.session import open_backend
    from flagops.tui.app import FlagOpsApp

    # a user theme whose name and colours are hostile: its problem is reported in a toast
    theme_dir = tmp_path / "themes"
    theme_dir.mkdir()
    (theme_dir / "evil.yaml").write_text('name: evil\ncolors: {primary: "[@click=app.quit]Q[/] \\x1b[31m"}\n')
    monkeypatch.setenv("FLAGOPS_THEME_DIR", str(theme_dir))
    # a runbook whose title, description, note and step name are hostile
    runbook_dir = tmp_path / "runbooks"
    runbook_dir.mkdir()
    (runbook_dir / "hostile.yaml").write_text(
        "id: hostile-runbook\n"
        'title: "[bold]RB[/bold] [@click=app.quit]title[/]"\n'
        'description: "[$error]desc \\x1b[31m"\n'
        "environment: prod\n"
        "steps:\n"
        '  - note: "[@click=app.quit]note[/]"\n'
        '  - name: "[bold]kill it[/]"\n'
        "    kill: hostile-markup\n"
    )
    monkeypatch.setenv("FLAGOPS_RUNBOOKS_DIR", str(runbook_dir))
    profile = Profile(name="[bold]prof[/]", url=hostile_service.url, environment="prod", theme="evil")
    backend = open_backend(profile, hostile_service.admin_token)
    app = FlagOpsApp(profile, backend)
    yield app
    await backend.aclose()


def screen_text(pilot: Pilot[Any]) -> str:
    """What the terminal would get, as text; fails on escape bytes or data-driven click actions."""
    strips = pilot.app.screen._compositor.render_strips()
    for strip in strips:
        for segment in strip:
            assert "\x1b" not in segment.text and "\x07" not in segment.text, segment.text
            assert "\u202e" not in segment.text
            meta = segment.style.meta if segment.style is not None else {}
            assert "app.quit" not in repr(meta.get("@click", "")), meta
    return "\n".join(strip.text for strip in strips)


async def settle(pilot: Pilot[Any], seconds: float = 0.3) -> None:
    await pilot.pause(seconds)  # the live loops never complete: wait by time, then by condition


async def wait_for(pilot: Pilot[Any], predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached")


async def test_hostile_text_is_inert_everywhere(console: Any) -> None:
    from flagops.tui.screens.dashboard_screen import DashboardScreen
    from flagops.tui.screens.detail_screen import FlagDetailScreen
    from flagops.tui.screens.help_screen import HelpScreen

    app = console
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.store.loaded and "hostile-markup" in app.store.flags)

        # toasts: the hostile theme file's problem and the unknown theme, as literal text
        await pilot.pause(0.2)
        toasts = [n.message for n in app._notifications]
        assert any("[@click=app.quit]Q[/] \\x1b[31m" in m for m in toasts), toasts
        # the toast is on screen, literally
        await wait_for(pilot, lambda: "[@click=app.quit]Q[/]" in screen_text(pilot), timeout=5)

        # flags screen: search for the hostile flags
        await pilot.press("slash")
        await pilot.press(*"hostile")
        await pilot.pause(0.5)
        text = screen_text(pilot)
        assert "hostile-markup" in text

        # detail screen: every section of the flag with markup everywhere
        app.open_flag("hostile-markup")
        await wait_for(pilot, lambda: isinstance(app.screen, FlagDetailScreen) and app.screen.flag is not None)
        await settle(pilot, 0.5)
        detail = app.screen
        # clicking on the hostile text does nothing (were it markup, this would quit the app)
        for selector in ("#detail-title", "#detail-name", "#detail-summary"):
            await pilot.click(selector)
            await pilot.pause(0.05)
        assert app.is_running and app.screen is detail
        # scroll through the whole screen and collect everything drawn
        seen = []
        for _ in range(40):
            seen.append(screen_text(pilot))
            await pilot.press("pagedown")
            await pilot.pause(0.05)
        drawn = "\n".join(seen)
        for literal in (
            "[bold]B[/bold]",
            "[@click=app.quit]Q[/]",
            "[$error]E",
            "\\x1b[31mRED",
            "\\x07",
            "\\u202eevil",
            "[@click=app.quit]owner[/]",
            "[@click=app.quit]T-1",
            "[italic]",
        ):
            assert literal in drawn, literal
        assert RTL.split()[0] in drawn
        assert "hostile reason" in drawn  # the audit's reason, literally
        assert "[bold]RB[/bold] [@click=app.quit]title[/]" in drawn  # the runbook that touches it

        # the action modal repeats the flag's hostile name and state
        await pilot.press("k")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ActionModal")
        await pilot.pause(0.3)
        assert "hostile-markup" in screen_text(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is detail)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        screen_text(pilot)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.screen is detail

        # the 5,000-character name: cut, with a note, and the screen still lays out
        await pilot.press("escape")
        app.open_flag("hostile-long")
        await wait_for(pilot, lambda: isinstance(app.screen, FlagDetailScreen) and app.screen.flag is not None)
        await settle(pilot, 0.3)
        text = screen_text(pilot)
        assert "(4,999 chars)" in text
        await pilot.press("escape")

        # dashboard: the feed shows the hostile reason literally
        app.push_screen(DashboardScreen())
        await settle(pilot, 0.5)
        await wait_for(pilot, lambda: "hostile" in screen_text(pilot))
        dash = "\n".join(screen_text(pilot) for _ in range(1))
        assert "hostile-markup" in dash
        await pilot.press("escape")

        # palette: flags whose names are markup, matched and drawn as text
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"hostile")
        await pilot.pause(1.0)
        text = screen_text(pilot)
        assert "hostile-markup" in text
        assert "[bold]RB[/bold]" in text  # the hostile runbook's title, as a palette hit
        await pilot.press("escape")
        await pilot.pause(0.2)

        # the runbooks screen, on the hostile runbook
        from flagops.tui.runbook_palette import open_runbooks

        open_runbooks(app, "hostile-runbook")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunbooksScreen")
        await wait_for(pilot, lambda: "[@click=app.quit]title[/]" in screen_text(pilot), timeout=5)
        await pilot.press("escape")
        await pilot.pause(0.2)

        # the timeline: the hostile change (reason, ticket) drawn as text, with its header
        await pilot.press("escape")  # leave the flags screen's search box, where t would be typed
        await pilot.press("t")
        await wait_for(
            pilot,
            lambda: type(app.screen).__name__ == "TimelineScreen" and getattr(app.screen, "timeline", None) is not None,
        )
        await wait_for(pilot, lambda: "hostile reason [bold]B[/bold]" in screen_text(pilot), timeout=5)
        assert "profile [bold]prof[/]" in screen_text(pilot)  # the header, hostile profile name literal
        await pilot.press("escape")
        await pilot.pause(0.2)

        # go to flag with a hostile key: "no such flag" with the key literal
        await pilot.press("g", *"[@click=app.quit]x[/]", "enter")
        await wait_for(pilot, lambda: "No flag '[@click=app.quit]x[/]'" in screen_text(pilot), timeout=5)
        await pilot.press("escape")
        await pilot.pause(0.2)

        assert app.is_running  # [@click=app.quit] never ran
        assert app.return_code is None
