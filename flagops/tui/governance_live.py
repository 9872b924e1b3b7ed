"""LiveGovernance: the open change requests and break-glass reviews of the console's environment, kept current.

One per console (the app owns it), so the header badge and the approvals screen share one set of reads.
It does not follow a stream of its own: the flag store (live.py) hands it every event of the one SSE
stream, and a `change-request.*` / `review.*` event, a reconnect (events may have been missed) or an
environment switch makes it read the lists again. Several events in a row cost one read, not one each.

Backends without approvals (no `approvals` capability, or a port without the methods) leave it `supported =
False`; a policy with `enforced=False` (Unleash OSS) is kept so faces can say approvals are not enforced.
No Textual here: listeners are plain callables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from flagops.errors import FlagOpsError, Forbidden, NotFound, Unauthorized
from flagops.governance import ApprovalPolicy, ChangeRequest, RequestStatus, Review
from flagops.model import ChangeEvent

GOVERNANCE_EVENTS = ("change-request.", "review.")
PORT_METHODS = ("policy", "change_requests", "reviews")

Listener = Callable[[], None]


def has_approvals(backend: Any) -> bool:
    """Whether the backend's port offers change requests (the capability, and the methods behind it)."""
    capabilities = getattr(backend, "capabilities", None)
    if not getattr(capabilities, "approvals", False):
        return False
    return all(callable(getattr(backend, name, None)) for name in PORT_METHODS)


class LiveGovernance:
    """What waits for someone's sign-off in one environment: open change requests, open reviews."""

    def __init__(self, backend: Any, environment: str) -> None:
        self.backend = backend
        self.environment = environment
        self.supported = has_approvals(backend)
        self.policy: ApprovalPolicy | None = None
        self.change_requests: list[ChangeRequest] = []  # open ones (pending, approved), newest first
        self.reviews: list[Review] = []  # open ones, newest first
        self.loaded = False
        self.error: str | None = None  # the last read failed: what was said (the lists stay as they were)
        self._listeners: list[Listener] = []
        self._wanted = asyncio.Event()

    # -- listeners ---------------------------------------------------------------------------------

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: object) -> None:
        while listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- what the flag store tells us -------------------------------------------------------------------

    def event_seen(self, event: ChangeEvent) -> None:
        """One event of the console's stream: a change request or review moved, read the lists again."""
        if event.type.startswith(GOVERNANCE_EVENTS):
            self.refresh_soon()

    def refresh_soon(self) -> None:
        """Read again (a reconnect, an environment switch, a change this console just made)."""
        self._wanted.set()

    def switch_environment(self, environment: str) -> None:
        if environment != self.environment:
            self.environment = environment
            self.change_requests, self.reviews, self.loaded = [], [], False
            self._emit()
        self.refresh_soon()

    # -- reading ------------------------------------------------------------------------------------

    @property
    def enforced(self) -> bool:
        return self.policy is None or self.policy.enforced

    def pending_count(self) -> int:
        return sum(1 for cr in self.change_requests if cr.status is RequestStatus.PENDING)

    async def refresh(self) -> None:
        """Read the policy (once) and the open lists; a failure keeps the last lists and says why."""
        if not self.supported:
            return
        environment = self.environment
        try:
            if self.policy is None:
                self.policy = await self.backend.policy()
            pending, approved, reviews = await asyncio.gather(
                self.backend.change_requests(environment, status=RequestStatus.PENDING),
                self.backend.change_requests(environment, status=RequestStatus.APPROVED),
                self.backend.reviews(environment, open_only=True),
            )
        except (Unauthorized, Forbidden, NotFound) as exc:
            self.error = exc.message
            self._emit()
            raise
        except FlagOpsError as exc:
            self.error = exc.message
            self._emit()
            return
        if environment != self.environment:
            return  # switched meanwhile; its own read follows
        merged = {cr.id: cr for cr in [*pending, *approved] if cr.status.is_open}
        self.change_requests = sorted(merged.values(), key=lambda cr: cr.created_at, reverse=True)
        self.reviews = sorted((r for r in reviews if r.is_open), key=lambda r: r.at, reverse=True)
        self.loaded = True
        self.error = None
        self._emit()

    async def run(self) -> None:
        """Read now, then again whenever asked, until cancelled. A refused token stops it (said in `error`)."""
        if not self.supported:
            return
        self._wanted.set()
        while True:
            await self._wanted.wait()
            self._wanted.clear()  # events that arrive during the read ask for one more read, not many
            try:
                await self.refresh()
            except (Unauthorized, Forbidden, NotFound):
                return
