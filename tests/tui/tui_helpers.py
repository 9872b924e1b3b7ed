"""Helpers for console tests: build the real app against a real service, wait for things, create flags."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Label

from flagops.config import Profile
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.app import FlagOpsApp
from flagops.tui.widgets.flag_table import FlagTable


def make_app(
    url: str,
    token: str,
    *,
    environment: str = "dev",
    readonly: bool = False,
    keys: dict[str, str] | None = None,
    min_reason_length: int = 8,
) -> FlagOpsApp:
    profile = Profile(
        name="test",
        url=url,
        environment=environment,
        readonly=readonly,
        keys=keys or {},
        min_reason_length=min_reason_length,
    )
    backend = open_backend(profile, Secret(token))
    app = FlagOpsApp(profile, backend, environment=environment, readonly=readonly)
    app.changes.probe_interval = 0.5  # tests want to see a lost service quickly
    return app


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


async def wait_loaded(pilot: Pilot[Any], app: FlagOpsApp) -> FlagTable:
    await wait_for(pilot, lambda: app.store.loaded and len(table(app).keys) > 0, what="flags loaded")
    return table(app)


def flags_screen(app: FlagOpsApp) -> Any:
    return next(screen for screen in app.screen_stack if screen.id == "flags-screen")


def table(app: FlagOpsApp) -> FlagTable:
    return flags_screen(app).query_one(FlagTable)  # type: ignore[no-any-return]


def label_text(app: FlagOpsApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


def row_text(app: FlagOpsApp, key: str) -> str:
    """The rendered line of `key` in the flags table (as a person would read it)."""
    t = table(app)
    row = t.keys.index(key)
    t.scroll_to(y=max(0, row - 2), animate=False)
    return t.render_line(row - int(t.scroll_y) + 1).text


def create_flag(
    client: Any, *, prefix: str = "tui-test", enabled: bool = True, rollout: float = 50, owner: str = "team-tui"
) -> str:
    key = f"{prefix}-{secrets.token_hex(3)}"
    body = {
        "key": key,
        "name": f"{key} for console tests",
        "owner": owner,
        "tags": ["tui-test"],
        "environments": {env: {"enabled": enabled, "rollout": rollout} for env in ("dev", "staging", "prod")},
        "changeReason": "created by the console tests",
    }
    response = client.post("/v1/flags", json=body)
    assert response.status_code in (200, 201), response.text
    return key


def flag_state(client: Any, key: str, environment: str) -> dict[str, Any]:
    response = client.get(f"/v1/flags/{key}", params={"environment": environment})
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["environments"][environment]
    return state


def audit_entries(client: Any, key: str) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params={"flag": key})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def no_approvals(workdir: Path) -> list[str]:
    """Service arguments for a demo without its default approval policy (prod high/critical need one):
    for tests about direct writes to high-risk prod flags, not about approvals (test_approvals.py is)."""
    workdir.mkdir(parents=True, exist_ok=True)
    policy = workdir / "no-approvals.yaml"
    policy.write_text("approvals: []\n")
    return ["--policy", str(policy)]
