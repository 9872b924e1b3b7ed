"""Where runbooks live and how a set of them is found: the shipped examples plus the user's folder.

`--dir PATH` (or the profile's `runbooks_dir`) replaces the user's folder; with `--dir` the shipped
examples are left out so a team can point at exactly its own set. A file that does not load is kept as
a `Broken` entry so `runbook list` can show it instead of failing as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flagops import resources
from flagops.errors import NotFound
from flagops.model import Flag
from flagops.runbooks.loader import SUFFIX, load_file
from flagops.runbooks.problems import RunbookError
from flagops.runbooks.schema import Runbook
from flagops.runbooks.targets import touches


def shipped_dir() -> Path | None:
    """The shipped `runbooks/` folder (see flagops.resources)."""
    return resources.shipped_dir("runbooks")


def user_dir() -> Path:
    """$FLAGOPS_RUNBOOKS_DIR, else `runbooks/` under the XDG config dir (may not exist)."""
    env = os.environ.get("FLAGOPS_RUNBOOKS_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("flagops")) / "runbooks"


def default_dirs(profile_dir: str | None = None) -> list[Path]:
    dirs = [d for d in (shipped_dir(),) if d is not None]
    dirs.append(Path(profile_dir).expanduser() if profile_dir else user_dir())
    return dirs


@dataclass
class Catalog:
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    broken: list[RunbookError] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)  # "id: a.yaml shadowed by b.yaml"

    def get(self, ident: str) -> Runbook:
        """By id, or by a path to a runbook file."""
        if ident in self.runbooks:
            return self.runbooks[ident]
        path = Path(ident)
        if path.suffix in SUFFIX and path.is_file():
            return load_file(path)
        for err in self.broken:
            if Path(err.path).stem == ident:
                raise err
        known = ", ".join(sorted(self.runbooks)) or "none"
        raise NotFound(f"no runbook {ident!r}", detail=f"known runbooks: {known}")

    def touching(self, flag: Flag, environment: str | None = None) -> list[Runbook]:
        """Runbooks that name `flag` or select it with their default params, by id."""
        return sorted((rb for rb in self.runbooks.values() if touches(rb, flag, environment)), key=lambda rb: rb.id)


def load_catalog(dirs: list[Path]) -> Catalog:
    """Later folders win when two runbooks share an id."""
    catalog = Catalog()
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIX and p.is_file()):
            try:
                runbook = load_file(path)
            except RunbookError as err:
                catalog.broken.append(err)
                continue
            if runbook.id in catalog.runbooks:
                catalog.shadowed.append(f"{runbook.id}: {catalog.runbooks[runbook.id].path} shadowed by {path}")
            catalog.runbooks[runbook.id] = runbook
    return catalog


def runbook_catalog(runbooks_dir: str | None = None, only: Sequence[str | Path] = ()) -> Catalog:
    """The runbooks every face shows (CLI, runbooks screen, palette, flag detail): the shipped examples plus
    `runbooks_dir` (the profile's), else the user's folder; with `only` (`--dir`), exactly those folders.
    Blocking file I/O: the console calls it from a thread."""
    folders = [Path(d).expanduser() for d in only] if only else default_dirs(runbooks_dir)
    return load_catalog(folders)
