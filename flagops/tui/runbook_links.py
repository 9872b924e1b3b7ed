"""Which runbooks touch a flag, for the detail screen.

Uses the runbooks package's catalog (flagops.runbooks.catalog: `runbook_catalog`, `Catalog.touching`) — the
same folders and the same "touches" rule as `flagops runbook` and the runbooks screen. Broken files are not
reported here: `flagops runbook list` is where their problems show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagops.model import Flag


@dataclass(frozen=True)
class RunbookLink:
    id: str
    title: str
    path: str


def load_runbook_catalog(app: object) -> Any | None:
    """The catalog for the app's profile (blocking file I/O: call it from a thread)."""
    from flagops.runbooks.catalog import runbook_catalog

    profile = getattr(app, "profile", None)
    return runbook_catalog(getattr(profile, "runbooks_dir", None))


def runbooks_touching(catalog: Any | None, flag: Flag, environment: str) -> list[RunbookLink] | None:
    if catalog is None or not hasattr(catalog, "touching"):
        return None
    try:
        touching = catalog.touching(flag, environment)
    except Exception:
        return []
    return [RunbookLink(rb.id, rb.title, str(rb.path)) for rb in touching]
