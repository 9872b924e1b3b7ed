"""Several `flagops serve` replicas on one real PostgreSQL: the same write contract as one SQLite service.

Three real service processes share a database created for each test in a throwaway cluster
(tests/postgres_harness.py). Clients talk HTTP to whichever replica they like; nothing here reads the
database behind the service's back except to count what it holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import RunningService, start_service, write_tokens
from postgres_harness import Postgres, start_postgres

from server.helpers import SSEReader, patch, version

pytestmark = pytest.mark.postgres
ENV = "dev"
REASON = "replica test: concurrent change"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    pg = start_postgres("flagops")
    yield pg
    pg.remove()


@pytest.fixture
def replicas(postgres: Postgres, tmp_path: Path) -> Iterator[list[RunningService]]:
    """Three replicas on a fresh database, started together (so they race to set it up and seed it)."""
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    tokens_file = tmp_path / "tokens.yaml"
    tokens = write_tokens(tokens_file)
    key = _shared_signing_key(tmp_path / "audit-signing.key")  # replicas sign each other's heads: one key
    with ThreadPoolExecutor(3) as pool:
        started = list(
            pool.map(
                lambda i: start_service(
                    tmp_path / f"r{i}",
                    demo=True,
                    db_path=url,
                    tokens_file=tokens_file,
                    tokens=tokens,
                    timeout=60,
                    extra_args=["--signing-key", str(key)],
                ),
                range(3),
            )
        )
    yield started
    for svc in started:
        svc.stop()


def _shared_signing_key(path: Path) -> Path:
    """The key the replicas share, made before any of them starts (so none of them races to create it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def _wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _verified(svc: RunningService) -> dict[str, object]:
    with svc.client() as c:
        r = c.get("/v1/audit/verify")
    assert r.status_code == 200, r.text
    body = dict(r.json())
    # the chain, the head's signature (by the key the replicas share) and every state row against the audit
    assert body["ok"] is True and body["signature"]["ok"] is True and body["states"]["ok"] is True, body
    return body


def test_replicas_share_one_seeded_database(replicas: list[RunningService]) -> None:
    bodies = []
    for svc in replicas:
        with svc.client() as c:
            r = c.get("/v1/flags", params={"environment": "prod"})
            assert r.status_code == 200
            bodies.append((r.headers["etag"], r.content))
    assert len({etag for etag, _ in bodies}) == 1 and len({body for _, body in bodies}) == 1
    assert len(json.loads(bodies[0][1])["flags"]) >= 250  # seeded once, not three times
    assert _verified(replicas[2])["ok"] is True


def test_concurrent_writers_on_one_flag_through_different_replicas_lose_nothing(replicas: list[RunningService]) -> None:
    with replicas[0].client() as c:
        key = c.get("/v1/flags", params={"environment": ENV}).json()["flags"][3]["key"]
        start_version = version(c, key, ENV)
    successes: list[int] = []
    conflicts: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        svc = replicas[n % 3]
        with svc.client() as c:
            for i in range(12):
                for _attempt in range(60):  # on 412, re-read and try again, as a client would
                    v = version(c, key, ENV)
                    r = patch(
                        c,
                        key,
                        ENV,
                        {"rollout": (n * 12 + i) % 100 + 0.5, "changeReason": REASON},
                        if_match=v,
                        idem=str(uuid.uuid4()),
                    )
                    if r.status_code == 200:
                        with lock:
                            successes.append(r.json()["environments"][ENV]["version"])
                        break
                    assert r.status_code == 412, r.text
                    with lock:
                        conflicts.append(v)
                else:
                    raise AssertionError("a writer never got through")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(writer, range(6)))
    assert len(successes) == 72
    # every acknowledged write made its own version: none was applied on top of a stale read
    assert sorted(successes) == list(range(start_version + 1, start_version + 73))
    assert conflicts, "the writers never raced (the test proves nothing)"
    for svc in replicas:  # each replica catches up and serves the final version
        with svc.client() as c:
            _wait_for(lambda: version(c, key, ENV) == start_version + 72)
            entries = c.get("/v1/audit", params={"flag": key, "environment": ENV, "limit": 1000}).json()["entries"]
            assert len([e for e in entries if e["action"] == "flag.updated"]) == 72
    verification = _verified(replicas[1])
    assert verification["ok"] is True, verification


def test_writers_on_different_flags_through_different_replicas_make_one_linear_chain(
    replicas: list[RunningService],
) -> None:
    with replicas[0].client() as c:
        keys = [f["key"] for f in c.get("/v1/flags", params={"environment": ENV}).json()["flags"][10:13]]
        head = c.get("/healthz").json()["auditSequence"]

    def writer(n: int) -> list[int]:
        statuses = []
        with replicas[n].client() as c:  # one writer per flag: its If-Match is never stale
            v = version(c, keys[n], ENV)
            for i in range(20):
                r = patch(c, keys[n], ENV, {"rollout": i, "changeReason": REASON}, if_match=v, idem=str(uuid.uuid4()))
                statuses.append(r.status_code)
                if r.status_code == 200:
                    v = r.json()["environments"][ENV]["version"]
        return statuses

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(writer, range(3)))
    assert all(status == 200 for statuses in results for status in statuses), results
    with replicas[2].client() as c:
        _wait_for(lambda: c.get("/healthz").json()["auditSequence"] == head + 60)
        sequences = [
            e["sequence"] for e in c.get("/v1/audit", params={"since": str(head), "limit": 100}).json()["entries"]
        ]
    assert sorted(sequences) == list(range(head + 1, head + 61))
    assert _verified(replicas[0])["ok"] is True


def test_idempotent_retry_through_another_replica_replays(replicas: list[RunningService]) -> None:
    a, b, c = replicas
    with a.client() as ca, b.client() as cb, c.client() as cc:
        key = ca.get("/v1/flags", params={"environment": ENV}).json()["flags"][5]["key"]
        v = version(ca, key, ENV)
        idem = str(uuid.uuid4())
        body = {"rollout": 17, "changeReason": "replica test: idempotent retry"}
        first = patch(ca, key, ENV, body, if_match=v, idem=idem)
        assert first.status_code == 200, first.text
        # the client timed out and retries the same request through another replica, before or after it
        # heard of the first one: either way it is not applied twice
        retry = patch(cb, key, ENV, body, if_match=v, idem=idem)
        assert retry.status_code == 200 and retry.headers.get("idempotent-replayed") == "true", retry.text
        assert retry.json() == first.json()
        reused = patch(cc, key, ENV, {**body, "rollout": 18}, if_match=v, idem=idem)
        assert reused.status_code == 422, reused.text
        _wait_for(lambda: version(cc, key, ENV) == v + 1)
        entries = cc.get("/v1/audit", params={"flag": key, "environment": ENV}).json()["entries"]
        assert [e["idempotencyKey"] for e in entries].count(idem) == 1


def test_a_write_on_one_replica_reaches_the_streams_and_lists_of_the_others(replicas: list[RunningService]) -> None:
    a, b, c = replicas
    with a.client() as ca, b.client() as cb:
        key = ca.get("/v1/flags", params={"environment": ENV}).json()["flags"][7]["key"]
        old_etag = cb.get("/v1/flags", params={"environment": ENV}).headers["etag"]
        with (
            httpx.Client(base_url=b.url, headers=b.headers(), timeout=10) as sb,
            httpx.Client(base_url=c.url, headers=c.headers(), timeout=10) as sc,
            sb.stream("GET", "/v1/stream", params={"environment": ENV}) as rb,
            sc.stream("GET", "/v1/stream", params={"environment": ENV}) as rc,
        ):
            readers = [SSEReader(rb), SSEReader(rc)]
            for reader in readers:
                assert "retry" in reader.next_event()
            sequences = []
            for rollout in (11, 22, 33):
                r = patch(
                    ca,
                    key,
                    ENV,
                    {"rollout": rollout, "changeReason": "replica test: fan-out"},
                    if_match=version(ca, key, ENV),
                    idem=str(uuid.uuid4()),
                )
                assert r.status_code == 200, r.text
            for reader in readers:
                got = [reader.next_change() for _ in range(3)]
                data = [json.loads(e["data"]) for e in got]
                assert [d["flag"] for d in data] == [key] * 3
                assert [d["flagState"]["environments"][ENV]["rollout"] for d in data] == [11, 22, 33]
                sequences.append([int(e["id"]) for e in got])
            assert sequences[0] == sequences[1] and sequences[0] == sorted(sequences[0])
        # resume on a third replica from the first of those ids: the two after it, in order
        with (
            httpx.Client(base_url=c.url, headers=c.headers(), timeout=10) as sc,
            sc.stream(
                "GET", "/v1/stream", params={"environment": ENV}, headers={"Last-Event-ID": str(sequences[0][0])}
            ) as rc,
        ):
            reader = SSEReader(rc)
            assert [int(reader.next_change()["id"]) for _ in range(2)] == sequences[0][1:]
        # B's cached list moved on too: same ETag and content as A's
        _wait_for(
            lambda: (
                cb.get("/v1/flags", params={"environment": ENV}, headers={"If-None-Match": old_etag}).status_code == 200
            )
        )
        la, lb = (x.get("/v1/flags", params={"environment": ENV}) for x in (ca, cb))
        assert la.headers["etag"] == lb.headers["etag"] and la.content == lb.content


def test_sigkill_of_a_replica_mid_write_loses_nothing_acknowledged(replicas: list[RunningService]) -> None:
    a, b, _ = replicas
    with b.client() as cb:
        keys = [f["key"] for f in cb.get("/v1/flags", params={"environment": ENV}).json()["flags"][20:26]]
    acknowledged: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(key: str) -> None:
        with a.client() as ca:
            v = version(ca, key, ENV)
            for i in range(400):
                if stop.is_set():
                    return
                try:
                    r = patch(
                        ca,
                        key,
                        ENV,
                        {"rollout": i % 100, "changeReason": "replica test: killed mid-write"},
                        if_match=v,
                        idem=str(uuid.uuid4()),
                    )
                except httpx.HTTPError:
                    return  # the replica died under us: this write was never acknowledged
                if r.status_code != 200:
                    return
                v = r.json()["environments"][ENV]["version"]
                with lock:
                    acknowledged.append((key, v))

    threads = [threading.Thread(target=writer, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    _wait_for(lambda: len(acknowledged) >= 30, timeout=60)
    a.kill()  # SIGKILL while the writers are mid-request
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged) >= 30
    newest = {}
    for key, v in acknowledged:
        newest[key] = max(v, newest.get(key, 0))
    with b.client() as cb:
        for key, v in newest.items():
            _wait_for(lambda key=key, v=v: version(cb, key, ENV) >= v)
            versions = {
                e["after"]["version"]
                for e in cb.get("/v1/audit", params={"flag": key, "environment": ENV, "limit": 1000}).json()["entries"]
                if e["action"] == "flag.updated"
            }
            assert {ver for k, ver in acknowledged if k == key} <= versions
        verification = _verified(b)
        assert verification["ok"] is True, verification
        # and the survivors still take writes on the same chain
        key = keys[0]
        r = patch(
            cb,
            key,
            ENV,
            {"rollout": 3, "changeReason": "replica test: after the kill"},
            if_match=version(cb, key, ENV),
            idem=str(uuid.uuid4()),
        )
        assert r.status_code == 200, r.text
    assert _verified(replicas[2])["ok"] is True


def test_an_unreachable_database_is_one_clear_line_without_the_password(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    write_tokens(tokens_file)
    url = "postgresql://flagops:s3cret-pw@127.0.0.1:9/flags"  # port 9: nothing listens
    proc = subprocess.run(
        [sys.executable, "-m", "flagops.server", "--port", "0", "--tokens", str(tokens_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FLAGOPS_DB": url},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot open database postgresql://flagops@127.0.0.1:9/flags" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "s3cret-pw" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
