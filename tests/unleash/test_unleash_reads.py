"""Reads through the adapter, checked against what Unleash's own API says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

import pytest

from flagops.backends.unleash import UnleashBackend
from flagops.backends.unleash.changelog import ChangeLog
from flagops.errors import NotFound, Unauthorized
from flagops.secrets import Secret

from .unleash_harness import UnleashServer


def newest_state_event(unleash: UnleashServer, key: str, environment: str) -> int:
    with unleash.client() as c:
        types = (
            "feature-environment-enabled,feature-environment-disabled,feature-strategy-add,"
            "feature-strategy-update,feature-strategy-remove"
        )
        events = c.get(
            "/api/admin/search/events",
            params={
                "feature": f"IS:{key}",
                "environment": f"IS:{environment}",
                "type": f"IS_ANY_OF:{types}",
                "limit": "1",
            },
        ).json()
        return int(events["events"][0]["id"]) if events["events"] else 0


async def test_environments_mark_production_protected(backend: UnleashBackend) -> None:
    envs = {e.key: e for e in await backend.environments()}
    assert set(envs) >= {"development", "production"}
    assert envs["production"].protected and not envs["development"].protected


async def test_list_flags_spans_projects_with_state_per_environment(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str], second_project: str
) -> None:
    shop = make_feature("shop", prod_rollout=25, prod_on=True, dev_on=True)
    pay = make_feature("pay", project=second_project, prod_rollout=None, prod_on=False, kind="kill-switch")
    prod = {f.key: f for f in await backend.list_flags("production")}
    dev = {f.key: f for f in await backend.list_flags("development")}

    assert prod[shop].project == "default" and prod[pay].project == second_project
    shop_prod = prod[shop].states["production"]
    assert shop_prod.enabled and shop_prod.rollout == 25
    assert shop_prod.version == newest_state_event(unleash, shop, "production") > 0
    assert dev[shop].states["development"].enabled and dev[shop].states["development"].rollout == 100
    pay_prod = prod[pay].states["production"]
    assert not pay_prod.enabled and pay_prod.version == 0 and prod[pay].kill_switch
    assert list(prod[shop].states) == ["production"]  # list_flags carries only the asked environment

    with unleash.client() as c:  # a change made in Unleash shows in the next listing, with its new version
        c.post(f"/api/admin/projects/{second_project}/features/{pay}/environments/production/on").raise_for_status()
    again = {f.key: f for f in await backend.list_flags("production")}
    assert again[pay].states["production"].enabled
    assert again[pay].states["production"].version == newest_state_event(unleash, pay, "production") > 0
    assert again[shop].states["production"].version == shop_prod.version
    newcomer = make_feature("late", prod_rollout=None, prod_on=False)  # no state event at all: metadata only
    assert newcomer in {f.key for f in await backend.list_flags("production")}


async def test_get_flag_reads_every_environment_and_shows_targeting_as_rules(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    key = make_feature(
        "targeted",
        prod_rollout=10,
        extra_prod=[
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": "x"},
                "constraints": [{"contextName": "userId", "operator": "IN", "values": ["7", "8"]}],
            }
        ],
    )
    flag = await backend.get_flag(key)
    assert set(flag.states) >= {"development", "production"}
    prod = flag.states["production"]
    assert prod.rollout == 10  # the constrained strategy does not count toward everyone's rollout
    assert [(r.attribute, r.op, r.values) for r in prod.rules] == [("userId", "in", ("7", "8"))]
    assert prod.version == newest_state_event(unleash, key, "production")
    assert prod.updated_by == "admin" and prod.updated_at is not None
    only = await backend.get_flag(key, "production")
    assert list(only.states) == ["production"]


async def test_unknown_flag_and_environment_are_not_found(
    backend: UnleashBackend, make_feature: Callable[..., str]
) -> None:
    with pytest.raises(NotFound, match="no-such-flag"):
        await backend.get_flag("no-such-flag-anywhere")
    key = make_feature("envless")
    with pytest.raises(NotFound, match="staging"):
        await backend.get_flag(key, "staging")


async def test_wrong_token_is_unauthorized_and_never_shown(unleash: UnleashServer, changelog: ChangeLog) -> None:
    secret = "*:*.definitely-not-the-token-0123456789"
    b = UnleashBackend(unleash.url, Secret(secret), changelog=changelog)
    try:
        with pytest.raises(Unauthorized) as raised:
            await b.environments()
        assert secret not in str(raised.value) and "definitely" not in repr(b) + repr(b.api)
    finally:
        await b.aclose()


async def test_metrics_are_usage_counts_without_errors(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    import asyncio
    from datetime import datetime, timedelta

    key = make_feature("metered")
    now = datetime.now(UTC)
    with unleash.client() as c:
        r = c.post(
            "/api/client/metrics",
            json={
                "appName": "shop",
                "instanceId": "i-1",
                "environment": "production",
                "bucket": {
                    "start": (now - timedelta(seconds=30)).isoformat(),
                    "stop": now.isoformat(),
                    "toggles": {key: {"yes": 30, "no": 10, "variants": {}}},
                },
            },
        )
        assert r.status_code == 202
    series = await backend.metrics(key, "production")
    for _ in range(60):  # Unleash writes buffered metrics every 5 seconds
        if series.evaluations:
            break
        await asyncio.sleep(0.5)
        series = await backend.metrics(key, "production")
    assert series.has_errors is False and series.error_rate is None
    assert series.evaluations == 40 and series.points[-1].evaluations == {"on": 30, "off": 10}
    assert series.step_seconds == 3600


async def test_evaluate_uses_unleash_own_evaluation(backend: UnleashBackend, make_feature: Callable[..., str]) -> None:
    from flagops.model import EvaluationRequest

    on = make_feature("all-on", prod_rollout=100)
    off = make_feature("all-off", prod_rollout=100, prod_on=False)
    decisions = await backend.evaluate(
        "production",
        [
            EvaluationRequest(on, {"userId": "42"}),
            EvaluationRequest(off, {"userId": "42"}),
            EvaluationRequest("nope-not-here", {"userId": "42"}, default_value=False),
        ],
    )
    assert [(d.value, d.reason) for d in decisions] == [(True, "rollout"), (False, "off"), (False, "error")]


async def test_watch_polls_the_event_log_and_resumes_after_an_id(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str]
) -> None:
    import asyncio

    key = make_feature("watched", prod_rollout=25)
    stream = backend.watch("production")
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.5)  # the watcher has taken its starting point: only what follows is reported
    with unleash.client() as c:
        c.post(f"/api/admin/projects/default/features/{key}/environments/production/off").raise_for_status()
    event = await asyncio.wait_for(first, timeout=20)
    assert (event.type, event.flag_key, event.environment) == ("flag.updated", key, "production")
    assert event.flag is not None and event.flag.states["production"].enabled is False
    await stream.aclose()  # type: ignore[attr-defined]

    resumed = backend.watch("production", last_event_id=event.id - 1)
    again = await asyncio.wait_for(resumed.__anext__(), timeout=20)
    assert again.id == event.id
    await resumed.aclose()  # type: ignore[attr-defined]


async def test_archived_features_leave_the_list(
    backend: UnleashBackend, unleash: UnleashServer, make_feature: Callable[..., str], changelog: ChangeLog
) -> None:
    key = make_feature("archived")
    assert key in {f.key for f in await backend.list_flags("production")}
    with unleash.client() as c:
        c.delete(f"/api/admin/projects/default/features/{key}").raise_for_status()
    assert key not in {f.key for f in await backend.list_flags("production")}
    fresh = UnleashBackend(unleash.url, Secret(unleash.admin_token), changelog=changelog)
    try:
        with pytest.raises(NotFound):
            await fresh.get_flag(key)
    finally:
        await fresh.aclose()


async def test_a_client_token_is_refused_with_a_clear_error(unleash: UnleashServer, changelog: ChangeLog) -> None:
    from flagops.errors import Forbidden

    with unleash.client() as c:
        r = c.post(
            "/api/admin/api-tokens",
            json={"type": "client", "environment": "production", "projects": ["*"], "tokenName": "sdk"},
        )
        r.raise_for_status()
        client_token = r.json()["secret"]
    b = UnleashBackend(unleash.url, Secret(client_token), changelog=changelog)
    try:
        with pytest.raises(Forbidden, match="admin API token") as raised:
            await b.list_flags("production")
        assert client_token not in str(raised.value) and "{" not in str(raised.value)
    finally:
        await b.aclose()
