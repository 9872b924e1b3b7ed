"""The harness itself: a real Unleash of the pinned version, on PostgreSQL, reachable with the seeded token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .unleash_harness import UNLEASH_VERSION, UnleashServer, start_unleash


def test_real_unleash_of_the_pinned_version_is_running(unleash: UnleashServer) -> None:
    with unleash.client() as c:
        assert c.get("/health").json()["health"] == "GOOD"
        config = c.get("/api/admin/ui-config").json()
        assert config["versionInfo"]["current"]["oss"] == UNLEASH_VERSION
        assert c.get("/api/admin/projects").status_code == 200
    assert unleash.psql("select 1").strip() == "1"


def test_a_missing_install_fails_loudly_instead_of_skipping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLAGOPS_UNLEASH_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(pytest.fail.Exception, match=re.escape("install.sh")):
        start_unleash(None)  # type: ignore[arg-type]  # fails before it needs the database
