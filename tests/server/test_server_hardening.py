"""Regression tests for what probing the service found (issue 14), each against the real service over HTTP:
bounded nesting and numbers, reads that cannot fail on stored data, no 500 from overflowing times and
versions, strict booleans, caps on names, the read-only database URI, and correct 405 Allow headers."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningService, start_service

from server.helpers import assert_problem, flag_keys, version


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def new_flag(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "kind": "json",
        "changeReason": "hardening regression test",
        "variants": [{"key": "a", "value": {"x": 1}}, {"key": "b", "value": None}],
        **fields,
    }


def restart(svc: RunningService, workdir: Path) -> RunningService:
    """The same database and tokens, a new process (it reloads everything from SQLite)."""
    svc.stop()
    return start_service(
        workdir,
        demo=True,
        db_path=svc.db_path,
        tokens_file=svc.tokens_file,
        tokens={
            "admin": svc.admin_token,
            "read": svc.read_token,
            "writer_dev": svc.writer_dev_token,
            "metrics": svc.metrics_token,
        },
    )


# --- nesting --------------------------------------------------------------------------------------


def test_deeply_nested_variant_value_is_a_422_and_nothing_is_written(service: RunningService) -> None:
    with service.client() as c:
        head = c.get("/v1/audit", params={"limit": 1}).json()["entries"][0]["sequence"]
        for depth in (950, 40, 5000):  # 5000 is past what Python's JSON parser can decode at all
            # built as text: httpx's own json encoder stops near 1000 levels
            r = c.post(
                "/v1/flags",
                content=_deep_text(depth),
                headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
            )
            problem = assert_problem(r, 422)
            assert "nested deeper than 32 levels" in problem["detail"]
            assert problem["field"] == ("variants[0].value" if depth < 1000 else "body")
            assert c.get(f"/v1/flags/deep-{depth}").status_code == 404
        assert c.get("/v1/audit", params={"limit": 1}).json()["entries"][0]["sequence"] == head
        ok = c.post("/v1/flags", json=new_flag("deep-ok", variants=[{"key": "a", "value": nested(25)}, {"key": "b"}]))
        assert ok.status_code == 201, ok.text
        assert c.get("/v1/audit", params={"limit": 5}).status_code == 200


def _deep_text(depth: int) -> str:
    # json.dumps would recurse as deep as the value: the nested list is spliced into the text instead
    body = json.dumps({"key": f"deep-{depth}", "changeReason": "too deep", "variants": [{"key": "a", "value": "V"}]})
    return body.replace('"V"', "[" * depth + "]" * depth)


def test_deep_context_in_evaluate_names_the_field(service: RunningService) -> None:
    with service.client() as c:
        key = flag_keys(c, "dev")[0]
        r = c.post(
            "/v1/evaluate",
            json={
                "environment": "dev",
                "requests": [{"flagKey": key, "context": {"targetingKey": "u1", "blob": nested(40)}}],
            },
        )
        assert_problem(r, 422, "requests[0].context.blob")


def test_rows_stored_before_the_bounds_are_still_readable(tmp_path: Path) -> None:
    """A 950-deep value already in the database (written before nesting was bounded): the audit page, the
    stream backlog, the flag list, the idempotent replay and verify all still answer."""
    svc = start_service(tmp_path / "a", demo=True)
    with svc.client() as c:
        idem = str(uuid.uuid4())
        assert c.post("/v1/flags", json=new_flag("legacy-deep"), headers={"Idempotency-Key": idem}).status_code == 201
    svc.stop()
    deep = nested(950)
    db = sqlite3.connect(svc.db_path)
    meta = json.loads(db.execute("SELECT meta FROM flags WHERE key='legacy-deep'").fetchone()[0])
    meta["variants"][0]["value"] = deep
    db.execute("UPDATE flags SET meta=? WHERE key='legacy-deep'", (json.dumps(meta),))
    after = json.loads(db.execute("SELECT after FROM audit WHERE flag='legacy-deep'").fetchone()[0])
    after["variants"][0]["value"] = deep
    db.execute("UPDATE audit SET after=? WHERE flag='legacy-deep'", (json.dumps(after),))
    body = json.loads(db.execute("SELECT body FROM idempotency WHERE key=?", (idem,)).fetchone()[0])
    body["variants"][0]["value"] = deep
    db.execute("UPDATE idempotency SET body=? WHERE key=?", (json.dumps(body), idem))
    db.execute(
        "INSERT INTO audit SELECT sequence + 1000, 'not a time', actor, action, flag, environment, reason,"
        " ticket, NULL, '{not json', '[[[', origin, prev_hash, hash FROM audit WHERE flag='legacy-deep'"
    )
    db.commit()
    db.close()
    again = restart(svc, tmp_path / "b")
    try:
        with again.client() as c:
            page = c.get("/v1/audit", params={"flag": "legacy-deep"})
            assert page.status_code == 200, page.text
            entries = page.json()["entries"]
            assert len(entries) == 2 and entries[0]["after"].startswith("<not shown")
            shown = entries[1]["after"]["variants"][0]["value"]
            depth = 0
            while isinstance(shown, list):
                shown, depth = shown[0], depth + 1
            assert depth < 70 and "nested deeper" in shown
            assert c.get("/v1/flags", params={"environment": "prod"}).status_code == 200
            assert c.get("/v1/flags/legacy-deep").status_code == 200
            replay = c.post("/v1/flags", json=new_flag("legacy-deep"), headers={"Idempotency-Key": idem})
            assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
            with c.stream("GET", "/v1/stream", headers={"Last-Event-ID": "0"}) as stream:
                assert stream.status_code == 200
                assert any(b"legacy-deep" in chunk for chunk in stream.iter_bytes())
            verify = c.get("/v1/audit/verify").json()
            assert verify["ok"] is False  # the hand edits are caught, but reported, not a 500
    finally:
        again.stop()
    assert "Traceback" not in "".join(again.output)


# --- overflow -------------------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_audit_since_out_of_range_is_a_422(service: RunningService, since: str) -> None:
    with service.client() as c:
        problem = assert_problem(c.get("/v1/audit", params={"since": since}), 422, "since")
        assert "years 1-9999" in problem["detail"]
        assert c.get("/v1/audit", params={"since": "2020-01-01T00:00:00+05:00"}).status_code == 200


@pytest.mark.parametrize("sunset", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_sunset_out_of_range_is_a_422(service: RunningService, sunset: str) -> None:
    with service.client() as c:
        assert_problem(c.post("/v1/flags", json=new_flag("sunset-overflow", sunsetAt=sunset)), 422, "sunsetAt")
        assert c.get("/v1/flags/sunset-overflow").status_code == 404


def test_restore_to_version_2_to_the_63_is_a_422(service: RunningService) -> None:
    with service.client() as c:
        key = flag_keys(c, "staging")[3]
        v = version(c, key, "staging")
        for to_version in (2**63, 2**63 - 1, 10**30):
            r = c.post(
                f"/v1/flags/{key}/restore",
                params={"environment": "staging"},
                headers={"If-Match": f'"{v}"'},
                json={"toVersion": to_version, "changeReason": "restore overflow probe"},
            )
            assert_problem(r, 422, "toVersion")
        assert version(c, key, "staging") == v


def test_huge_number_in_an_evaluate_context_is_a_422(service: RunningService) -> None:
    with service.client() as c:
        key = "numeric-rule-flag"
        rule = {"id": "big", "attribute": "age", "op": "gt", "values": ["10"], "variant": "on"}
        created = c.post(
            "/v1/flags",
            json={
                "key": key,
                "changeReason": "numeric rule probe",
                "environments": {"dev": {"enabled": True, "rules": [rule]}},
            },
        )
        assert created.status_code == 201, created.text
        # number literals json.dumps would not write (400 digits; 1e400, past any float) are spliced into the text
        context = {"targetingKey": "u", "age": "N"}
        body = json.dumps({"environment": "dev", "requests": [{"flagKey": key, "context": context}]})
        body = body.replace('"N"', "9" * 400)
        r = c.post("/v1/evaluate", content=body, headers={"Content-Type": "application/json"})
        assert_problem(r, 422, "requests[0].context.age")
        inf = json.dumps({"environment": "dev", "requests": [{"flagKey": key, "context": {"age": "N"}}]})
        inf = inf.replace('"N"', "1e400")
        assert_problem(
            c.post("/v1/evaluate", content=inf, headers={"Content-Type": "application/json"}),
            422,
            "requests[0].context.age",
        )
        fine = c.post(
            "/v1/evaluate",
            json={"environment": "dev", "requests": [{"flagKey": key, "context": {"targetingKey": "u", "age": 2**62}}]},
        )
        assert fine.status_code == 200 and fine.json()["decisions"][0]["reason"] == "rule"


def test_a_500_closes_its_connection_and_the_client_carries_on(fresh_service: RunningService) -> None:
    """Fault injection at the storage boundary (the audit table disappears under the running service)."""
    db = sqlite3.connect(fresh_service.db_path)
    db.execute("ALTER TABLE audit RENAME TO audit_gone")
    db.commit()
    db.close()
    with fresh_service.client() as c:
        assert c.get("/healthz").status_code == 200  # a kept-alive connection
        r = c.get("/v1/audit")
        assert_problem(r, 500)
        assert r.headers["connection"] == "close"  # the client knows not to reuse this connection
        for _ in range(3):  # and the next requests simply work
            assert c.get("/healthz").status_code == 200
    logs = "".join(fresh_service.output)
    assert fresh_service.admin_token not in logs
    assert logs.count("Exception in ASGI application") == 0  # handled once, by the service, not uvicorn


# --- strict types and caps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("killSwitch", "false"),
        ("killSwitch", 0),
        ("killSwitch", None),
        ("name", 5),
        ("name", "n" * 5001),
        ("description", "d" * 10001),
        ("owner", "o" * 201),
        ("tags", ["t"] * 101),
        ("ticket", "T" * 201),
    ],
)
def test_create_rejects_coerced_or_oversized_fields(service: RunningService, field: str, value: Any) -> None:
    with service.client() as c:
        assert_problem(c.post("/v1/flags", json=new_flag("strict-types", **{field: value})), 422, field)
    with service.client() as c:
        assert c.get("/v1/flags/strict-types").status_code == 404


def test_kill_switch_false_is_stored_as_false(service: RunningService) -> None:
    with service.client() as c:
        assert c.post("/v1/flags", json=new_flag("kill-switch-off", killSwitch=False)).status_code == 201
        assert c.get("/v1/flags/kill-switch-off").json()["killSwitch"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "false"}, "enabled"),
        ({"rollout": "50"}, "rollout"),
        ({"rollout": True}, "rollout"),
    ],
)
def test_patch_rejects_coerced_values(service: RunningService, body: dict[str, Any], field: str) -> None:
    with service.client() as c:
        key = flag_keys(c, "dev")[5]
        r = c.patch(
            f"/v1/flags/{key}",
            params={"environment": "dev"},
            headers={"If-Match": f'"{version(c, key, "dev")}"'},
            json={**body, "changeReason": "coercion probe"},
        )
        assert_problem(r, 422, field)


# --- URI, methods ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dirname", ["with#hash", "with%41percent", "with?query=1&mode=rwc"])
def test_verify_works_for_database_paths_with_uri_characters(tmp_path: Path, dirname: str) -> None:
    svc = start_service(tmp_path / dirname, demo=True)
    try:
        with svc.client() as c:
            result = c.get("/v1/audit/verify")
            assert result.status_code == 200, result.text
            assert result.json()["ok"] is True and result.json()["checked"] >= 300
    finally:
        svc.stop()
    assert not (tmp_path / "withApercent").exists()  # %41 was not decoded into another path


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/flags/some-flag", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/v1/flags", {"GET", "POST"}),
        ("POST", "/v1/audit", {"GET"}),
        ("GET", "/v1/flags/some-flag/restore", {"POST"}),
        ("HEAD", "/healthz", {"GET"}),  # HEAD is not served (FastAPI routes are GET only), so not listed
    ],
)
def test_405_names_every_allowed_method(service: RunningService, method: str, path: str, allowed: set[str]) -> None:
    with service.client() as c:
        r = c.request(method, path)
        if method == "HEAD":  # no body to a HEAD
            assert r.status_code == 405
        else:
            assert_problem(r, 405)
        assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


def test_lone_surrogates_are_a_422_not_a_500(service: RunningService) -> None:
    """JSON may escape half a UTF-16 pair; such a string can be neither stored nor sent as UTF-8."""
    with service.client() as c:
        r = c.post(
            "/v1/flags",
            content='{"key":"surrogate","name":"a\\ud800b","changeReason":"surrogate probe"}',
            headers={"Content-Type": "application/json"},
        )
        assert_problem(r, 422, "name")
        r = c.post(
            "/v1/evaluate",
            content='{"environment":"dev","requests":[{"flagKey":"x","context":{"\\udfff":1}}]}',
            headers={"Content-Type": "application/json"},
        )
        assert_problem(r, 422, "requests[0].context")
        ok = c.post("/v1/flags", json={"key": "surrogate-pair", "name": "rocket \U0001f680", "changeReason": "pair ok"})
        assert ok.status_code == 201 and ok.json()["name"] == "rocket \U0001f680"
