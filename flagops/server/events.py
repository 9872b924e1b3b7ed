"""Stream events: one audit entry as a pre-encoded SSE frame, built once and sent to every subscriber."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flagops.audit_chain import AFTER_NOTES
from flagops.model import AuditEntry, Flag
from flagops.server.codec import flag_json
from flagops.server.limits import bounded
from flagops.v1 import wire


@dataclass(frozen=True)
class Event:
    id: int  # the audit sequence
    type: str  # flag.created | flag.updated | flag.archived
    environment: str | None  # None: concerns every environment
    frame: bytes

    def frame_for(self, visible: frozenset[str] | None) -> bytes:
        """The frame as a token limited to `visible` environments may see it: a flag-wide event (created,
        archived) carries every environment's state, so theirs are left out."""
        if visible is None or self.environment is not None:
            return self.frame
        return _scoped_frame(self.frame, visible)


@lru_cache(maxsize=4096)
def _scoped_frame(frame: bytes, visible: frozenset[str]) -> bytes:
    head, sep, rest = frame.partition(b"data: ")
    data = json.loads(rest)
    state = data.get("flagState")
    if isinstance(state, dict) and isinstance(state.get("environments"), dict):
        state["environments"] = {k: v for k, v in state["environments"].items() if k in visible}
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return head + sep + body.encode() + b"\n\n"


def make_event(entry: AuditEntry, flag: Flag | None) -> Event:
    """`flag` supplies the metadata; the state is the entry's `after`, so a replayed event shows the state
    as it was then, not as it is now. Restores travel as flag.updated (the data's `action` says which)."""
    if not entry.action.startswith("flag."):  # change-request.*, review.*, segment.*
        return governance_event(entry)
    kind = "flag.updated" if entry.action == "flag.restored" else entry.action
    data: dict[str, Any] = {
        "flag": entry.flag_key,
        "environment": entry.environment,
        "actor": entry.actor,
        "reason": entry.reason,
        "action": entry.action,
        "sequence": entry.sequence,
        "at": wire.iso(entry.at),
    }
    if flag is not None:
        if entry.environment is not None and isinstance(entry.after, dict):
            state = {k: v for k, v in entry.after.items() if k not in AFTER_NOTES}
            data["flagState"] = dict(flag_json(flag, None), environments={entry.environment: state})
        else:
            data["flagState"] = flag_json(flag, None)
    body = json.dumps(bounded(data), separators=(",", ":"), ensure_ascii=False)
    frame = f"id: {entry.sequence}\nevent: {kind}\ndata: {body}\n\n".encode()
    return Event(entry.sequence, kind, entry.environment, frame)


# a governance row's `after` is the object as it is after that step; the event carries it whole
_GOVERNANCE_EVENTS = {"change-request": "changeRequest", "review": "review", "segment": "segment"}


def governance_event(entry: AuditEntry) -> Event:
    """`change-request.updated` {"changeRequest"}, `review.updated` {"review"}, `segment.updated` {"segment"}
    (plus the step's action, actor and reason)."""
    family = entry.action.partition(".")[0]
    member = _GOVERNANCE_EVENTS.get(family, family)
    data: dict[str, Any] = {
        member: entry.after,
        "flag": entry.flag_key or None,
        "environment": entry.environment,
        "actor": entry.actor,
        "reason": entry.reason,
        "action": entry.action,
        "sequence": entry.sequence,
        "at": wire.iso(entry.at),
    }
    body = json.dumps(bounded(data), separators=(",", ":"), ensure_ascii=False)
    kind = f"{family}.updated"
    frame = f"id: {entry.sequence}\nevent: {kind}\ndata: {body}\n\n".encode()
    return Event(entry.sequence, kind, entry.environment, frame)
