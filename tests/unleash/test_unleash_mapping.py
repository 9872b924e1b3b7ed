"""The pure parts of the Unleash adapter: state mapping, undoing events, usage series (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from flagops.backends.unleash.state import env_state, history
from flagops.backends.unleash.usage import usage_series


def strategy(sid: str, name: str = "flexibleRollout", rollout: str | None = "25", **extra: object) -> dict[str, object]:
    params = {"rollout": rollout, "stickiness": "default", "groupId": "g"} if rollout is not None else {}
    return {"id": sid, "name": name, "parameters": params, "constraints": [], "segments": [], **extra}


def test_rollout_is_what_plain_strategies_give_everyone() -> None:
    assert env_state(True, []).rollout == 100  # enabled without strategies: on for everyone
    assert env_state(True, [strategy("a")]).rollout == 25
    assert env_state(True, [strategy("a"), strategy("b", "default", None)]).rollout == 100
    targeted = strategy(
        "c",
        rollout="100",
        constraints=[{"contextName": "country", "operator": "IN", "values": ["NZ"], "inverted": True}],
    )
    state = env_state(True, [targeted])
    assert state.rollout == 0
    assert [(r.attribute, r.op, r.values) for r in state.rules] == [("country", "not in", ("NZ",))]
    assert env_state(True, [strategy("d", disabled=True)]).rollout == 100  # a disabled strategy does nothing


def test_history_undoes_each_event_with_its_pre_data() -> None:
    now = env_state(False, [strategy("a", rollout="80")], version=5)
    events = [  # newest first, as the event search returns them
        {"id": 5, "type": "feature-environment-disabled", "groupId": "g5", "createdAt": "2026-01-01T00:05:00Z"},
        {
            "id": 4,
            "type": "feature-strategy-remove",
            "groupId": "g4",
            "createdAt": "2026-01-01T00:04:00Z",
            "preData": strategy(
                "b", rollout="100", constraints=[{"contextName": "tier", "operator": "IN", "values": ["vip"]}]
            ),
        },
        {
            "id": 3,
            "type": "feature-strategy-update",
            "groupId": "g3",
            "createdAt": "2026-01-01T00:03:00Z",
            "preData": strategy("a", rollout="25"),
            "data": strategy("a", rollout="80"),
        },
        {"id": 2, "type": "feature-environment-enabled", "groupId": "g1", "createdAt": "2026-01-01T00:01:00Z"},
        {
            "id": 1,
            "type": "feature-strategy-add",
            "groupId": "g1",
            "createdAt": "2026-01-01T00:01:00Z",
            "data": strategy("a", rollout="25"),
        },
    ]
    steps = history(now, events)
    assert [s.version for s in steps] == [5, 4, 3, 2]
    assert [s.before.version for s in steps] == [4, 3, 2, 0]
    assert steps[0].before.enabled and not steps[0].after.enabled
    assert [s["id"] for s in steps[1].before.strategies] == ["a", "b"]
    assert steps[2].before.rollout == 25 and steps[2].after.rollout == 80
    assert steps[3].events[0]["id"] == 1 and not steps[3].before.enabled
    # "b" was removed at 4 but its adding is older than the events read: it predates the known history
    assert [s["id"] for s in steps[3].before.strategies] == ["b"]


def test_usage_series_keeps_the_hours_that_overlap_the_window() -> None:
    rows = [
        {"timestamp": "2026-01-01T10:00:00.000Z", "environment": "production", "yes": 5, "no": 1, "appName": "a"},
        {"timestamp": "2026-01-01T11:00:00.000Z", "environment": "production", "yes": 7, "no": 3, "appName": "a"},
        {"timestamp": "2026-01-01T11:00:00.000Z", "environment": "production", "yes": 1, "no": 0, "appName": "b"},
        {"timestamp": "2026-01-01T11:00:00.000Z", "environment": "development", "yes": 9, "no": 9, "appName": "a"},
    ]
    series = usage_series("f", "production", rows, 300, now=datetime(2026, 1, 1, 11, 30, tzinfo=UTC))
    assert [p.evaluations for p in series.points] == [{"on": 8, "off": 3}]
    assert series.error_rate is None and not series.has_errors
