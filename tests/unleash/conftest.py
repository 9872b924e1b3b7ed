"""Session fixture `unleash`: a real Unleash 7.5.1 on PostgreSQL (see unleash_harness.py).

Nothing here skips: if Unleash cannot start, every Unleash test errors with the reason (a skip is not a pass).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from unleash_harness import UnleashServer, start_postgres, start_unleash


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
