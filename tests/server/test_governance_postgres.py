"""Governance on the PostgreSQL engine, across two replicas of one database: a request written on one replica is
approved and applied on the other, a break-glass review acknowledged across them, a segment created on one
decides evaluations on the other; the audit verifies."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningService
from postgres_harness import Postgres, start_postgres

from server.governance_helpers import audit_ok, create_flag, open_request, prod_version, start_governed

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    pg = start_postgres("flagops")
    yield pg
    pg.remove()


@pytest.fixture
def two_replicas(postgres: Postgres, tmp_path: Path) -> Iterator[tuple[RunningService, RunningService, str]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    url = postgres.create_database(f"g_{uuid.uuid4().hex[:12]}")
    key = tmp_path / "audit-signing.key"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, pem)
    os.close(fd)
    tokens = {name: secrets.token_urlsafe(24) for name in ("admin", "read", "writer_dev", "metrics", "bob")}
    args = ["--signing-key", str(key)]
    a, bob = start_governed(tmp_path / "a", args, db_path=url, tokens=tokens)
    b, _ = start_governed(tmp_path / "b", args, db_path=url, tokens=tokens)
    yield a, b, bob
    a.stop()
    b.stop()


def test_governance_across_replicas(two_replicas: tuple[RunningService, RunningService, str]) -> None:
    a, b, bob = two_replicas
    with a.client() as alice, b.client(bob) as bob_on_b, b.client() as alice_on_b:
        create_flag(alice, "pg-flow", kill_switch=True)
        deadline = time.monotonic() + 10
        while alice_on_b.get("/v1/flags/pg-flow").status_code != 200:  # replica b catches up
            assert time.monotonic() < deadline
            time.sleep(0.05)
        version = prod_version(alice, "pg-flow")
        cr = open_request(alice, "pg-flow", {"rollout": 55}, version).json()
        r = bob_on_b.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": "approved on replica b"})
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        r = alice.post(f"/v1/change-requests/{cr['id']}/apply", headers={"If-Match": f'"{version}"'})
        assert r.status_code == 200, r.text
        assert r.json()["flag"]["environments"]["prod"]["rollout"] == 55
        # break-glass on a, acknowledged on b
        r = alice.patch(
            "/v1/flags/pg-flow",
            params={"environment": "prod"},
            json={"enabled": False, "changeReason": "kill it on replica a"},
            headers={"If-Match": f'"{version + 1}"'},
        )
        assert r.status_code == 200, r.text
        review = r.headers["Flagops-Review"]
        r = bob_on_b.post(f"/v1/reviews/{review}/acknowledge", json={"comment": "seen on replica b"})
        assert r.status_code == 200, r.text
        # a segment made on a decides on b
        body = {
            "key": "pg_vip",
            "name": "VIPs",
            "conditions": [{"attribute": "tier", "op": "eq", "values": ["vip"]}],
            "changeReason": "segment across replicas",
        }
        assert alice.post("/v1/segments", json=body).status_code == 201
        deadline = time.monotonic() + 10
        while alice_on_b.get("/v1/segments/pg_vip").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        r = alice_on_b.get("/v1/audit", params={"entity": "flag:pg-flow"})
        assert r.status_code == 200, r.text
        entries = r.json()["entries"]
        assert {"change-request.created", "change-request.approved", "change-request.applied", "review.opened"} <= {
            e["action"] for e in entries
        }
        assert audit_ok(alice)["ok"] is True
