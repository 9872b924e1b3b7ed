"""A service that hangs (SIGSTOP: it still accepts connections, it never answers) is called stale within
seconds, with the console's default probe settings; after SIGCONT the console is live again.

The service is a real process; the header is read as a person reads it. The measured time is printed
(`-s` shows it); the bound asserted is the behaviour (about 5 s, not the 15-20 s the HTTP client's retries
took), with room for a busy 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from conftest import start_service
from tui_helpers import label_text, make_app, wait_for, wait_loaded

from flagops.tui.live.changes import PROBE_INTERVAL

pytestmark = pytest.mark.timeout(120)

STALE_WITHIN = 8.0  # seconds; the design target is <= 6 (probe every 2 s, 3 s deadline, stale after 5 s)


def connection(app: object) -> str:
    return label_text(app, "#header-connection")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
async def test_hung_service_is_stale_within_seconds_and_live_after_it_resumes(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    svc = start_service(tmp_path / "svc", demo=True)
    stopped = False
    try:
        app = make_app(svc.url, svc.admin_token, environment="prod")
        app.changes.probe_interval = PROBE_INTERVAL  # the shipped settings, not the tests' fast probe
        async with app.run_test(size=size) as pilot:
            await wait_loaded(pilot, app)
            await wait_for(pilot, lambda: connection(app).endswith("live"), what="live")
            await pilot.pause(2.5)  # a probe or two went through: the console has heard from the service
            loop = asyncio.get_running_loop()
            os.kill(svc.process.pid, signal.SIGSTOP)
            stopped = True
            started = loop.time()
            await wait_for(pilot, lambda: "stale since" in connection(app), timeout=20, what="stale")
            took = loop.time() - started
            print(f"\nhung service called stale after {took:.1f} s at {size[0]}x{size[1]}")
            assert took <= STALE_WITHIN, f"stale only after {took:.1f} s"
            assert "stale" in app.screen.query_one("#header-connection").classes
            assert app.store.flags  # the last-known data stays on screen

            os.kill(svc.process.pid, signal.SIGCONT)
            stopped = False
            resumed = loop.time()
            await wait_for(pilot, lambda: connection(app).endswith("live"), timeout=40, what="live again")
            print(f"live again {loop.time() - resumed:.1f} s after SIGCONT")
    finally:
        if stopped:
            os.kill(svc.process.pid, signal.SIGCONT)
        svc.stop()
