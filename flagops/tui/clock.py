"""The console's clock and how it writes a moment, in one place (snapshot tests pin `utcnow`).

Every change time on screen goes through `when`: a time alone for today, a date as well otherwise
(flagops.timefmt, shared with the CLI), so a change from three days ago never reads as "this morning".
"""

from __future__ import annotations

from datetime import UTC, datetime

from flagops import timefmt


def utcnow() -> datetime:
    return datetime.now(UTC)


def when(at: datetime | None, *, seconds: bool = True) -> str:
    return timefmt.when(at, utcnow(), seconds=seconds)
