"""Which runbooks touch a flag, for the detail screen.

Uses the runbooks package's catalog (flagops.runbooks.catalog: `runbook_catalog`, `Catalog.touching`) — the
same folders and the same "touches" rule as `flagops runbook` and the runbooks screen. Broken files are not
reported here: `flagops runbook list` is where their problems show.
"""

from __future__ import annotations

from dataclasses import dataclass

from flagops.model import Flag
from flagops.runbooks.catalog import Catalog


@dataclass(frozen=True)
class RunbookLink:
    id: str
    title: str
    path: str


def runbooks_touching(catalog: Catalog | None, flag: Flag, environment: str) -> list[RunbookLink] | None:
    """The runbooks that touch `flag`; None while the catalog is not loaded yet."""
    if catalog is None:
        return None
    try:
        touching = catalog.touching(flag, environment)
    except Exception:
        return []  # a runbook whose selector cannot be evaluated is `flagops runbook check`'s to report
    return [RunbookLink(rb.id, rb.title, str(rb.path)) for rb in touching]
