"""The writes the Unleash adapter makes: on/off, the rollout strategy, and restoring an older state.

Unleash has no If-Match, so each write is guarded with what it does offer: the caller's version (the newest
event id) is compared right before writing, and every strategy change is a JSON-Patch whose `test` operations
assert the strategy still holds exactly what was read. A toggle or a strategy add/delete has no such guard;
that window (between the version check and the request) is the one race the adapter cannot close.
"""

from __future__ import annotations

from typing import Any

from flagops.backends.unleash.api import UnleashApi
from flagops.backends.unleash.state import EnvState, is_plain, same_strategy
from flagops.errors import Invalid


def managed_rollout_strategy(key: str, environment: str, state: EnvState) -> dict[str, Any] | None:
    """The one plain flexibleRollout that carries the rollout, None when there is none (we add one)."""
    plain = [s for s in state.strategies if is_plain(s)]
    if not plain:
        return None
    if len(plain) == 1 and plain[0]["name"] == "flexibleRollout":
        return plain[0]
    kinds = ", ".join(s["name"] for s in plain)
    raise Invalid(
        f"{key} in {environment} has {len(plain)} strategies that apply to everyone ({kinds}); flagops sets a "
        "rollout only where one flexibleRollout strategy carries it. Merge them in Unleash first, or kill the flag."
    )


def whole_percent(value: float) -> int:
    if not 0 <= value <= 100 or value != int(value):
        raise Invalid(f"rollout {value:g}: Unleash rollouts are whole percentages from 0 to 100.")
    return int(value)


async def set_rollout(api: UnleashApi, project: str, key: str, environment: str, state: EnvState, rollout: int) -> None:
    managed = managed_rollout_strategy(key, environment, state)
    if managed is None:
        await api.add_strategy(
            project,
            key,
            environment,
            {
                "name": "flexibleRollout",
                "constraints": [],
                "segments": [],
                "parameters": {"rollout": str(rollout), "stickiness": "default", "groupId": key},
            },
        )
        return
    if managed["parameters"].get("rollout") == str(rollout):
        return
    await api.patch_strategy(
        project,
        key,
        environment,
        managed["id"],
        [
            # the strategy must still be the plain one we read, with the rollout we read
            {"op": "test", "path": "/parameters/rollout", "value": managed["parameters"].get("rollout")},
            {"op": "test", "path": "/constraints", "value": []},
            {"op": "test", "path": "/disabled", "value": False},
            {"op": "replace", "path": "/parameters/rollout", "value": str(rollout)},
        ],
    )


def _strategy_body(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": s["name"],
        "title": s["title"],
        "disabled": s["disabled"],
        "parameters": s["parameters"],
        "constraints": s["constraints"],
        "segments": s["segments"],
        "variants": s["variants"],
    }


def _patch_ops(current: dict[str, Any], target: dict[str, Any]) -> list[dict[str, Any]]:
    # The guard tests the fields Unleash stores exactly as we read them (string parameters, a boolean);
    # constraints are not tested because endpoints differ in which default keys they spell out.
    changes = [
        {"op": "replace", "path": f"/{f}", "value": target.get(f)}
        for f in ("parameters", "constraints", "disabled", "title", "variants")
        if current.get(f) != target.get(f)
    ]
    if not changes:
        return []
    return [
        {"op": "test", "path": "/parameters", "value": current["parameters"]},
        {"op": "test", "path": "/disabled", "value": current["disabled"]},
        *changes,
    ]


async def restore_state(
    api: UnleashApi, project: str, key: str, environment: str, current: EnvState, target: EnvState
) -> None:
    """Make `environment` behave like `target`: toggle, then strategies updated/re-added/removed.

    Order matters for safety: turning off happens first and turning on last, and strategies are added before
    any is removed, so an enabled environment never passes through "no strategies" (which means on for all).
    Re-added strategies get new ids (Unleash assigns them); strategy order and segment changes on existing
    strategies are not restored.
    """
    if not target.enabled and current.enabled:
        await api.toggle(project, key, environment, False)
    by_id = {s["id"]: s for s in current.strategies}
    wanted = {s["id"]: s for s in target.strategies}
    for sid, strategy in wanted.items():
        if sid not in by_id and not any(same_strategy(strategy, s) for s in current.strategies):
            await api.add_strategy(project, key, environment, _strategy_body(strategy))
    for sid, strategy in wanted.items():
        if sid in by_id:
            ops = _patch_ops(by_id[sid], strategy)
            if ops:
                await api.patch_strategy(project, key, environment, sid, ops)
    for sid, strategy in by_id.items():
        if sid not in wanted and not any(same_strategy(strategy, s) for s in target.strategies):
            await api.delete_strategy(project, key, environment, sid)
    if target.enabled and not current.enabled:
        await api.toggle(project, key, environment, True)
