"""OFREP on the real service over HTTP: shapes, environment selection, error codes, ETag/304 on bulk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import RunningService, start_service
from server.helpers import patch, set_rollout, version

SINGLE = "/ofrep/v1/evaluate/flags/{}"
BULK = "/ofrep/v1/evaluate/flags"
ENV = "X-Flagops-Environment"


def ofrep(service: RunningService, token: str | None = None, env: str | None = "prod") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or service.admin_token}"}
    if env is not None:
        headers[ENV] = env
    return httpx.Client(base_url=service.url, headers=headers, timeout=10)


def demo_flags(service: RunningService, env: str = "prod") -> list[dict]:
    with service.client() as c:
        return list(c.get("/v1/flags", params={"environment": env}).json()["flags"])


def test_single_success_shape_and_metadata(service: RunningService) -> None:
    flags = demo_flags(service)
    full = next(
        f
        for f in flags
        if f["environments"]["prod"]["enabled"]
        and not f["environments"]["prod"]["rules"]
        and f["environments"]["prod"]["rollout"] == 100
    )
    off = next(f for f in flags if not f["environments"]["prod"]["enabled"])
    with ofrep(service) as c:
        r = c.post(SINGLE.format(full["key"]), json={"context": {"targetingKey": "user-1"}})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
        body = r.json()
        state = full["environments"]["prod"]
        values = {v["key"]: v.get("value") for v in full["variants"]}
        assert body == {
            "key": full["key"],
            "reason": "STATIC",
            "variant": state["defaultVariant"],
            "value": values[state["defaultVariant"]],
            "metadata": {"environment": "prod", "version": state["version"], "flagopsReason": "fallthrough"},
        }
        r = c.post(SINGLE.format(off["key"]), json={})  # no context at all is fine for an off flag
        assert r.status_code == 200 and r.json()["reason"] == "DISABLED"
        assert r.json()["variant"] == off["environments"]["prod"]["offVariant"]


def test_environment_selection(service: RunningService) -> None:
    key = demo_flags(service, "dev")[0]["key"]
    ctx = {"context": {"targetingKey": "u"}}
    with ofrep(service, env="dev") as c:
        assert c.post(SINGLE.format(key), json=ctx).json()["metadata"]["environment"] == "dev"
    # no header, a token that may use every environment: the request must say which
    with ofrep(service, env=None) as c:
        r = c.post(SINGLE.format(key), json=ctx)
        assert r.status_code == 400 and r.json()["errorCode"] == "GENERAL" and ENV in r.json()["errorDetails"]
        assert r.json()["key"] == key
        r = c.post(BULK, json=ctx)
        assert r.status_code == 400 and r.json()["errorCode"] == "GENERAL" and "key" not in r.json()
    # a token limited to one environment evaluates there without the header
    with ofrep(service, token=service.writer_dev_token, env=None) as c:
        assert c.post(SINGLE.format(key), json=ctx).json()["metadata"]["environment"] == "dev"
    with ofrep(service, token=service.writer_dev_token, env="prod") as c:
        r = c.post(SINGLE.format(key), json=ctx)
        assert r.status_code == 403 and r.json()["errorCode"] == "GENERAL" and "prod" in r.json()["errorDetails"]
    with ofrep(service, env="qa") as c:
        r = c.post(SINGLE.format(key), json=ctx)
        assert r.status_code == 400 and "unknown environment 'qa'" in r.json()["errorDetails"]
    with ofrep(service, env="x" * 500) as c:  # still OFREP's shape, never a framework 422
        r = c.post(BULK, json=ctx)
        assert r.status_code == 400 and r.json()["errorCode"] == "GENERAL" and len(r.text) < 400


def test_auth(service: RunningService) -> None:
    key = demo_flags(service)[0]["key"]
    r = httpx.post(f"{service.url}{SINGLE.format(key)}", json={}, headers={ENV: "prod"})
    assert r.status_code == 401 and r.json()["errorCode"] == "GENERAL"
    r = httpx.post(f"{service.url}{BULK}", json={}, headers={ENV: "prod", "Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["errorCode"] == "GENERAL" and "wrong" not in r.text
    with ofrep(service, token=service.metrics_token) as c:  # metrics:write only
        r = c.post(SINGLE.format(key), json={})
        assert r.status_code == 403 and "flags:read" in r.json()["errorDetails"]


def test_error_codes(service: RunningService) -> None:
    flags = demo_flags(service)
    split = next(
        f for f in flags if f["environments"]["prod"]["enabled"] and 0 < f["environments"]["prod"]["rollout"] < 100
    )
    with ofrep(service) as c:
        r = c.post(SINGLE.format("no-such-flag"), json={"context": {"targetingKey": "u"}})
        assert r.status_code == 404 and r.json() == {
            "key": "no-such-flag",
            "errorCode": "FLAG_NOT_FOUND",
            "errorDetails": "flag 'no-such-flag' does not exist in prod",
        }
        r = c.post(SINGLE.format(split["key"]), json={"context": {"plan": "free"}})
        assert r.status_code == 400 and r.json()["errorCode"] == "TARGETING_KEY_MISSING"
        assert "targetingKey" in r.json()["errorDetails"]
        r = c.post(SINGLE.format(split["key"]), content=b'{"context": {', headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["errorCode"] == "PARSE_ERROR"
        r = c.post(SINGLE.format(split["key"]), content=b"[1, 2]", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["errorCode"] == "PARSE_ERROR"
        r = c.post(SINGLE.format(split["key"]), content=b"x=1", headers={"Content-Type": "text/plain"})
        assert r.status_code == 400 and r.json()["errorCode"] == "PARSE_ERROR"
        for bad in ({"context": [1]}, {"context": "user-1"}, {"context": {"targetingKey": 42}}):
            r = c.post(SINGLE.format(split["key"]), json=bad)
            assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_CONTEXT", (bad, r.text)
            r = c.post(BULK, json=bad)
            assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_CONTEXT", (bad, r.text)
        # userId and accountId stand in for targetingKey, as in /v1/evaluate
        assert c.post(SINGLE.format(split["key"]), json={"context": {"userId": "u-7"}}).status_code == 200
        # in bulk, a flag that cannot be evaluated is a per-flag failure; the others still answer
        r = c.post(BULK, json={"context": {"plan": "free"}})
        assert r.status_code == 200
        entries = {e["key"]: e for e in r.json()["flags"]}
        assert entries[split["key"]]["errorCode"] == "TARGETING_KEY_MISSING"
        assert any("value" in e for e in entries.values())


def test_archived_flag_is_not_found(fresh_service: RunningService) -> None:
    key = demo_flags(fresh_service)[3]["key"]
    with ofrep(fresh_service) as c:
        etag = c.post(BULK, json={}).headers["etag"]
    with fresh_service.client() as admin:
        assert admin.delete(f"/v1/flags/{key}", params={"changeReason": "ofrep archive test"}).status_code == 200
    with ofrep(fresh_service) as c:
        assert c.post(BULK, json={}, headers={"If-None-Match": etag}).status_code == 200  # an archive is a change
        r = c.post(SINGLE.format(key), json={"context": {"targetingKey": "u"}})
        assert r.status_code == 404 and r.json()["errorCode"] == "FLAG_NOT_FOUND"
        assert "archived" in r.json()["errorDetails"]
        assert key not in {e["key"] for e in c.post(BULK, json={}).json()["flags"]}


def test_bulk_matches_single_and_etag(fresh_service: RunningService) -> None:
    ctx = {"context": {"targetingKey": "user-42", "plan": "enterprise", "region": "EU"}}
    with ofrep(fresh_service) as c:
        r = c.post(BULK, json=ctx)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        etag = r.headers["etag"]
        assert body["metadata"]["environment"] == "prod" and len(body["flags"]) == len(demo_flags(fresh_service))
        for entry in body["flags"][::25]:
            assert c.post(SINGLE.format(entry["key"]), json=ctx).json() == entry
        # a second context: answers that cannot depend on it come from the bulk cache, the rest are evaluated
        other_ctx = {"context": {"targetingKey": "user-7", "email": "ana@example.com"}}
        for entry in c.post(BULK, json=other_ctx).json()["flags"][3::7]:
            assert c.post(SINGLE.format(entry["key"]), json=other_ctx).json() == entry
        # same context, nothing changed: 304 with no body
        r = c.post(BULK, json=ctx, headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
        # another context is another answer, so another ETag
        other = c.post(BULK, json={"context": {"targetingKey": "user-43"}}, headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag
        # a change in prod makes the old ETag stale; a change elsewhere does not
        with fresh_service.client() as admin:
            dev_key = demo_flags(fresh_service, "dev")[0]["key"]
            assert set_rollout(admin, dev_key, "dev", 33).status_code == 200
            assert c.post(BULK, json=ctx, headers={"If-None-Match": etag}).status_code == 304
            target = body["flags"][0]["key"]
            assert (
                patch(
                    admin,
                    target,
                    "prod",
                    {"enabled": False, "changeReason": "ofrep etag test"},
                    if_match=version(admin, target, "prod"),
                ).status_code
                == 200
            )
        r = c.post(BULK, json=ctx, headers={"If-None-Match": etag})
        assert r.status_code == 200 and r.headers["etag"] != etag
        assert next(e for e in r.json()["flags"] if e["key"] == target)["reason"] == "DISABLED"


def test_openapi_documents_ofrep(service: RunningService) -> None:
    doc = httpx.get(f"{service.url}/openapi.json").json()
    single = doc["paths"]["/ofrep/v1/evaluate/flags/{key}"]["post"]
    bulk = doc["paths"]["/ofrep/v1/evaluate/flags"]["post"]
    assert {"200", "400", "404", "401", "403", "429"} <= set(single["responses"])
    assert {"200", "304", "400"} <= set(bulk["responses"]) and "4XX" not in bulk["responses"]
    assert ENV in {p["name"] for p in single["parameters"] if p["in"] == "header"}


def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc", extra_args=["--rate-limit", "1"])
    try:
        with ofrep(svc) as c:
            statuses = [c.post(BULK, json={}) for _ in range(4)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert limited[0].headers["retry-after"].isdigit() and limited[0].json()["errorCode"] == "GENERAL"
    finally:
        svc.stop()


@pytest.mark.parametrize("body", [b"", b"{}", b'{"context": null}', b'{"context": {}, "futureField": 1}'])
def test_empty_and_forward_compatible_bodies(service: RunningService, body: bytes) -> None:
    with ofrep(service) as c:
        r = c.post(BULK, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
