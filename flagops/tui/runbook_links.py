"""The console's runbook catalog, and which runbooks touch a flag (for the detail screen).

Uses the runbooks package's catalog (flagops.runbooks.catalog: `default_dirs`, `load_catalog`,
`Catalog.touching`) — the same folders and the same "touches" rule as `flagops runbook` and the runbooks
screen. Broken files are not reported here: `flagops runbook list` is where their problems show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flagops.model import Flag
from flagops.runbooks.catalog import Catalog, default_dirs, load_catalog


@dataclass(frozen=True)
class RunbookLink:
    id: str
    title: str
    path: str


def load_runbook_catalog(runbooks_dir: str | None) -> Catalog:
    """The catalog for a profile's `runbooks_dir` (blocking file I/O: call it from a thread)."""
    return load_catalog([Path(d) for d in default_dirs(runbooks_dir)])


def runbooks_touching(catalog: Catalog | None, flag: Flag, environment: str) -> list[RunbookLink] | None:
    """The runbooks that touch `flag`; None while the catalog is not loaded yet."""
    if catalog is None:
        return None
    try:
        touching = catalog.touching(flag, environment)
    except Exception:
        return []  # a runbook whose selector cannot be evaluated is `flagops runbook check`'s to report
    return [RunbookLink(rb.id, rb.title, str(rb.path)) for rb in touching]
