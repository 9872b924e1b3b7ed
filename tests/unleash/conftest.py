"""Session fixture `unleash`: a real Unleash 7.5.1 on PostgreSQL (see unleash_harness.py).

Nothing here skips: if Unleash cannot start, every Unleash test errors with the reason (a skip is not a pass).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flagops.backends.unleash import UnleashBackend
from flagops.backends.unleash.changelog import ChangeLog
from flagops.secrets import Secret

from .unleash_harness import UnleashServer, start_postgres, start_unleash


@pytest.fixture(scope="session")
def unleash() -> Iterator[UnleashServer]:
    pg = start_postgres()
    try:
        server = start_unleash(pg)
        try:
            yield server
        finally:
            server.stop()
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.unleash)


@pytest.fixture(scope="session")
def second_project(unleash: UnleashServer) -> str:
    """A second project. Unleash OSS has no API to create one (a paid feature), so it goes in through SQL."""
    unleash.psql(
        "insert into projects (id, name, description) values ('payments', 'Payments', 'flagops tests') "
        "on conflict do nothing; insert into project_environments (project_id, environment_name) "
        "values ('payments', 'development'), ('payments', 'production') on conflict do nothing;"
    )
    return "payments"


@pytest.fixture
def make_feature(unleash: UnleashServer) -> Iterator[Callable[..., str]]:
    """Creates a feature through Unleash's own API; returns its (unique) key."""
    client = unleash.client()

    def create(
        prefix: str = "flag",
        *,
        project: str = "default",
        prod_rollout: int | None = 25,
        prod_on: bool = True,
        dev_on: bool = False,
        kind: str = "release",
        extra_prod: list[dict[str, Any]] | None = None,
    ) -> str:
        key = f"{prefix}-{uuid.uuid4().hex[:8]}"
        base = f"/api/admin/projects/{project}/features"
        client.post(base, json={"name": key, "type": kind, "description": f"{prefix} for tests"}).raise_for_status()
        env = f"{base}/{key}/environments"
        if prod_rollout is not None:
            client.post(
                f"{env}/production/strategies",
                json={
                    "name": "flexibleRollout",
                    "parameters": {"rollout": str(prod_rollout), "stickiness": "default", "groupId": key},
                },
            ).raise_for_status()
        for strategy in extra_prod or []:
            client.post(f"{env}/production/strategies", json=strategy).raise_for_status()
        if prod_on:
            client.post(f"{env}/production/on").raise_for_status()
        if dev_on:
            client.post(f"{env}/development/on").raise_for_status()
        return key

    yield create
    client.close()


@pytest.fixture
def changelog(tmp_path: Path) -> ChangeLog:
    return ChangeLog(tmp_path / "state" / "unleash-changes.jsonl")


@pytest.fixture
async def backend(unleash: UnleashServer, changelog: ChangeLog) -> AsyncIterator[UnleashBackend]:
    b = UnleashBackend(unleash.url, Secret(unleash.admin_token), changelog=changelog, poll_interval=0.2)
    yield b
    await b.aclose()
