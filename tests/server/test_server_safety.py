"""The safety properties: exactly-once under concurrent retries, no lost updates, a tamper-evident audit
log, and durability of acknowledged writes across SIGKILL."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import httpx
from conftest import RunningService, start_service

from server.helpers import flag_keys, patch, version


def _run_concurrently(n: int, fn: object) -> list[httpx.Response]:
    results: list[httpx.Response] = []
    barrier = threading.Barrier(n)

    def worker() -> None:
        barrier.wait()
        results.append(fn())  # type: ignore[operator]

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_retries_with_one_idempotency_key_apply_once(service: RunningService) -> None:
    key = flag_keys(service.client(), "dev")[50]
    with service.client() as c:
        v = version(c, key, "dev")
        before = len(c.get("/v1/audit", params={"flag": key}).json()["entries"])
    idem = str(uuid.uuid4())
    body = {"rollout": 61, "changeReason": "retried by a flaky network"}

    def send() -> httpx.Response:
        with service.client() as c:
            return patch(c, key, "dev", body, if_match=v, idem=idem)

    results = _run_concurrently(8, send)
    assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
    assert len({r.content for r in results}) == 1  # every retry got the first response
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in results) == 7
    with service.client() as c:
        assert version(c, key, "dev") == v + 1
        assert len(c.get("/v1/audit", params={"flag": key}).json()["entries"]) == before + 1


def test_two_concurrent_editors_one_wins_one_gets_412(service: RunningService) -> None:
    key = flag_keys(service.client(), "dev")[60]
    with service.client() as c:
        v = version(c, key, "dev")

    def editor(rollout: int) -> httpx.Response:
        with service.client() as c:
            return patch(
                c,
                key,
                "dev",
                {"rollout": rollout, "changeReason": f"editor sets {rollout}"},
                if_match=v,
                idem=str(uuid.uuid4()),
            )

    barrier_results = _run_concurrently(2, lambda: editor(10 + threading.get_ident() % 50))
    codes = sorted(r.status_code for r in barrier_results)
    assert codes == [200, 412], [r.text for r in barrier_results]
    winner = next(r for r in barrier_results if r.status_code == 200).json()["environments"]["dev"]
    loser = next(r for r in barrier_results if r.status_code == 412).json()
    assert loser["currentVersion"] == v + 1 and loser["current"]["rollout"] == winner["rollout"]
    with service.client() as c:
        state = c.get(f"/v1/flags/{key}", params={"environment": "dev"}).json()["environments"]["dev"]
        assert (state["version"], state["rollout"]) == (v + 1, winner["rollout"])  # nothing lost, nothing doubled


def _tamper(db: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def test_audit_chain_detects_changed_and_deleted_rows(fresh_service: RunningService) -> None:
    svc = fresh_service
    with svc.client() as c:
        keys = flag_keys(c, "dev")[:3]
        for k in keys:
            assert (
                patch(
                    c, k, "dev", {"enabled": False, "changeReason": "before tampering"}, if_match=version(c, k, "dev")
                ).status_code
                == 200
            )
        assert c.get("/v1/audit/verify").json()["ok"] is True
        head = c.get("/v1/audit", params={"limit": 1}).json()["entries"][0]["sequence"]

        _tamper(svc.db_path, "UPDATE audit SET reason='nothing to see' WHERE sequence=?", head - 1)
        result = c.get("/v1/audit/verify").json()
        assert result["ok"] is False and result["brokenAt"] == head - 1 and "changed" in result["problem"]

        _tamper(svc.db_path, "DELETE FROM audit WHERE sequence=?", head - 1)
        result = c.get("/v1/audit/verify").json()
        assert result["ok"] is False and result["brokenAt"] == head - 1 and "deleted" in result["problem"]


def test_audit_chain_detects_deleted_newest_row(fresh_service: RunningService) -> None:
    svc = fresh_service
    with svc.client() as c:
        head = c.get("/v1/audit", params={"limit": 1}).json()["entries"][0]["sequence"]
        _tamper(svc.db_path, "DELETE FROM audit WHERE sequence=?", head)
        result = c.get("/v1/audit/verify").json()
        assert result["ok"] is False and result["brokenAt"] == head and "deleted" in result["problem"]


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "a", demo=True)
    acknowledged: dict[str, int] = {}
    try:
        with svc.client() as c:
            keys = flag_keys(c, "prod")[:25]
            for i, k in enumerate(keys):
                r = patch(
                    c, k, "prod", {"rollout": i + 1, "changeReason": "durability check"}, if_match=version(c, k, "prod")
                )
                assert r.status_code == 200
                acknowledged[k] = r.json()["environments"]["prod"]["version"]
    finally:
        svc.kill()  # SIGKILL right after the last acknowledgement: no shutdown hook runs
    again = start_service(
        tmp_path / "b",
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
    try:
        with again.client() as c:
            for i, (k, v) in enumerate(acknowledged.items()):
                state = c.get(f"/v1/flags/{k}", params={"environment": "prod"}).json()["environments"]["prod"]
                assert (state["version"], state["rollout"]) == (v, i + 1)
            assert c.get("/v1/audit/verify").json()["ok"] is True
    finally:
        again.stop()


def test_list_stays_consistent_with_concurrent_writes(service: RunningService) -> None:
    """Lists served while writers commit never keep a stale flag (the list cache is per flag object)."""
    keys = flag_keys(service.client(), "staging")[100:108]
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:  # its own token: the per-token rate limit must not slow the writers
        with service.client(service.read_token) as c:
            while not stop.is_set():
                c.get("/v1/flags", params={"environment": "staging"})

    def writer(key: str) -> None:
        with service.client() as c:
            v = version(c, key, "staging")
            for i in range(15):
                r = patch(c, key, "staging", {"rollout": i, "changeReason": "list consistency"}, if_match=v)
                if r.status_code != 200:
                    failures.append(r.text)
                    return
                v = r.json()["environments"]["staging"]["version"]

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(k,)) for k in keys]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not failures, failures[:3]
    with service.client() as c:
        listed = {
            f["key"]: f["environments"]["staging"]
            for f in c.get("/v1/flags", params={"environment": "staging"}).json()["flags"]
        }
        for k in keys:
            one = c.get(f"/v1/flags/{k}", params={"environment": "staging"}).json()["environments"]["staging"]
            assert listed[k] == one and one["rollout"] == 14
