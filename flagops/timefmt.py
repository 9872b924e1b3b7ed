"""How the console and the CLI show a moment: short when it is today, with a date when it is not.

At 03:00 "14:02:11" reads as "a few minutes ago" — wrong for a change made three days earlier. So a time
alone is shown only for today (local time); earlier this year gets the month and day, older the year too.
"""

from __future__ import annotations

from datetime import UTC, datetime


def when(at: datetime | None, now: datetime | None = None, *, seconds: bool = True) -> str:
    """`at` in local time, as short as is still unambiguous next to `now`; "-" for no time."""
    if at is None:
        return "-"
    local = at.astimezone()
    today = (now or datetime.now(UTC)).astimezone()
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if local.date() == today.date():
        return local.strftime(clock)
    if local.year == today.year:
        return local.strftime(f"%b %d {clock}")
    return local.strftime(f"%Y-%m-%d {clock}")


def ago(at: datetime | None, now: datetime | None = None) -> str:
    """How long before `now` `at` was ("12s ago", "3d ago"); a future time is shown as a date instead."""
    if at is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - at).total_seconds()
    if seconds < 0:
        return at.astimezone().strftime("%Y-%m-%d %H:%M")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"
