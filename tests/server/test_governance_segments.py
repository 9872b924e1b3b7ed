"""Segments against the real service: create/update/list/show, rules that reference them, evaluation that names
the segment that decided, the audit by entity; the policy file's errors; the demo's segments and incident."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import RunningService

from server.governance_helpers import audit_ok, create_flag, prod_version, start_governed

REASON = {"changeReason": "segments for the tests"}


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    svc, bob = start_governed(tmp_path_factory.mktemp("segments"))
    yield svc, bob
    svc.stop()


def _evaluate(c: httpx.Client, key: str, env: str, context: dict[str, object]) -> dict[str, object]:
    body = {"environment": env, "requests": [{"flagKey": key, "context": context, "defaultValue": False}]}
    r = c.post("/v1/evaluate", json=body)
    assert r.status_code == 200, r.text
    return r.json()["decisions"][0]  # type: ignore[no-any-return]


def test_segment_lifecycle_and_evaluation(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    with svc.client() as c:
        body = {
            "key": "nordic_pro",
            "name": "Nordic pro plans",
            "conditions": [
                {"attribute": "country", "op": "in", "values": ["SE", "NO", "FI"]},
                {"attribute": "plan", "op": "eq", "values": ["pro"]},
            ],
            **REASON,
        }
        r = c.post("/v1/segments", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 1 and r.headers["ETag"] == '"1"'
        assert c.post("/v1/segments", json=body).status_code == 409
        assert c.get("/v1/segments/nordic_pro").json()["name"] == "Nordic pro plans"
        assert "nordic_pro" in [s["key"] for s in c.get("/v1/segments").json()["segments"]]
        # a rule referencing it (dev is not governed)
        create_flag(c, "seg-flag", risk="low")
        dev = c.get("/v1/flags/seg-flag", params={"environment": "dev"}).json()["environments"]["dev"]
        rule = {"id": "nordics", "attribute": "", "op": "in_segment", "values": ["nordic_pro"], "variant": "on"}
        off = {"enabled": True, "rollout": 0, "rules": [rule], **REASON}
        r = c.patch(
            "/v1/flags/seg-flag", params={"environment": "dev"}, json=off, headers={"If-Match": f'"{dev["version"]}"'}
        )
        assert r.status_code == 200, r.text
        hit = _evaluate(c, "seg-flag", "dev", {"userId": "u1", "country": "SE", "plan": "pro"})
        assert (hit["variant"], hit["reason"], hit["ruleId"], hit["segment"]) == ("on", "rule", "nordics", "nordic_pro")
        miss = _evaluate(c, "seg-flag", "dev", {"userId": "u1", "country": "SE", "plan": "free"})
        assert miss["reason"] == "rollout" and "segment" not in miss
        # an update takes effect at once; If-Match is the segment version
        update = {"conditions": [{"attribute": "country", "op": "in", "values": ["SE"]}], **REASON}
        assert c.patch("/v1/segments/nordic_pro", json=update).status_code == 428
        assert c.patch("/v1/segments/nordic_pro", json=update, headers={"If-Match": '"7"'}).status_code == 412
        r = c.patch("/v1/segments/nordic_pro", json=update, headers={"If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["version"] == 2
        assert _evaluate(c, "seg-flag", "dev", {"userId": "u1", "country": "SE", "plan": "free"})["segment"] == (
            "nordic_pro"
        )
        # a rule naming a segment that does not exist is refused
        ghost = {**rule, "values": ["no_such_segment"]}
        version = c.get("/v1/flags/seg-flag", params={"environment": "dev"}).json()["environments"]["dev"]["version"]
        r = c.patch(
            "/v1/flags/seg-flag",
            params={"environment": "dev"},
            json={"rules": [ghost], **REASON},
            headers={"If-Match": f'"{version}"'},
        )
        assert r.status_code == 422 and "no_such_segment" in r.json()["detail"]
        # bad conditions name the field
        bad = {**body, "key": "bad_one", "conditions": [{"attribute": "a", "op": "like", "values": []}]}
        r = c.post("/v1/segments", json=bad)
        assert r.status_code == 422 and r.json()["field"] == "conditions[0].op"
        # a dev-only token may not change what applies everywhere
        with svc.client(svc.writer_dev_token) as dev_only:
            assert dev_only.post("/v1/segments", json={**body, "key": "dev_only"}).status_code == 403
        entries = c.get("/v1/audit", params={"entity": "segment:nordic_pro"}).json()["entries"]
        assert [e["action"] for e in entries] == ["segment.updated", "segment.created"]
        assert all(e["entity"] == "segment:nordic_pro" and e["flag"] == "" for e in entries)
        assert audit_ok(c)["ok"] is True


def test_the_demo_has_segments_its_flags_use(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    with svc.client() as c:
        keys = {s["key"] for s in c.get("/v1/segments").json()["segments"]}
        assert {"beta_testers", "enterprise_accounts", "eu_users"} <= keys
        flags = c.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
        using = [
            f
            for f in flags
            if any(r["op"] == "in_segment" for r in f["environments"]["prod"]["rules"])
            and f["environments"]["prod"]["enabled"]
        ]
        assert using, "some demo flags reference segments"
        flag = using[0]
        rule = next(r for r in flag["environments"]["prod"]["rules"] if r["op"] == "in_segment")
        context = {"enterprise_accounts": {"plan": "enterprise"}, "eu_users": {"region": "EU"}}[rule["values"][0]]
        decision = _evaluate(c, flag["key"], "prod", {"userId": "u-9", **context})
        assert decision["segment"] == rule["values"][0] and decision["ruleId"] == rule["id"]


def test_the_incident_still_runs_under_the_demo_policy(tmp_path: Path) -> None:
    # the deploy-bot ramps checkout-new-flow (high risk, prod) through the service itself: never held
    svc, _ = start_governed(tmp_path / "svc", ["--traffic", "--incident-step", "0.2"])
    try:
        with svc.client() as alice:
            import time

            deadline = time.monotonic() + 20
            while prod_version(alice, "checkout-new-flow") < 3:
                assert time.monotonic() < deadline, "the deploy-bot did not ramp the incident flag"
                time.sleep(0.2)
            # an operator's kill of it is break-glass: applied at once, review opened
            version = prod_version(alice, "checkout-new-flow")
            r = alice.patch(
                "/v1/flags/checkout-new-flow",
                params={"environment": "prod"},
                json={"enabled": False, "changeReason": "checkout errors climbing"},
                headers={"If-Match": f'"{version}"'},
            )
            assert r.status_code == 200, r.text
            assert r.headers["Flagops-Review"].startswith("rv-")
    finally:
        svc.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("approvals:\n  - environment: prod\n    approvers: zero\n", "policy.yaml:3: approvals[0].approvers"),
        ("approvals:\n  - environment: prod\n    riskLevels: [huge]\n", "policy.yaml:3: approvals[0].riskLevels"),
        ("approvals:\n  - environment: moon\n", "environment 'moon' does not exist"),
        ("approvals:\n  - environment: prod\n    expiresAfter: soon\n", "policy.yaml:3: approvals[0].expiresAfter"),
        ("approvals: [\n", "policy.yaml:2: not valid YAML"),
    ],
)
def test_a_malformed_policy_stops_the_service(tmp_path: Path, text: str, expected: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    args = ["--port", "0", "--db", str(tmp_path / "f.db"), "--policy", str(policy)]
    args += ["--signing-key", str(tmp_path / "k")]
    done = subprocess.run(
        [sys.executable, "-m", "flagops.server", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert expected in done.stderr, done.stderr
