"""Losing and regaining the service: the header says reconnecting (n), then stale since HH:MM:SS, the
last-known rows stay on screen, and after the service is back the console is live again and follows
changes. The service is a real process killed with SIGKILL and restarted on the same port and database.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from conftest import start_service
from tui_helpers import create_flag, flag_state, label_text, make_app, row_text, table, wait_for, wait_loaded

pytestmark = pytest.mark.timeout(180)


def connection(app: Any) -> str:
    return label_text(app, "#header-connection")


async def test_disconnect_shows_reconnecting_then_stale_and_recovers(tmp_path: Path) -> None:
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
            key = create_flag(client, rollout=50)
        app = make_app(svc.url, svc.admin_token, environment="dev")
        async with app.run_test(size=(100, 30)) as pilot:
            t = await wait_loaded(pilot, app)
            rows = len(t.keys)
            await wait_for(pilot, lambda: connection(app).endswith("live"), what="live")

            svc.kill()
            await wait_for(pilot, lambda: "reconnecting (" in connection(app), timeout=15, what="reconnecting")
            assert "reconnecting" in app.screen.query_one("#header-connection").classes
            await wait_for(pilot, lambda: "stale since" in connection(app), timeout=30, what="stale")
            assert re.search(r"stale since \d\d:\d\d:\d\d", connection(app))
            assert len(table(app).keys) == rows  # the last-known data is still shown
            assert "50%" in row_text(app, key)

            restarted = start_service(
                tmp_path / "svc",
                demo=True,
                db_path=svc.db_path,
                tokens_file=svc.tokens_file,
                tokens=tokens,
                extra_args=["--port", str(port)],
            )
            assert restarted.url == svc.url
            await wait_for(pilot, lambda: connection(app).endswith("live"), timeout=40, what="live again")
            with restarted.client() as client:
                version = flag_state(client, key, "dev")["version"]
                r = client.patch(
                    f"/v1/flags/{key}",
                    params={"environment": "dev"},
                    headers={"If-Match": f'"{version}"'},
                    json={"rollout": 7, "changeReason": "after the outage"},
                )
                assert r.status_code == 200, r.text
            # a bound for an event to arrive, not a speed target: on a loaded 2-core CI box the SSE push can take >5 s
            await wait_for(pilot, lambda: "7%" in row_text(app, key), timeout=30, what="changes followed again")
    finally:
        svc.stop()
        if restarted is not None:
            restarted.stop()


async def test_no_service_at_startup_says_connecting_and_loads_when_it_appears(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", demo=True)
    port = urlparse(svc.url).port
    tokens = {
        "admin": svc.admin_token,
        "read": svc.read_token,
        "writer_dev": svc.writer_dev_token,
        "metrics": svc.metrics_token,
    }
    svc.stop()
    restarted = None
    try:
        app = make_app(svc.url, svc.admin_token, environment="dev")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "connecting (" in connection(app), timeout=20, what="connecting (n)")
            assert not app.store.loaded
            restarted = start_service(
                tmp_path / "svc",
                demo=True,
                db_path=svc.db_path,
                tokens_file=svc.tokens_file,
                tokens=tokens,
                extra_args=["--port", str(port)],
            )
            await wait_loaded(pilot, app)
            await wait_for(pilot, lambda: connection(app).endswith("live"), timeout=20, what="live")
    finally:
        if restarted is not None:
            restarted.stop()
