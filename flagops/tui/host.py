"""What screens need from the console app (interfaces.md point 5), as a Protocol.

Screens call `console_host(self.app)` instead of importing FlagOpsApp, so they can be built and tested
inside any App that offers the same attributes, and app.py can import the screens without a cycle.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from flagops.backends.base import FlagBackend
from flagops.model import Environment


class ConsoleHost(Protocol):
    backend: FlagBackend
    environment: str
    environments: list[Environment]
    readonly: bool


def console_host(app: object) -> ConsoleHost:
    return cast(ConsoleHost, app)


def live_store(app: object) -> Any | None:
    """The app's LiveFlags store when it has one (flags + per-flag error rates, kept current)."""
    return getattr(app, "store", None)
