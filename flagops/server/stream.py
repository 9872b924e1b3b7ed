"""Server-Sent Events: one broker fans each committed change out to every subscriber.

Event ids are audit sequences. A subscriber registers *before* it reads its backlog (everything after its
Last-Event-ID), and drops anything it has already sent, so a change committed while it catches up is
delivered exactly once and in order. A subscriber that falls too far behind is disconnected rather than
buffered without bound; it reconnects with Last-Event-ID and loses nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flagops.server.events import Event
from flagops.server.store import Store

MAX_QUEUE = 2000


@dataclass(eq=False)
class Subscriber:
    environments: frozenset[str] | None  # None: every environment
    visible: frozenset[str] | None = None  # the token's environments (events.Event.frame_for)
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def wants(self, event: Event) -> bool:
        return event.environment is None or self.environments is None or event.environment in self.environments


class Broker:
    def __init__(self, store: Store, heartbeat: float = 15.0) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self.subscribers: set[Subscriber] = set()
        self.published = store.head_sequence
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.published = self.store.head_sequence

    def notify_threadsafe(self) -> None:
        """Called by the store after each commit, from whichever thread wrote."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.pump)

    def pump(self) -> None:
        """Publish every committed event not yet published, in sequence order (runs on the event loop)."""
        while True:
            events = self.store.events_after(self.published)
            if not events:
                return
            for event in events:
                for sub in list(self.subscribers):
                    if not sub.wants(event):
                        continue
                    if sub.queue.qsize() >= MAX_QUEUE:
                        self.subscribers.discard(sub)
                        sub.queue.put_nowait(None)  # too slow: end its stream; it resumes by Last-Event-ID
                    else:
                        sub.queue.put_nowait(event)
                self.published = event.id

    def close_all(self) -> None:
        for sub in list(self.subscribers):
            sub.queue.put_nowait(None)
        self.subscribers.clear()

    async def events(
        self, environments: frozenset[str] | None, last_event_id: int | None, visible: frozenset[str] | None = None
    ) -> AsyncIterator[bytes]:
        sub = Subscriber(environments, visible)
        self.subscribers.add(sub)  # before the backlog read: nothing committed from here on can be missed
        try:
            yield b"retry: 2000\n\n"
            head = self.store.head_sequence
            if last_event_id is not None and last_event_id > head:
                # an id from another database (the service was reset): say so, then go on from here, so the
                # changes this log numbers below the client's id are not skipped as "already seen"
                detail = {
                    "head": head,
                    "detail": f"Last-Event-ID {last_event_id} is ahead of this service's "
                    f"log (newest {head}); refetch the flags",
                }
                yield f"event: stream.reset\ndata: {json.dumps(detail)}\n\n".encode()
                last_event_id = head
            last = last_event_id if last_event_id is not None else head
            if last_event_id is not None:
                while True:  # the backlog, page by page, until caught up
                    backlog = self.store.events_after(last)
                    if not backlog:
                        break
                    for event in backlog:
                        if sub.wants(event):
                            yield event.frame_for(sub.visible)
                        last = event.id
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), self.heartbeat)
                except TimeoutError:
                    now = datetime.now(UTC).isoformat(timespec="seconds")
                    yield f": heartbeat {now} head={self.store.head_sequence}\n\n".encode()
                    continue
                if item is None:
                    return
                if item.id > last:
                    yield item.frame_for(sub.visible)
                    last = item.id
        finally:
            self.subscribers.discard(sub)
