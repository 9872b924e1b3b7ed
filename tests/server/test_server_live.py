"""The live parts over real HTTP: the SSE stream (resume without gaps, heartbeats, many subscribers),
metrics, Prometheus, evaluation, create/archive, and the rate limit."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import httpx
from conftest import RunningService, start_service

from server.helpers import SSEReader, assert_problem, flag_keys, patch, version


def _stream(
    svc: RunningService, env: str | None = None, last_id: int | None = None, token: str | None = None
) -> tuple[httpx.Client, object]:
    client = httpx.Client(base_url=svc.url, headers=svc.headers(token), timeout=httpx.Timeout(10, read=10))
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    params = {"environment": env} if env else {}
    cm = client.stream("GET", "/v1/stream", params=params, headers=headers)
    return client, cm


def test_stream_delivers_changes_and_resumes_without_gaps(service: RunningService) -> None:
    keys = flag_keys(service.client(), "dev")[70:76]
    client, cm = _stream(service, "dev")
    with client, cm as response:  # type: ignore[attr-defined]
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SSEReader(response)
        with service.client() as c:
            patch(
                c, keys[0], "dev", {"rollout": 11, "changeReason": "stream test 0"}, if_match=version(c, keys[0], "dev")
            )
            # a change in another environment is not sent to a dev subscriber
            patch(
                c,
                keys[0],
                "staging",
                {"rollout": 12, "changeReason": "stream test staging"},
                if_match=version(c, keys[0], "staging"),
            )
            patch(
                c, keys[1], "dev", {"rollout": 13, "changeReason": "stream test 1"}, if_match=version(c, keys[1], "dev")
            )
        first = reader.next_change()
        assert first["event"] == "flag.updated"
        data = json.loads(first["data"])
        assert data["flag"] == keys[0] and data["environment"] == "dev" and data["actor"] == "alice-admin"
        assert data["flagState"]["environments"]["dev"]["rollout"] == 11
        second = reader.next_change()
        assert json.loads(second["data"])["flag"] == keys[1]
        resume_from = int(first["id"])
    # while disconnected: more changes
    with service.client() as c:
        for i, k in enumerate(keys[2:]):
            patch(c, k, "dev", {"rollout": 20 + i, "changeReason": "while away"}, if_match=version(c, k, "dev"))
        audit = c.get("/v1/audit", params={"environment": "dev", "since": resume_from}).json()["entries"]
    expected = sorted(e["sequence"] for e in audit)
    client, cm = _stream(service, "dev", last_id=resume_from)
    with client, cm as response:  # type: ignore[attr-defined]
        reader = SSEReader(response)
        got = [int(reader.next_change()["id"]) for _ in expected]
    assert got == expected  # every dev change after the resume point, in order, none twice
    assert int(second["id"]) in got


def test_stream_heartbeats_and_bad_last_event_id(tmp_path: Path) -> None:
    svc = start_service(tmp_path, demo=False, extra_args=["--heartbeat", "0.2"])
    try:
        client, cm = _stream(svc)
        with client, cm as response:  # type: ignore[attr-defined]
            reader = SSEReader(response)
            assert reader.next_event() == {"retry": "2000"}
            beat = reader.next_event()  # a heartbeat comment, well within the 10 s read timeout
            assert beat["event"] == ":" and beat["data"].startswith("heartbeat")
        # an id from another database: a stream.reset event, then changes numbered below it still arrive
        client, cm = _stream(svc, last_id=10**6)
        with client, cm as response:  # type: ignore[attr-defined]
            reader = SSEReader(response)
            assert reader.next_event() == {"retry": "2000"}
            reset = reader.next_event()
            assert reset["event"] == "stream.reset" and "refetch" in json.loads(reset["data"])["detail"]
            with svc.client() as c:
                new = {"key": "after-reset", "changeReason": "created after a reset"}
                assert c.post("/v1/flags", json=new).status_code == 201
            created = reader.next_change()
            assert created["event"] == "flag.created" and int(created["id"]) < 10**6
        with svc.client() as c:
            assert_problem(c.get("/v1/stream", headers={"Last-Event-ID": "abc"}), 400, "Last-Event-ID")
            assert_problem(c.get("/v1/stream", params={"environment": "moon"}), 404, "environment")
        with svc.client(svc.metrics_token) as c:
            assert_problem(c.get("/v1/stream"), 403)
    finally:
        svc.stop()


def test_many_subscribers_all_get_the_change(service: RunningService) -> None:
    key = flag_keys(service.client(), "dev")[80]
    n = 25
    ready = threading.Barrier(n + 1)
    received: list[str] = []

    def subscriber() -> None:
        client, cm = _stream(service, "dev")
        with client, cm as response:  # type: ignore[attr-defined]
            reader = SSEReader(response)
            reader.next_event()  # the opening "retry:" frame: subscribed
            ready.wait()
            received.append(json.loads(reader.next_change()["data"])["flag"])

    threads = [threading.Thread(target=subscriber) for _ in range(n)]
    for t in threads:
        t.start()
    ready.wait(timeout=30)
    with service.client() as c:
        assert (
            patch(
                c, key, "dev", {"enabled": False, "changeReason": "fan-out test"}, if_match=version(c, key, "dev")
            ).status_code
            == 200
        )
    for t in threads:
        t.join(timeout=30)
    assert received == [key] * n


def test_metrics_ingest_series_and_prometheus(service: RunningService) -> None:
    key = flag_keys(service.client(), "staging")[90]
    body = {"environment": "staging", "counts": [{"flag": key, "evaluations": {"on": 90, "off": 10}, "errors": 4}]}
    with service.client(service.metrics_token) as c:
        r = c.post("/v1/metrics", json=body)
        assert r.status_code == 202, r.text
        assert_problem(c.post("/v1/metrics", json={**body, "environment": "moon"}), 422, "environment")
        bad = {"environment": "staging", "counts": [body["counts"][0], {"flag": "no-such-flag"}]}
        assert_problem(c.post("/v1/metrics", json=bad), 422, "counts[1].flag")
        neg = {"environment": "staging", "counts": [{"flag": key, "evaluations": {"on": -1}}]}
        assert_problem(c.post("/v1/metrics", json=neg), 422, "counts[0].evaluations")
        assert_problem(c.post("/v1/metrics", json={**body, "at": "2001-01-01T00:00:00Z"}), 422, "at")
    with service.client(service.read_token) as c:
        assert_problem(c.post("/v1/metrics", json=body), 403)
        series = c.get(f"/v1/metrics/flags/{key}", params={"environment": "staging", "window": 60}).json()
        assert series["flag"] == key and series["step"] == 10 and len(series["points"]) == 6
        assert sum(p["evaluations"].get("on", 0) for p in series["points"]) == 90  # the bad posts added nothing
        assert sum(p["errors"] for p in series["points"]) == 4
        assert_problem(c.get(f"/v1/metrics/flags/{key}", params={"environment": "staging", "step": 15}), 422, "step")
        assert_problem(c.get("/v1/metrics/flags/no-such", params={"environment": "staging"}), 404)
        many = c.get(
            "/v1/metrics/flags",
            params={"environment": "staging", "window": 120, "step": 60, "flag": [key, "checkout-new-flow"]},
        ).json()["series"]
        assert [s["flag"] for s in many] == [key, "checkout-new-flow"]
        assert sum(p["evaluations"].get("on", 0) for p in many[0]["points"]) == 90
        everything = c.get("/v1/metrics/flags", params={"environment": "staging"}).json()["series"]
        assert len(everything) >= 280
        assert_problem(c.get("/v1/metrics/flags", params={"environment": "staging", "flag": "nope"}), 404, "flag")
        text = c.get("/metrics").text
        assert f'flagops_flag_evaluations_total{{flag="{key}",environment="staging",variant="on"}} 90' in text
        assert f'flagops_flag_errors_total{{flag="{key}",environment="staging"}} 4' in text
        assert "# TYPE flagops_stream_subscribers gauge" in text
    assert_problem(httpx.get(f"{service.url}/metrics"), 401)


def test_evaluate_is_deterministic(service: RunningService) -> None:
    with service.client() as c:
        key = "checkout-new-flow"
        reqs = [{"flagKey": key, "context": {"userId": f"user-{i}"}, "defaultValue": False} for i in range(200)]
        reqs.append({"flagKey": "no-such-flag", "context": {}, "defaultValue": "fallback"})
        reqs.append({"flagKey": key, "context": {}, "defaultValue": False})
        first = c.post("/v1/evaluate", json={"environment": "dev", "requests": reqs}).json()["decisions"]
        second = c.post("/v1/evaluate", json={"environment": "dev", "requests": reqs}).json()["decisions"]
        assert [d["variant"] for d in first] == [d["variant"] for d in second]
        missing = first[200]
        assert (missing["reason"], missing["error"], missing["value"]) == ("error", "FLAG_NOT_FOUND", "fallback")
        # prod is a partial rollout: some users in, most out, decided by bucket
        prod = c.post("/v1/evaluate", json={"environment": "prod", "requests": reqs[:200]}).json()["decisions"]
        rollout = c.get(f"/v1/flags/{key}", params={"environment": "prod"}).json()["environments"]["prod"]["rollout"]
        on = [d for d in prod if d["variant"] == "on"]
        assert all(d["reason"] == "rollout" and d["bucketing"]["bucket"] < rollout for d in on)
        assert all(d["bucketing"]["bucket"] >= rollout for d in prod if d["variant"] == "off")
        nokey = c.post("/v1/evaluate", json={"environment": "prod", "requests": [reqs[-1]]}).json()["decisions"][0]
        assert nokey["reason"] == "error" and nokey["error"].startswith("TARGETING_KEY_MISSING")
        assert_problem(c.post("/v1/evaluate", json={"environment": "prod", "requests": []}), 422, "requests")
        assert_problem(c.post("/v1/evaluate", json={"environment": "moon", "requests": reqs[:1]}), 404)


def test_create_and_archive(service: RunningService) -> None:
    key = f"test-created-{uuid.uuid4().hex[:8]}"
    new = {
        "key": key,
        "name": "Created in a test",
        "owner": "qa",
        "tags": ["test"],
        "riskLevel": "medium",
        "environments": {"dev": {"enabled": True, "rollout": 50}},
        "changeReason": "test creates a flag",
    }
    with service.client() as c:
        idem = str(uuid.uuid4())
        r = c.post("/v1/flags", json=new, headers={"Idempotency-Key": idem})
        assert r.status_code == 201, r.text
        assert r.headers["location"] == f"/v1/flags/{key}"
        envs = r.json()["environments"]
        assert envs["dev"]["enabled"] and envs["dev"]["rollout"] == 50 and not envs["prod"]["enabled"]
        replay = c.post("/v1/flags", json=new, headers={"Idempotency-Key": idem})
        assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
        assert_problem(c.post("/v1/flags", json=new), 409, "key")
        assert_problem(c.post("/v1/flags", json={**new, "key": "Bad Key!"}), 422, "key")
        assert_problem(c.post("/v1/flags", json={**new, "key": key + "x", "kind": "sometimes"}), 422, "kind")
        assert_problem(c.post("/v1/flags", json={**new, "key": key + "y", "environments": {"moon": {}}}), 422)
        assert_problem(
            c.post("/v1/flags", json={k: v for k, v in new.items() if k != "changeReason"}), 422, "changeReason"
        )
        assert key in flag_keys(c, "dev")
        assert_problem(c.delete(f"/v1/flags/{key}"), 422, "changeReason")
        gone = c.delete(f"/v1/flags/{key}", params={"changeReason": "test cleanup"})
        assert gone.status_code == 200 and gone.json()["archived"] is True
        assert key not in flag_keys(c, "dev")
        assert_problem(c.get(f"/v1/flags/{key}"), 404)
        actions = [e["action"] for e in c.get("/v1/audit", params={"flag": key}).json()["entries"]]
        assert actions == ["flag.archived", "flag.created"]
    with service.client(service.writer_dev_token) as c:
        assert_problem(c.post("/v1/flags", json={**new, "key": key + "z"}), 403)


def test_rate_limit_gives_429_with_retry_after(tmp_path: Path) -> None:
    svc = start_service(tmp_path, demo=False, extra_args=["--rate-limit", "2"])
    try:
        with svc.client() as c:
            codes = [c.get("/v1/environments") for _ in range(8)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited, [r.status_code for r in codes]
        assert_problem(limited[0], 429)
        assert int(limited[0].headers["retry-after"]) >= 1
        with svc.client(svc.read_token) as c:  # per token: another caller is not affected
            assert c.get("/v1/environments").status_code == 200
    finally:
        svc.stop()
