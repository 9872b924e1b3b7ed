"""How current the console's data is: live, reconnecting (n), stale since HH:MM:SS, or refused."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from flagops import timefmt


class Link(str, Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    FAILED = "failed"  # retrying cannot help (the token is not accepted)


@dataclass(frozen=True)
class ConnectionState:
    link: Link
    attempts: int = 0  # failed attempts since the connection was lost
    stale_since: datetime | None = None  # when the data stopped being current
    polling: bool = False  # True when updates come from polling, not the stream
    error: str | None = None  # the last failure, in words

    def label(self) -> str:
        """'live', 'reconnecting (3)', 'stale since 03:12:09' — what the header shows."""
        if self.link is Link.LIVE:
            return "live (polling)" if self.polling else "live"
        if self.link is Link.RECONNECTING:
            return f"reconnecting ({self.attempts})"
        if self.link is Link.STALE and self.stale_since is not None:
            return f"stale since {timefmt.when(self.stale_since)}"  # a date too when it was not today
        if self.link is Link.FAILED:
            return "not authorized"
        if self.link is Link.CONNECTING and self.attempts:
            return f"connecting ({self.attempts})"
        return str(self.link.value)


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 15.0) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to `cap`."""
    delay: float = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 (jitter spreads reconnects; not a secret)
