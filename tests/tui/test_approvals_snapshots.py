"""SVG snapshots of the approvals screen (`c`), against fixed data (fixed_governance.py).

Accept an intended change with `.venv/bin/pytest tests/tui/test_approvals_snapshots.py --snapshot-update`
after looking at the new pictures (see test_snapshots.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from fixed_governance import FixedApprovalsBackend
from test_snapshots import Snap, loaded, pinned_world, until  # noqa: F401  (pinned_world: the pinned clock)
from textual.pilot import Pilot

from flagops.config import Profile
from flagops.tui.app import FlagOpsApp


def console(*, enforced: bool = True, readonly: bool = False) -> FlagOpsApp:
    profile = Profile(name="snapshots", url="http://fixed.invalid", environment="prod", readonly=readonly)
    return FlagOpsApp(profile, FixedApprovalsBackend(enforced=enforced))  # type: ignore[arg-type]


async def open_approvals(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    app: Any = pilot.app
    await until(pilot, lambda: app.governance.loaded)
    await pilot.press("c")
    await until(pilot, lambda: app.screen.id == "approvals-screen")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
def test_approvals_screen(snap_compare: Snap, size: tuple[int, int]) -> None:
    assert snap_compare(console(), terminal_size=size, run_before=open_approvals)


def test_approvals_screen_not_enforced_readonly(snap_compare: Snap) -> None:
    assert snap_compare(console(enforced=False, readonly=True), terminal_size=(80, 24), run_before=open_approvals)


def test_approve_dialog(snap_compare: Snap) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await open_approvals(pilot)
        await pilot.press("down")  # from the review to the pending request (headings are skipped)
        await pilot.press("a")
        app: Any = pilot.app
        await until(pilot, lambda: app.screen.id == "signoff-modal")
        await pilot.pause(0.3)

    assert snap_compare(console(), terminal_size=(80, 24), run_before=before)
