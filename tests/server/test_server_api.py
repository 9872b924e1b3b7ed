"""The Flag API over real HTTP: reads, conditional requests, writes and every error status."""

from __future__ import annotations

import uuid

import httpx
from conftest import RunningService

from server.helpers import assert_problem, flag_keys, patch, version

INCIDENT = "checkout-new-flow"


def test_health_and_environments(service: RunningService) -> None:
    assert httpx.get(f"{service.url}/healthz").json()["status"] == "ok"
    with service.client() as c:
        envs = c.get("/v1/environments").json()["environments"]
    assert [(e["key"], e["protected"]) for e in envs] == [("dev", False), ("staging", False), ("prod", True)]


def test_auth_errors(service: RunningService) -> None:
    r = httpx.get(f"{service.url}/v1/flags", params={"environment": "prod"})
    assert_problem(r, 401, "Authorization")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(
        httpx.get(
            f"{service.url}/v1/flags", params={"environment": "prod"}, headers={"Authorization": "Bearer not-a-token"}
        ),
        401,
    )
    assert_problem(
        httpx.get(f"{service.url}/v1/flags", params={"environment": "prod"}, headers={"Authorization": "Basic abc"}),
        401,
    )
    with service.client(service.metrics_token) as c:  # metrics:write only
        assert_problem(c.get("/v1/flags", params={"environment": "prod"}), 403)
    with service.client(service.writer_dev_token) as c:
        assert_problem(c.get("/v1/flags", params={"environment": "prod"}), 403, "environment")
        assert c.get("/v1/flags", params={"environment": "dev"}).status_code == 200
    with service.client(service.read_token) as c:
        r = patch(c, INCIDENT, "prod", {"enabled": False, "changeReason": "reader tries"}, if_match=1)
        assert_problem(r, 403)


def test_demo_data_is_realistic(service: RunningService) -> None:
    with service.client() as c:
        flags = c.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
    assert 280 <= len(flags) <= 320
    assert len({f["owner"] for f in flags}) >= 8
    assert any(f["killSwitch"] for f in flags) and any(f["sunsetAt"] for f in flags)
    assert {f["stage"] for f in flags} >= {"planned", "active", "deprecated", "retired"}
    assert all(list(f["environments"]) == ["prod"] for f in flags)
    incident = next(f for f in flags if f["key"] == INCIDENT)
    assert incident["environments"]["prod"]["enabled"] and incident["riskLevel"] == "high"


def test_list_etag_and_304(service: RunningService) -> None:
    with service.client() as c:
        r = c.get("/v1/flags", params={"environment": "staging"})
        etag = r.headers["etag"]
        r2 = c.get("/v1/flags", params={"environment": "staging"}, headers={"If-None-Match": etag})
        assert r2.status_code == 304 and r2.content == b"" and r2.headers["etag"] == etag
        key = flag_keys(c, "staging")[5]
        assert (
            patch(
                c,
                key,
                "staging",
                {"rollout": 42, "changeReason": "etag test change"},
                if_match=version(c, key, "staging"),
            ).status_code
            == 200
        )
        r3 = c.get("/v1/flags", params={"environment": "staging"}, headers={"If-None-Match": etag})
        assert r3.status_code == 200 and r3.headers["etag"] != etag
        assert next(f for f in r3.json()["flags"] if f["key"] == key)["environments"]["staging"]["rollout"] == 42
        # other environments' lists did not change
        r4 = c.get("/v1/flags", params={"environment": "dev"})
        assert (
            c.get("/v1/flags", params={"environment": "dev"}, headers={"If-None-Match": r4.headers["etag"]}).status_code
            == 304
        )


def test_one_flag_etag_is_state_version(service: RunningService) -> None:
    with service.client() as c:
        r = c.get(f"/v1/flags/{INCIDENT}", params={"environment": "dev"})
        v = r.json()["environments"]["dev"]["version"]
        assert r.headers["etag"] == f'"{v}"'
        assert (
            c.get(
                f"/v1/flags/{INCIDENT}", params={"environment": "dev"}, headers={"If-None-Match": f'"{v}"'}
            ).status_code
            == 304
        )
        everything = c.get(f"/v1/flags/{INCIDENT}").json()
        assert set(everything["environments"]) == {"dev", "staging", "prod"}
        assert_problem(c.get("/v1/flags/no-such-flag", params={"environment": "dev"}), 404, "key")
        assert_problem(c.get(f"/v1/flags/{INCIDENT}", params={"environment": "moon"}), 404, "environment")
        assert_problem(c.get("/v1/flags", params={"environment": "moon"}), 404, "environment")
        assert_problem(c.get("/v1/flags"), 422, "environment")


def test_patch_preconditions_and_validation(service: RunningService) -> None:
    key = "growth-nps-survey"
    with service.client() as c:
        if key not in flag_keys(c, "dev"):
            key = flag_keys(c, "dev")[10]
        v = version(c, key, "dev")
        assert_problem(patch(c, key, "dev", {"enabled": True, "changeReason": "no if-match"}), 428, "If-Match")
        body = assert_problem(
            patch(c, key, "dev", {"enabled": True, "changeReason": "stale"}, if_match=v + 5), 412, "If-Match"
        )
        assert body["currentVersion"] == v
        assert_problem(patch(c, key, "dev", {"enabled": True}, if_match=v), 422, "changeReason")
        assert_problem(patch(c, key, "dev", {"enabled": True, "changeReason": "   "}, if_match=v), 422, "changeReason")
        assert_problem(patch(c, key, "dev", {"rolout": 5, "changeReason": "typo"}, if_match=v), 422, "rolout")
        assert_problem(
            patch(c, key, "dev", {"rollout": "lots", "changeReason": "bad type"}, if_match=v), 422, "rollout"
        )
        assert_problem(patch(c, key, "dev", {"rollout": 101, "changeReason": "too much"}, if_match=v), 422, "rollout")
        assert_problem(patch(c, key, "dev", {"enabled": "yes", "changeReason": "bad bool"}, if_match=v), 422, "enabled")
        assert_problem(
            patch(c, key, "dev", {"defaultVariant": "nope", "changeReason": "bad variant"}, if_match=v),
            422,
            "defaultVariant",
        )
        assert_problem(
            patch(
                c,
                key,
                "dev",
                {
                    "rules": [{"id": "r", "attribute": "a", "op": "regex", "values": [], "variant": "on"}],
                    "changeReason": "bad op",
                },
                if_match=v,
            ),
            422,
            "rules[0].op",
        )
        assert_problem(patch(c, key, "dev", {"changeReason": "nothing to change"}, if_match=v), 422)
        assert_problem(patch(c, key, "dev", ["not", "an", "object"], if_match=v), 422)  # type: ignore[arg-type]
        r = c.patch(
            f"/v1/flags/{key}",
            params={"environment": "dev"},
            content=b'{"enabled": tru',
            headers={"If-Match": f'"{v}"', "Content-Type": "application/json"},
        )
        assert_problem(r, 400, "body")
        r = c.patch(
            f"/v1/flags/{key}",
            params={"environment": "dev"},
            content=b"x" * (2 * 1024 * 1024),
            headers={"If-Match": f'"{v}"', "Content-Type": "application/json"},
        )
        assert_problem(r, 413, "body")
        assert_problem(patch(c, "no-such-flag", "dev", {"enabled": True, "changeReason": "ghost"}, if_match=1), 404)
        assert_problem(patch(c, key, "moon", {"enabled": True, "changeReason": "ghost"}, if_match=1), 404)
        # nothing above was written
        assert version(c, key, "dev") == v
        ok = patch(c, key, "dev", {"rollout": 33, "changeReason": "valid change", "ticket": "INC-7"}, if_match=v)
        assert ok.status_code == 200, ok.text
        assert ok.headers["etag"] == f'"{v + 1}"'
        state = ok.json()["environments"]["dev"]
        assert (state["rollout"], state["version"], state["updatedBy"]) == (33, v + 1, "alice-admin")
        entry = c.get("/v1/audit", params={"flag": key, "limit": 1}).json()["entries"][0]
        assert (entry["actor"], entry["reason"], entry["ticket"]) == ("alice-admin", "valid change", "INC-7")
        assert entry["before"]["version"] == v and entry["after"]["rollout"] == 33


def test_idempotency_replay_and_mismatch(service: RunningService) -> None:
    key = flag_keys(service.client(), "dev")[20]
    with service.client() as c:
        v = version(c, key, "dev")
        idem = str(uuid.uuid4())
        body = {"rollout": 12.5, "changeReason": "idempotent change"}
        first = patch(c, key, "dev", body, if_match=v, idem=idem)
        again = patch(c, key, "dev", body, if_match=v, idem=idem)
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert version(c, key, "dev") == v + 1
        other = patch(c, key, "dev", {"rollout": 99, "changeReason": "idempotent change"}, if_match=v + 1, idem=idem)
        assert_problem(other, 422, "Idempotency-Key")
        assert version(c, key, "dev") == v + 1
        assert_problem(patch(c, key, "dev", body, if_match=v + 1, idem="has space"), 400, "Idempotency-Key")


def test_writer_scoped_to_dev(service: RunningService) -> None:
    key = flag_keys(service.client(), "dev")[30]
    with service.client(service.writer_dev_token) as c:
        r = patch(
            c, key, "dev", {"enabled": False, "changeReason": "dev deployer change"}, if_match=version(c, key, "dev")
        )
        assert r.status_code == 200 and r.json()["environments"]["dev"]["updatedBy"] == "dev-deployer"
        assert_problem(patch(c, key, "prod", {"enabled": False, "changeReason": "not allowed"}, if_match=1), 403)


def test_restore_makes_a_new_version_equal_to_the_old(service: RunningService) -> None:
    key = flag_keys(service.client(), "staging")[40]
    with service.client() as c:
        v0 = version(c, key, "staging")
        original = c.get(f"/v1/flags/{key}", params={"environment": "staging"}).json()["environments"]["staging"]
        assert (
            patch(
                c,
                key,
                "staging",
                {"enabled": not original["enabled"], "rollout": 7, "changeReason": "change before restore"},
                if_match=v0,
            ).status_code
            == 200
        )
        url = f"/v1/flags/{key}/restore"
        assert_problem(
            c.post(url, params={"environment": "staging"}, json={"toVersion": v0, "changeReason": "roll back"}), 428
        )
        assert_problem(
            c.post(
                url,
                params={"environment": "staging"},
                json={"toVersion": 999, "changeReason": "roll back"},
                headers={"If-Match": f'"{v0 + 1}"'},
            ),
            422,
            "toVersion",
        )
        assert_problem(
            c.post(url, params={"environment": "staging"}, json={"toVersion": v0}, headers={"If-Match": f'"{v0 + 1}"'}),
            422,
            "changeReason",
        )
        r = c.post(
            url,
            params={"environment": "staging"},
            json={"toVersion": v0, "changeReason": "roll back"},
            headers={"If-Match": f'"{v0 + 1}"'},
        )
        assert r.status_code == 200, r.text
        state = r.json()["environments"]["staging"]
        assert state["version"] == v0 + 2
        assert (state["enabled"], state["rollout"]) == (original["enabled"], original["rollout"])
        entry = c.get("/v1/audit", params={"flag": key, "limit": 1}).json()["entries"][0]
        assert entry["action"] == "flag.restored" and entry["after"]["restoredFrom"] == v0


def test_audit_filters_and_verify(service: RunningService) -> None:
    with service.client(service.read_token) as c:
        entries = c.get("/v1/audit", params={"limit": 5}).json()["entries"]
        assert len(entries) == 5
        seqs = [e["sequence"] for e in entries]
        assert seqs == sorted(seqs, reverse=True)
        newer = c.get("/v1/audit", params={"since": seqs[-1]}).json()["entries"]
        assert [e["sequence"] for e in newer] == seqs[:-1][: len(newer)]
        assert c.get("/v1/audit", params={"environment": "dev"}).status_code == 200
        at = entries[2]["at"]
        by_time = c.get("/v1/audit", params={"since": at, "limit": 1000}).json()["entries"]
        assert entries[2]["sequence"] in [e["sequence"] for e in by_time]
        assert all(e["at"] >= at[:19] for e in by_time)
        assert_problem(c.get("/v1/audit", params={"since": "yesterday"}), 422)
        assert_problem(c.get("/v1/audit", params={"limit": 0}), 422, "limit")
        result = c.get("/v1/audit/verify").json()
        assert result["ok"] is True and result["checked"] >= 300
    with service.client(service.writer_dev_token) as c:
        assert_problem(c.get("/v1/audit"), 403)


def test_unknown_route_and_method_are_problems(service: RunningService) -> None:
    with service.client() as c:
        assert_problem(c.get("/v1/nothing-here"), 404)
        assert_problem(c.put("/v1/flags"), 405)
