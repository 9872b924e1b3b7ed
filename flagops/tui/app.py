"""FlagOpsApp: the console. Holds the backend, ops, the current environment and the live flag store.

It is the ConsoleHost (flagops/tui/host.py) its screens see: they ask for it through `console_host(app)`
and never import this module, so app.py can import the screens without a circle. Screens other than the
flags screen are imported when first shown: the console starts without them.

Blocking work runs in named workers: "environments" (startup), "live" (the ChangeFeed: stream + probes)
and "metrics" (the ErrorRateFeed). Backend failures never escape a worker: they become connection state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.containers import Center, Middle
from textual.screen import ModalScreen
from textual.widgets import Label

from flagops.backends.base import FlagBackend
from flagops.config import Profile
from flagops.errors import FlagOpsError, Forbidden, Unauthorized
from flagops.model import Environment
from flagops.ops import AppliedChange, Ops
from flagops.probe import probe_for
from flagops.tui.governance_live import LiveGovernance
from flagops.tui.host import ActionKind, ConsoleHost, Destination
from flagops.tui.live.changes import ChangeFeed
from flagops.tui.live.connection import ConnectionState, Link
from flagops.tui.live.error_rates import ErrorRateFeed
from flagops.tui.live.store import LiveFlags
from flagops.tui.palette import PALETTE_PROVIDERS, ConsolePalette
from flagops.tui.screens.action_modal import ActionModal
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.screens.flags_screen import FlagsScreen
from flagops.tui.themes import install_themes
from flagops.tui.widgets.flag_table import printable

MIN_WIDTH, MIN_HEIGHT = 80, 24


class TooSmallScreen(ModalScreen[None]):
    """Covers the console while the terminal is smaller than 80x24, and says so."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit", "Quit", id="quit_small")]

    def __init__(self, on_resized: Callable[[], None]) -> None:
        super().__init__(id="too-small")
        self.on_resized = on_resized  # the app's size check: it takes this cover away once there is room

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Label("", id="too-small-message", markup=False)

    def on_mount(self) -> None:
        self.update_size()

    def on_resize(self) -> None:
        self.update_size()
        self.call_after_refresh(self.on_resized)

    def update_size(self) -> None:
        width, height = self.app.size
        self.query_one("#too-small-message", Label).update(
            f"Terminal too small: {width}x{height}. flagops needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n"
            "Enlarge the window (q quits)."
        )


class FlagOpsApp(App[None]):
    CSS_PATH = str(Path(__file__).with_name("flagops.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "flagops"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | PALETTE_PROVIDERS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        profile: Profile,
        backend: FlagBackend,
        *,
        environment: str | None = None,
        readonly: bool | None = None,
        ops: Ops | None = None,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.backend = backend
        self.readonly = profile.readonly if readonly is None else (readonly or profile.readonly)
        self.ops = ops or Ops(
            backend,
            readonly=self.readonly,
            min_reason_length=profile.min_reason_length,
            probe=probe_for(profile, warm=True),
        )
        self.environment = environment or profile.environment or ""
        self.environments: list[Environment] = []
        self.store = LiveFlags(self.environment)
        self.changes = ChangeFeed(backend, self.store)
        self.error_rates = ErrorRateFeed(backend, self.store)
        # change requests and reviews: read again on their stream events and whenever the stream comes back
        self.governance = LiveGovernance(backend, self.environment)
        self.store.on_event(self.governance.event_seen)
        self.store.on_connection(self._governance_connection)
        self._too_small: TooSmallScreen | None = None
        self._screens_ready = False  # the size check waits for the flags screen (resize comes first)

    # -- startup ----------------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        if self.profile.keys:
            self.set_keymap(dict(self.profile.keys))
        install_themes(self, self.profile.theme)
        await self.push_screen(FlagsScreen())
        self._screens_ready = True
        self.run_worker(self._start(), name="environments", group="environments", exit_on_error=False)
        self.check_size()

    async def _start(self) -> None:
        attempt = 0
        while True:
            try:
                self.environments = await self.ops.environments()
                break
            except (Unauthorized, Forbidden) as exc:
                # retrying cannot fix a token the service refuses: say so once and stay put
                self.store.fail(exc.message)
                self.notify(
                    printable(exc.message, 300), title="Not authorized", severity="error", timeout=30, markup=False
                )
                return
            except FlagOpsError as exc:
                attempt += 1
                self.store.connect_failed(attempt, exc.message)
                if attempt == 1:
                    self.notify(
                        printable(exc.message, 300),
                        title="Cannot reach the flag service",
                        severity="error",
                        timeout=8,
                        markup=False,
                    )
                await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
        keys = [env.key for env in self.environments]
        if self.environment not in keys:
            if self.environment:
                self.notify(
                    f"No environment {printable(self.environment, 40)!r}; showing {keys[0]!r}.",
                    severity="warning",
                    markup=False,
                )
            self.environment = keys[0] if keys else self.environment
        self.store.environment = self.environment
        self.governance.switch_environment(self.environment)
        self._start_live()
        self.run_worker(self.governance.run(), name="governance", group="governance", exit_on_error=False)

    def _start_live(self) -> None:
        self.run_worker(self.changes.run(), name="live", group="live", exclusive=True, exit_on_error=False)
        self.run_worker(self.error_rates.run(), name="metrics", group="metrics", exclusive=True, exit_on_error=False)

    def _governance_connection(self, state: ConnectionState) -> None:
        if state.link is Link.LIVE:
            self.governance.refresh_soon()  # events may have been missed while the stream was down

    def current_environment(self) -> Environment | None:
        for env in self.environments:
            if env.key == self.environment:
                return env
        return None

    def switch_environment(self, environment: str) -> None:
        """Show another environment: stop following the old one, load and follow the new one."""
        self.run_worker(self._switch(environment), name="switch", group="switch", exclusive=True, exit_on_error=False)

    async def _switch(self, environment: str) -> None:
        self.workers.cancel_group(self, "live")
        self.workers.cancel_group(self, "metrics")
        self.environment = environment
        await self.store.switch_environment(environment)
        self.governance.switch_environment(environment)
        self._start_live()

    async def on_unmount(self) -> None:
        # the console owns the backend it was given: close its connections on the loop that made them
        with contextlib.suppress(Exception):
            await self.backend.aclose()

    # -- the ConsoleHost surface the screens use ------------------------------------------------------------

    def action_command_palette(self) -> None:
        if self.use_command_palette and not any(isinstance(s, CommandPalette) for s in self.screen_stack):
            self.push_screen(ConsolePalette(id="--command-palette"))

    def goto_flag(self, typed: str = "") -> None:
        """`g`: a key typed out; an unknown one gets "did you mean" (the same suggestions as the CLI)."""
        from flagops.tui.screens.goto_modal import GoToFlagModal

        def chosen(key: str | None) -> None:
            if key is not None:
                self.open_flag(key)

        self.push_screen(GoToFlagModal(self.store.flags, self.environment, typed), chosen)

    def open_flag(self, key: str) -> None:
        """Push the flag detail screen (flagops/tui/screens/detail_screen.py)."""
        from flagops.tui.screens.detail_screen import FlagDetailScreen

        if self.store.loaded and key not in self.store.flags:
            self.goto_flag(key)  # not a flag here (mistyped, archived, another environment's): say so
            return
        self.push_screen(FlagDetailScreen(key))

    def start_action(self, kind: ActionKind, key: str) -> None:
        """Open the confirmation modal for `kind` on `key` in the current environment."""
        if self.readonly:
            self.notify("Read-only: changes are not possible in this console.", severity="warning", markup=False)
            return
        self.push_screen(ActionModal(kind, key, self.environment), self._action_done)

    def go_to(self, name: Destination, select: str | None = None) -> None:
        """Show the screen `name`: back to it when it is open further down the stack, else push a new one."""
        stack = list(self.screen_stack)
        for depth, screen in enumerate(reversed(stack)):
            if isinstance(screen, ConsoleScreen) and name == screen.DESTINATION:
                for _ in range(depth):
                    self.pop_screen()
                if select is not None:
                    screen.reopen(select)
                return
        self.push_screen(self._new_destination(name, select))

    def _new_destination(self, name: Destination, select: str | None) -> ConsoleScreen:
        if name == "dashboard":
            from flagops.tui.screens.dashboard_screen import DashboardScreen

            return DashboardScreen()
        if name == "timeline":
            from flagops.tui.screens.timeline_screen import TimelineScreen

            return TimelineScreen()
        if name == "approvals":
            from flagops.tui.screens.approvals_screen import ApprovalsScreen

            return ApprovalsScreen()
        from flagops.tui.screens.runbooks_screen import RunbooksScreen

        return RunbooksScreen(select=select)

    def _action_done(self, applied: AppliedChange | None) -> None:
        if applied is not None and not applied.noop:
            self.notify(printable(applied.plan.summary(), 300), title="Applied", markup=False, timeout=4)

    # -- terminal size ------------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.check_size()

    def check_size(self) -> None:
        """Cover the console with a message while the terminal is below 80x24 (screens call this on resize)."""
        if not self._screens_ready:
            return
        width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if small and self._too_small is None:
            self._too_small = TooSmallScreen(self.check_size)
            self.push_screen(self._too_small)
        elif not small and self._too_small is not None:
            screen, self._too_small = self._too_small, None
            if self.screen is screen:
                self.pop_screen()


if TYPE_CHECKING:
    _console_is_a_host: type[ConsoleHost] = FlagOpsApp  # mypy checks the app offers what screens need
