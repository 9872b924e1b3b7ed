"""Which runbooks touch a flag, for the detail screen and the palette.

Uses the runbooks package (flagops.runbooks: `loader.load_file`, `Runbook.flag_keys()`) when it is there;
returns None when it is not, so the console leaves the section out instead of faking it. Files that do
not load are skipped here: `flagops runbook check` is where their problems are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunbookLink:
    id: str
    title: str
    path: str


def runbook_dirs(app: object) -> list[Path]:
    """The profile's runbooks_dir, else the runbooks shipped with flagops (the demo's examples)."""
    profile = getattr(app, "profile", None)
    configured = getattr(profile, "runbooks_dir", None)
    if configured:
        return [Path(configured).expanduser()]
    return [Path(__file__).resolve().parents[2] / "runbooks"]


def runbooks_touching(app: object, flag_key: str) -> list[RunbookLink] | None:
    try:
        from flagops.runbooks.loader import load_file
    except ImportError:
        return None
    links: list[RunbookLink] = []
    for folder in runbook_dirs(app):
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                runbook = load_file(path)
            except Exception:  # noqa: BLE001 - a broken runbook must not break the detail screen
                continue
            if flag_key in runbook.flag_keys():
                links.append(RunbookLink(runbook.id, runbook.title, str(path)))
    return links
