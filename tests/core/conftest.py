"""Fixtures of the CLI tests: distinct demo flags per test, and a CLI environment against the shared service."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunningService

from core.clitools import FlagPicker, cli_env


@pytest.fixture(scope="module")
def picker(service: RunningService) -> FlagPicker:
    return FlagPicker(service.url, service.admin_token)


@pytest.fixture
def env(service: RunningService, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, url=service.url, token=service.admin_token)
