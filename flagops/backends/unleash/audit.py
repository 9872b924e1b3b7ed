"""Audit entries from Unleash's event log, joined with the console's own change log for reasons.

One entry per Unleash transaction (events sharing a groupId) in one environment: enabling an environment
without strategies, for example, is two events (strategy added, environment enabled) and one entry. Before and
after are whole states rebuilt from the current state and each event's `preData`. Reason, ticket, idempotency
key, origin and the person come from flagops's change log when flagops made the change; changes made elsewhere
(Unleash's UI, other tools) show Unleash's actor and no reason, because Unleash OSS records none.
"""

from __future__ import annotations

from typing import Any

from flagops.backends.unleash.api import STATE_EVENT_TYPES
from flagops.backends.unleash.state import EnvState, Step, history
from flagops.model import AuditEntry
from flagops.v1.wire import origin_from_json, parse_time

LIFECYCLE_ACTIONS = {
    "feature-created": "flag.created",
    "feature-archived": "flag.archived",
    "feature-revived": "flag.revived",
    "feature-deleted": "flag.deleted",
}


def _intent_for(
    step: Step, key: str, environment: str, by_event: dict[int, dict[str, Any]], pending: list[dict[str, Any]]
) -> dict[str, Any] | None:
    for event_id in step.event_ids:
        if event_id in by_event:
            return by_event[event_id]
    # an intent without an outcome (the process died mid-write): the first change after the version it saw
    for intent in pending:
        if (
            intent.get("flag") == key
            and intent.get("environment") == environment
            and intent.get("expectedVersion") == step.before.version
        ):
            return intent
    return None


def _entry(step: Step, key: str, environment: str, intent: dict[str, Any] | None) -> AuditEntry:
    last = step.events[-1]
    at = parse_time(last.get("createdAt"))
    assert at is not None
    intent = intent or {}
    action = "flag.restored" if intent.get("action") == "restore" else "flag.updated"
    return AuditEntry(
        sequence=step.version,
        at=at,
        actor=str(intent.get("actor") or last.get("createdBy") or ""),
        action=action,
        flag_key=key,
        environment=environment,
        reason=str(intent.get("reason") or ""),
        ticket=intent.get("ticket"),
        idempotency_key=intent.get("idempotencyKey"),
        before=step.before.flag_state(environment),
        after=step.after.flag_state(environment),
        origin=origin_from_json(intent.get("origin")) if intent.get("origin") else None,
    )


def audit_entries(
    events: list[dict[str, Any]],
    current: dict[str, dict[str, EnvState]],
    changelog: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]],
) -> list[AuditEntry]:
    """Entries for `events` (newest first), given each feature's current states; newest first."""
    intents, outcomes = changelog
    by_event: dict[int, dict[str, Any]] = {}
    for intent_id, outcome in outcomes.items():
        for event_id in outcome.get("events") or []:
            by_event[int(event_id)] = intents[intent_id]
    pending = [i for iid, i in intents.items() if iid not in outcomes]
    entries: list[AuditEntry] = []
    streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for event in events:
        key = str(event.get("featureName"))
        kind = str(event.get("type"))
        at = parse_time(event.get("createdAt"))
        if kind in LIFECYCLE_ACTIONS and at is not None:
            entries.append(
                AuditEntry(
                    sequence=int(event["id"]),
                    at=at,
                    actor=str(event.get("createdBy") or ""),
                    action=LIFECYCLE_ACTIONS[kind],
                    flag_key=key,
                    environment=None,
                    reason="",
                )
            )
        elif kind in STATE_EVENT_TYPES and event.get("environment"):
            streams.setdefault((key, str(event["environment"])), []).append(event)
    for (key, environment), stream in streams.items():
        state = current.get(key, {}).get(environment)
        if state is None:  # the feature is gone: no current state to rebuild from
            for event in stream:
                at = parse_time(event.get("createdAt"))
                if at is not None:
                    entries.append(
                        AuditEntry(
                            sequence=int(event["id"]),
                            at=at,
                            actor=str(event.get("createdBy") or ""),
                            action="flag.updated",
                            flag_key=key,
                            environment=environment,
                            reason="",
                        )
                    )
            continue
        for step in history(state, stream):
            entries.append(_entry(step, key, environment, _intent_for(step, key, environment, by_event, pending)))
    entries.sort(key=lambda e: e.sequence, reverse=True)
    return entries
