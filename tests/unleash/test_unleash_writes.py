"""Writes through the adapter; every effect is checked with Unleash's own API afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from flagops.backends.unleash import UnleashBackend
from flagops.backends.unleash.changelog import ChangeLog
from flagops.backends.unleash.state import env_state
from flagops.backends.unleash.writes import set_rollout
from flagops.errors import Conflict, Invalid
from flagops.model import StateChange

from .unleash_harness import UnleashServer


def env_doc(unleash: UnleashServer, key: str, environment: str, project: str = "default") -> dict[str, Any]:
    with unleash.client() as c:
        r = c.get(f"/api/admin/projects/{project}/features/{key}/environments/{environment}")
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
        return doc


def rollouts(doc: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(s["name"], s["parameters"].get("rollout")) for s in doc["strategies"]]


async def version(backend: UnleashBackend, key: str, environment: str = "production") -> int:
    return (await backend.get_flag(key, environment)).states[environment].version


async def test_kill_turns_off_only_that_environment_and_records_the_reason(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str], changelog: ChangeLog
) -> None:
    key = make_feature("kill", prod_rollout=25, dev_on=True)
    v = await version(backend, key)
    flag = await backend.update_state(
        key,
        "production",
        StateChange(enabled=False),
        expected_version=v,
        reason="errors spiking in checkout",
        idempotency_key="k-1",
        ticket="INC-7",
    )
    assert flag.states["production"].enabled is False and flag.states["production"].version > v
    assert env_doc(unleash, key, "production")["enabled"] is False
    assert env_doc(unleash, key, "development")["enabled"] is True
    assert rollouts(env_doc(unleash, key, "production")) == [("flexibleRollout", "25")]  # strategies kept
    intent, outcome = [r for r in changelog.records() if r.get("flag") == key or r.get("kind") == "outcome"]
    assert intent["reason"] == "errors spiking in checkout" and intent["ticket"] == "INC-7"
    assert outcome["status"] == "applied" and outcome["events"] == [flag.states["production"].version]


async def test_rollout_updates_the_flexible_rollout_strategy_in_place(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature(
        "ramp",
        prod_rollout=25,
        extra_prod=[
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": "beta"},
                "constraints": [{"contextName": "userId", "operator": "IN", "values": ["1"]}],
            }
        ],
    )
    before = env_doc(unleash, key, "production")
    flag = await backend.update_state(
        key,
        "production",
        StateChange(rollout=50),
        expected_version=await version(backend, key),
        reason="ramping up",
        idempotency_key="r-1",
    )
    after = env_doc(unleash, key, "production")
    assert flag.states["production"].rollout == 50
    assert rollouts(after) == [("flexibleRollout", "50"), ("flexibleRollout", "100")]
    assert [s["id"] for s in after["strategies"]] == [s["id"] for s in before["strategies"]]
    assert after["strategies"][1]["constraints"] == before["strategies"][1]["constraints"]


async def test_rollout_creates_a_flexible_rollout_where_there_is_none(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str], second_project: str
) -> None:
    key = make_feature("fresh", project=second_project, prod_rollout=None, prod_on=False)
    await backend.update_state(
        key,
        "production",
        StateChange(enabled=True, rollout=10),
        expected_version=0,
        reason="first exposure",
        idempotency_key="c-1",
    )
    doc = env_doc(unleash, key, "production", second_project)
    assert doc["enabled"] is True
    assert [(s["name"], s["parameters"], s["constraints"]) for s in doc["strategies"]] == [
        ("flexibleRollout", {"rollout": "10", "stickiness": "default", "groupId": key}, [])
    ]


async def test_stale_version_is_a_conflict_with_the_fresh_state_and_writes_nothing(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("race", prod_rollout=25)
    seen = await version(backend, key)
    with unleash.client() as c:  # someone else changes it in Unleash's UI
        sid = env_doc(unleash, key, "production")["strategies"][0]["id"]
        c.patch(
            f"/api/admin/projects/default/features/{key}/environments/production/strategies/{sid}",
            json=[{"op": "replace", "path": "/parameters/rollout", "value": "40"}],
        ).raise_for_status()
    with pytest.raises(Conflict) as raised:
        await backend.update_state(
            key,
            "production",
            StateChange(rollout=60),
            expected_version=seen,
            reason="ramping up",
            idempotency_key="s-1",
        )
    assert raised.value.fresh is not None and raised.value.fresh.states["production"].rollout == 40
    assert rollouts(env_doc(unleash, key, "production")) == [("flexibleRollout", "40")]


async def test_json_patch_test_operation_refuses_a_strategy_changed_after_the_check(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    """The window between the version check and the write: the strategy PATCH itself carries the guard."""
    key = make_feature("window", prod_rollout=25)
    doc = env_doc(unleash, key, "production")
    stale = env_state(True, doc["strategies"])
    with unleash.client() as c:
        sid = doc["strategies"][0]["id"]
        c.patch(
            f"/api/admin/projects/default/features/{key}/environments/production/strategies/{sid}",
            json=[{"op": "replace", "path": "/parameters/rollout", "value": "30"}],
        ).raise_for_status()
    with pytest.raises(Conflict, match="JSON-Patch test failed"):
        await set_rollout(backend.api, "default", key, "production", stale, 80)
    assert rollouts(env_doc(unleash, key, "production")) == [("flexibleRollout", "30")]


async def test_a_retried_idempotency_key_applies_once(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature("retry", prod_rollout=25)
    v = await version(backend, key)
    first = await backend.update_state(
        key, "production", StateChange(rollout=35), expected_version=v, reason="ramping up", idempotency_key="same-key"
    )
    again = await backend.update_state(
        key, "production", StateChange(rollout=35), expected_version=v, reason="ramping up", idempotency_key="same-key"
    )
    assert again.states["production"].version == first.states["production"].version
    with unleash.client() as c:
        events = c.get(
            "/api/admin/search/events", params={"feature": f"IS:{key}", "type": "IS:feature-strategy-update"}
        ).json()
    assert events["total"] == 1
    with pytest.raises(Conflict, match="already used"):
        await backend.update_state(
            key,
            "production",
            StateChange(rollout=90),
            expected_version=v,
            reason="ramping up",
            idempotency_key="same-key",
        )


async def test_bad_changes_are_refused_with_clear_errors(
    backend: UnleashBackend, make_feature: Callable[..., str]
) -> None:
    key = make_feature("bad", prod_rollout=None, extra_prod=[{"name": "default", "parameters": {}}])
    v = await version(backend, key)
    with pytest.raises(Invalid, match="whole percentages"):
        await backend.update_state(
            key, "production", StateChange(rollout=12.5), expected_version=v, reason="ramping up", idempotency_key="b-1"
        )
    with pytest.raises(Invalid, match="apply to everyone"):
        await backend.update_state(
            key, "production", StateChange(rollout=10), expected_version=v, reason="ramping up", idempotency_key="b-2"
        )
    with pytest.raises(Invalid, match="on/off and the rollout"):
        await backend.update_state(
            key,
            "production",
            StateChange(default_variant="x"),
            expected_version=v,
            reason="ramping up",
            idempotency_key="b-3",
        )


async def test_restore_rebuilds_an_older_state_from_pre_data(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature(
        "undo",
        prod_rollout=25,
        extra_prod=[
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": "vip"},
                "constraints": [{"contextName": "tier", "operator": "IN", "values": ["vip"]}],
            }
        ],
    )
    good = env_doc(unleash, key, "production")
    good_version = await version(backend, key)
    with unleash.client() as c:  # a bad afternoon in Unleash's UI: ramp to 80, drop the VIP strategy, kill
        base = f"/api/admin/projects/default/features/{key}/environments/production"
        plain, vip = good["strategies"]
        c.patch(
            f"{base}/strategies/{plain['id']}", json=[{"op": "replace", "path": "/parameters/rollout", "value": "80"}]
        ).raise_for_status()
        c.delete(f"{base}/strategies/{vip['id']}").raise_for_status()
        c.post(f"{base}/off").raise_for_status()
    flag = await backend.restore(
        key,
        "production",
        good_version,
        expected_version=await version(backend, key),
        reason="back to the known good state",
        idempotency_key="u-1",
    )
    now = env_doc(unleash, key, "production")
    assert now["enabled"] is True
    strip = [(s["name"], s["parameters"], s["constraints"]) for s in now["strategies"]]
    assert strip == [(s["name"], s["parameters"], s["constraints"]) for s in good["strategies"]]
    assert flag.states["production"].rollout == 25
    entries = await backend.audit(flag=key, environment="production")
    assert entries[0].action == "flag.restored" and entries[0].reason == "back to the known good state"
    assert entries[0].after is not None and entries[0].after.rollout == 25
    assert entries[0].before is not None and entries[0].before.enabled is False
    with pytest.raises(Exception, match="no version 999999"):
        await backend.restore(
            key,
            "production",
            999999,
            expected_version=flag.states["production"].version,
            reason="nonsense",
            idempotency_key="u-2",
        )


async def test_audit_joins_unleash_events_with_flagops_reasons(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str], changelog: ChangeLog
) -> None:
    key = make_feature("audited", prod_rollout=25)
    v = await version(backend, key)
    await backend.update_state(
        key,
        "production",
        StateChange(rollout=50),
        expected_version=v,
        reason="ramp for the launch",
        idempotency_key="a-1",
        ticket="CHG-1",
    )
    with unleash.client() as c:
        c.post(f"/api/admin/projects/default/features/{key}/environments/production/off").raise_for_status()
    entries = await backend.audit(flag=key)
    by_action = [(e.action, e.environment, e.reason, e.actor) for e in entries]
    assert by_action[0][:3] == ("flag.updated", "production", "")  # made in Unleash: no reason exists
    assert by_action[0][3] == "admin"
    assert by_action[1][:3] == ("flag.updated", "production", "ramp for the launch") and entries[1].ticket == "CHG-1"
    assert entries[1].before is not None and entries[1].after is not None
    assert (entries[1].before.rollout, entries[1].after.rollout) == (25, 50)
    assert entries[-1].action == "flag.created"
    assert [e.sequence for e in entries] == sorted((e.sequence for e in entries), reverse=True)
    assert (await backend.verify_audit()).ok
    lines = changelog.path.read_text().splitlines()
    tampered = json.loads(lines[0])
    tampered["reason"] = "something nicer"
    changelog.path.write_text("\n".join([json.dumps(tampered), *lines[1:]]) + "\n")
    check = await backend.verify_audit()
    assert not check.ok and check.broken_at == 1 and check.problem == "line was changed"


async def test_audit_without_a_flag_covers_every_feature(
    backend: UnleashBackend, make_feature: Callable[..., str], second_project: str
) -> None:
    one = make_feature("wide-a", prod_rollout=25)
    two = make_feature("wide-b", project=second_project, prod_rollout=25)
    await backend.update_state(
        two,
        "production",
        StateChange(rollout=15),
        expected_version=await version(backend, two),
        reason="narrow it down",
        idempotency_key="w-1",
    )
    entries = await backend.audit(limit=20)
    keys = {e.flag_key for e in entries}
    assert {one, two} <= keys
    mine = next(e for e in entries if e.flag_key == two and e.reason)
    assert mine.reason == "narrow it down" and mine.after is not None and mine.after.rollout == 15
    only_prod = await backend.audit(environment="production", limit=20)
    assert only_prod and all(e.environment == "production" for e in only_prod)


async def test_a_crash_mid_write_keeps_the_reason_and_a_retry_never_applies_twice(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str], changelog: ChangeLog
) -> None:
    key = make_feature("crash", prod_rollout=25)
    seen = await version(backend, key)
    # what a process killed right after Unleash took the write leaves behind: an intent, no outcome
    changelog.intent(
        server=backend.url,
        project="default",
        flag=key,
        environment="production",
        action="update",
        request={"enabled": False, "rollout": None},
        reason="killed before the crash",
        ticket="INC-9",
        idempotencyKey="crash-1",
        origin=None,
        expectedVersion=seen,
        before=None,
    )
    with unleash.client() as c:
        c.post(f"/api/admin/projects/default/features/{key}/environments/production/off").raise_for_status()
    with pytest.raises(Conflict) as raised:  # the retry: same key, same change
        await backend.update_state(
            key,
            "production",
            StateChange(enabled=False),
            expected_version=seen,
            reason="killed before the crash",
            idempotency_key="crash-1",
        )
    assert raised.value.fresh is not None and not raised.value.fresh.states["production"].enabled
    with unleash.client() as c:
        disabled = c.get(
            "/api/admin/search/events", params={"feature": f"IS:{key}", "type": "IS:feature-environment-disabled"}
        ).json()
    assert disabled["total"] == 1
    entry = (await backend.audit(flag=key, environment="production"))[0]
    assert (entry.reason, entry.ticket) == ("killed before the crash", "INC-9")
