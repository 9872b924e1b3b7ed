"""ConsoleHost: what the console's screens, dialogs and palette need from the app that runs them.

FlagOpsApp (app.py) is the one implementation; the screens never import it, because app.py imports the
screens and an arrow back would close a circle. A screen asks `console_host(self.app)` (full screens:
`ConsoleScreen.host`), which checks the app against this runtime-checkable Protocol: mounted in an app
that is not a console, a screen fails at once and says why, instead of an AttributeError later on.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from flagops.backends.base import FlagBackend
from flagops.config import Profile
from flagops.model import Environment
from flagops.ops import Ops
from flagops.tui.governance_live import LiveGovernance
from flagops.tui.live.error_rates import ErrorRateFeed
from flagops.tui.live.store import LiveFlags

ActionKind = Literal["kill", "rollout", "rollback"]
Destination = Literal["dashboard", "runbooks", "timeline", "approvals"]  # the screens reached by name from anywhere


@runtime_checkable
class ConsoleHost(Protocol):
    """The console app as its screens see it: read-only attributes, and the flows screens hand over to."""

    @property
    def profile(self) -> Profile: ...

    @property
    def backend(self) -> FlagBackend: ...

    @property
    def ops(self) -> Ops: ...

    @property
    def store(self) -> LiveFlags:
        """The current environment's flags and error rates, kept current by the app's feeds."""
        ...

    @property
    def governance(self) -> LiveGovernance:
        """Open change requests and break-glass reviews of the current environment, kept current."""
        ...

    @property
    def error_rates(self) -> ErrorRateFeed:
        """The metrics loop: told which rows are on screen, and how long a window its rates cover."""
        ...

    @property
    def environment(self) -> str: ...

    @property
    def environments(self) -> list[Environment]: ...

    @property
    def readonly(self) -> bool: ...

    def current_environment(self) -> Environment | None: ...

    def open_flag(self, key: str) -> None:
        """The flag detail screen for `key` (an unknown key gets the "did you mean" dialog)."""

    def goto_flag(self, typed: str = "") -> None:
        """The go-to-flag dialog (`g`), optionally with a key already typed."""

    def start_action(self, kind: ActionKind, key: str) -> None:
        """The confirmation dialog for a change to `key` in the current environment."""

    def switch_environment(self, environment: str) -> None: ...

    def go_to(self, name: Destination, select: str | None = None) -> None:
        """Show screen `name`, going back to it when it is already open; `select`: a runbook to show."""

    def check_size(self) -> None:
        """Cover the console while the terminal is below its minimum size (screens call it on resize)."""


def console_host(app: object) -> ConsoleHost:
    """`app` as a ConsoleHost; a TypeError naming the app when it is not a flagops console."""
    if not isinstance(app, ConsoleHost):
        raise TypeError(f"{type(app).__name__} is not a flagops console: it does not provide ConsoleHost")
    return app
