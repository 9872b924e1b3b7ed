"""Change requests against the real service: two operators, four eyes, stale requests, expiry, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import RunningService

from server.governance_helpers import audit_ok, create_flag, open_request, prod_version, start_governed


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    svc, bob = start_governed(tmp_path_factory.mktemp("governed"))
    yield svc, bob
    svc.stop()


def test_policy_is_served(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    with svc.client(svc.read_token) as c:
        r = c.get("/v1/policy")
    assert r.status_code == 200
    assert r.json() == {
        "approvals": [
            {
                "environment": "prod",
                "riskLevels": ["high", "critical"],
                "approvers": 1,
                "approverScope": "flags:approve",
                "expiresAfterSeconds": 86400,
            }
        ]
    }


def test_a_governed_write_is_refused_with_approval_required(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    with svc.client() as c:
        create_flag(c, "gov-refused")
        version = prod_version(c, "gov-refused")
        r = c.patch(
            "/v1/flags/gov-refused",
            params={"environment": "prod"},
            json={"rollout": 50, "changeReason": "ramp it up"},
            headers={"If-Match": f'"{version}"'},
        )
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/approval-required")
        assert r.json()["approvers"] == 1 and r.json()["changeRequests"] == "/v1/change-requests"
        # dev is not governed: the same change goes straight through
        dev = c.get("/v1/flags/gov-refused", params={"environment": "dev"}).json()["environments"]["dev"]["version"]
        r = c.patch(
            "/v1/flags/gov-refused",
            params={"environment": "dev"},
            json={"rollout": 50, "changeReason": "ramp it up"},
            headers={"If-Match": f'"{dev}"'},
        )
        assert r.status_code == 200, r.text
        r = c.post(
            "/v1/flags/gov-refused/restore",
            params={"environment": "prod"},
            json={"toVersion": 1, "changeReason": "roll back"},
            headers={"If-Match": f'"{version}"'},
        )
        assert r.status_code == 409 and r.json()["type"].endswith("/approval-required")


def test_approve_flow_end_to_end(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        create_flag(alice, "gov-flow")
        version = prod_version(alice, "gov-flow")
        r = open_request(alice, "gov-flow", {"rollout": 50}, version, ticket="OPS-11")
        assert r.status_code == 201, r.text
        cr = r.json()
        assert cr["status"] == "pending" and cr["author"] == "alice" and cr["baseVersion"] == version
        assert cr["requiredApprovals"] == 1 and cr["id"].startswith("cr-")
        # listed and shown
        listed = alice.get("/v1/change-requests", params={"environment": "prod", "status": "pending"}).json()
        assert cr["id"] in [x["id"] for x in listed["changeRequests"]]
        assert alice.get(f"/v1/change-requests/{cr['id']}").json()["id"] == cr["id"]
        # not applicable before approval
        r = alice.post(f"/v1/change-requests/{cr['id']}/apply", headers={"If-Match": f'"{version}"'})
        assert r.status_code == 409, r.text
        # the author may not approve their own
        r = alice.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": "looks right to me"})
        assert r.status_code == 403 and r.json()["type"].endswith("/self-approval")
        # bob approves
        r = bobc.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": "load test was green"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
        assert r.json()["verdicts"][0]["actor"] == "bob"
        # apply needs If-Match = baseVersion
        assert alice.post(f"/v1/change-requests/{cr['id']}/apply").status_code == 428
        r = alice.post(f"/v1/change-requests/{cr['id']}/apply", headers={"If-Match": f'"{version}"'})
        assert r.status_code == 200, r.text
        applied = r.json()
        assert applied["changeRequest"]["status"] == "applied"
        assert applied["changeRequest"]["appliedBy"] == "alice"
        assert applied["flag"]["environments"]["prod"]["rollout"] == 50
        assert applied["changeRequest"]["appliedVersion"] == version + 1
        assert prod_version(alice, "gov-flow") == version + 1
        # applied once: a second apply is refused
        r = alice.post(f"/v1/change-requests/{cr['id']}/apply", headers={"If-Match": f'"{version}"'})
        assert r.status_code == 409
        # the whole story is in the audit, by entity
        entries = alice.get("/v1/audit", params={"entity": f"change-request:{cr['id']}"}).json()["entries"]
        actions = [e["action"] for e in reversed(entries)]
        assert actions == [
            "change-request.created",
            "change-request.approved",
            "flag.updated",
            "change-request.applied",
        ]
        assert all(e["changeRequest"] == cr["id"] for e in entries)
        flag_rows = alice.get("/v1/audit", params={"entity": "flag:gov-flow"}).json()["entries"]
        assert {"flag.created", "flag.updated", "change-request.created"} <= {e["action"] for e in flag_rows}
        assert {e["entity"] for e in flag_rows} == {"flag:gov-flow", f"change-request:{cr['id']}"}
        assert audit_ok(alice)["ok"] is True


def test_rejected_and_cancelled_requests(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        create_flag(alice, "gov-reject")
        version = prod_version(alice, "gov-reject")
        first = open_request(alice, "gov-reject", {"enabled": False}, version).json()
        assert (
            alice.post(f"/v1/change-requests/{first['id']}/reject", json={"comment": "not my own"}).status_code == 403
        )
        r = bobc.post(f"/v1/change-requests/{first['id']}/reject", json={"comment": "wait for the freeze"})
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        r = bobc.post(f"/v1/change-requests/{first['id']}/approve", json={"comment": "changed my mind"})
        assert r.status_code == 409
        second = open_request(alice, "gov-reject", {"rollout": 20}, version).json()
        r = bobc.post(f"/v1/change-requests/{second['id']}/cancel", json={"comment": "not mine to withdraw"})
        assert r.status_code == 403
        r = alice.post(f"/v1/change-requests/{second['id']}/cancel", json={"comment": "no longer needed"})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        # a comment is required and at least 8 characters
        third = open_request(alice, "gov-reject", {"rollout": 30}, version).json()
        assert bobc.post(f"/v1/change-requests/{third['id']}/approve", json={"comment": "ok"}).status_code == 422
        assert bobc.post(f"/v1/change-requests/{third['id']}/approve", json={}).status_code == 422


def test_a_stale_change_request_is_refused_with_412(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        create_flag(alice, "gov-stale")
        version = prod_version(alice, "gov-stale")
        # written against an old version: refused at once
        r = open_request(alice, "gov-stale", {"rollout": 40}, version - 1 if version > 1 else version + 5)
        assert r.status_code == 412, r.text
        r = alice.post(
            "/v1/change-requests",
            params={"environment": "prod"},
            json={"flag": "gov-stale", "change": {"rollout": 40}, "changeReason": "ramp it to forty"},
        )
        assert r.status_code == 428
        stale = open_request(alice, "gov-stale", {"rollout": 40}, version).json()
        approved = open_request(alice, "gov-stale", {"rollout": 45}, version).json()
        assert (
            bobc.post(f"/v1/change-requests/{approved['id']}/approve", json={"comment": "fine, go"}).status_code == 200
        )
        # the flag moves (through another approved request), so the other one is stale
        other = open_request(alice, "gov-stale", {"rollout": 60}, version).json()
        assert bobc.post(f"/v1/change-requests/{other['id']}/approve", json={"comment": "go ahead"}).status_code == 200
        r = alice.post(f"/v1/change-requests/{other['id']}/apply", headers={"If-Match": f'"{version}"'})
        assert r.status_code == 200, r.text
        r = bobc.post(f"/v1/change-requests/{stale['id']}/approve", json={"comment": "approving late"})
        assert r.status_code == 412, r.text
        assert r.json()["currentVersion"] == version + 1
        r = alice.post(f"/v1/change-requests/{approved['id']}/apply", headers={"If-Match": f'"{version}"'})
        assert r.status_code == 412, r.text
        assert prod_version(alice, "gov-stale") == version + 1


def test_idempotent_creation(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    with svc.client() as alice:
        create_flag(alice, "gov-idem")
        version = prod_version(alice, "gov-idem")
        headers = {"If-Match": f'"{version}"', "Idempotency-Key": "cr-idem-1"}
        body = {"flag": "gov-idem", "change": {"rollout": 30}, "changeReason": "ramp to thirty"}
        first = alice.post("/v1/change-requests", params={"environment": "prod"}, json=body, headers=headers)
        again = alice.post("/v1/change-requests", params={"environment": "prod"}, json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        listed = alice.get("/v1/change-requests", params={"flag": "gov-idem"}).json()["changeRequests"]
        assert len(listed) == 1


def test_a_restore_request(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        create_flag(alice, "gov-restore", risk="critical")
        version = prod_version(alice, "gov-restore")
        flow = open_request(alice, "gov-restore", {"rollout": 70}, version).json()
        bobc.post(f"/v1/change-requests/{flow['id']}/approve", json={"comment": "go to seventy"})
        alice.post(f"/v1/change-requests/{flow['id']}/apply", headers={"If-Match": f'"{version}"'})
        body = {"flag": "gov-restore", "restoreToVersion": version, "changeReason": "back to where it was"}
        r = bobc.post(
            "/v1/change-requests",
            params={"environment": "prod"},
            json=body,
            headers={"If-Match": f'"{version + 1}"'},
        )
        assert r.status_code == 201, r.text
        cr = r.json()
        assert cr["change"] is None and cr["restoreToVersion"] == version
        alice.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": "yes, restore it"})
        r = bobc.post(f"/v1/change-requests/{cr['id']}/apply", headers={"If-Match": f'"{version + 1}"'})
        assert r.status_code == 200, r.text
        assert r.json()["flag"]["environments"]["prod"]["rollout"] == 10


def test_expired_requests(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("approvals:\n  - environment: prod\n    riskLevels: [high]\n    expiresAfter: 1s\n")
    svc, bob = start_governed(tmp_path / "svc", ["--policy", str(policy)])
    try:
        with svc.client() as alice, svc.client(bob) as bobc:
            create_flag(alice, "gov-expiry")
            version = prod_version(alice, "gov-expiry")
            cr = open_request(alice, "gov-expiry", {"rollout": 30}, version).json()
            import time

            deadline = time.monotonic() + 10
            while alice.get(f"/v1/change-requests/{cr['id']}").json()["status"] != "expired":
                assert time.monotonic() < deadline
                time.sleep(0.2)
            r = bobc.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": "too late now"})
            assert r.status_code == 409, r.text
            entries = alice.get("/v1/audit", params={"entity": f"change-request:{cr['id']}"}).json()["entries"]
            assert [e["action"] for e in entries] == ["change-request.expired", "change-request.created"]
            assert audit_ok(alice)["ok"] is True
    finally:
        svc.stop()


def test_openapi_documents_the_governance_endpoints(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    paths = httpx.get(f"{svc.url}/openapi.json").json()["paths"]
    expected = {
        "/v1/policy": {"get"},
        "/v1/change-requests": {"get", "post"},
        "/v1/change-requests/{cr_id}": {"get"},
        "/v1/change-requests/{cr_id}/approve": {"post"},
        "/v1/change-requests/{cr_id}/reject": {"post"},
        "/v1/change-requests/{cr_id}/cancel": {"post"},
        "/v1/change-requests/{cr_id}/apply": {"post"},
        "/v1/reviews": {"get"},
        "/v1/reviews/{review_id}/acknowledge": {"post"},
        "/v1/segments": {"get", "post"},
        "/v1/segments/{key}": {"get", "patch"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    create = paths["/v1/change-requests"]["post"]
    assert "changeReason" in create["requestBody"]["content"]["application/json"]["schema"]["required"]
    assert "201" in create["responses"] and "4XX" in create["responses"]
    assert "entity" in {p["name"] for p in paths["/v1/audit"]["get"]["parameters"]}
