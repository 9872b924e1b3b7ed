"""Where the shipped `themes/` and `runbooks/` folders are.

In a clone or an editable install they sit next to the package (the repository layout). A regular
(wheel) install puts them under `<prefix>/share/flagops/` via pyproject's data-files, so look there next.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path


def shipped_dir(name: str) -> Path | None:
    candidates = [
        Path(__file__).resolve().parent.parent / name,
        Path(sys.prefix) / "share" / "flagops" / name,
        Path(sysconfig.get_path("data")) / "share" / "flagops" / name,
    ]
    return next((path for path in candidates if path.is_dir()), None)
