"""The audit log's anchor outside the database: the signed head, the state check, and the signed export.

Someone who can write the database can edit a row and recompute every hash after it (the chain alone then
verifies), or edit the `states` table directly. Both must fail verification, on the service and on an
exported bundle checked offline, and a tampered head must stay reported across restarts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningService, start_service
from core.clitools import cli_env, flagops
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flagops.audit_chain import entry_hash, verify_bundle
from server.helpers import flag_keys, patch, version


def key_path(svc: RunningService) -> Path:
    return svc.db_path.with_name(svc.db_path.name + ".signing.key")


def key_id_of(path: Path) -> str:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def rewrite_rows(rows: list[list[Any]], index: int, column: int, value: Any) -> None:
    """Change one row and recompute every hash from it on: the chain verifies again, as an attacker wants."""
    rows[index][column] = value
    prev = rows[index - 1][13] if index else "0" * 64
    for row in rows[index:]:
        row[12] = prev
        row[13] = entry_hash(tuple(row[:13]))
        prev = row[13]


def rewrite_database(db_path: Path, sequence: int, reason: str) -> None:
    db = sqlite3.connect(db_path)
    rows = [list(r) for r in db.execute("SELECT * FROM audit ORDER BY sequence")]
    rewrite_rows(rows, sequence - 1, 6, reason)
    for row in rows[sequence - 1 :]:
        db.execute(
            "UPDATE audit SET reason=?, prev_hash=?, hash=? WHERE sequence=?", (row[6], row[12], row[13], row[0])
        )
    db.execute("UPDATE meta SET value=? WHERE key='head'", (f"{rows[-1][0]}:{rows[-1][13]}",))
    db.commit()
    db.close()


def verify(svc: RunningService) -> dict[str, Any]:
    with svc.client() as c:
        r = c.get("/v1/audit/verify")
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


def restart(svc: RunningService, workdir: Path, *extra: str) -> RunningService:
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
        extra_args=["--signing-key", str(key_path(svc)), *extra],
    )


def _changes(svc: RunningService, n: int = 3, env: str = "dev") -> list[str]:
    with svc.client() as c:
        keys = flag_keys(c, env)[:n]
        for k in keys:
            r = patch(c, k, env, {"rollout": 33, "changeReason": "before tampering"}, if_match=version(c, k, env))
            assert r.status_code == 200, r.text
    return keys


def test_key_is_created_private_and_named_at_start(fresh_service: RunningService) -> None:
    path = key_path(fresh_service)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"audit signing key: {key_id_of(path)}" in "".join(fresh_service.output)
    result = verify(fresh_service)
    assert result["ok"] is True and result["signature"]["ok"] is True
    assert result["signature"]["keyId"] == key_id_of(path) and result["states"]["checked"] >= 900


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "loose.key"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key, 0o644)
    with pytest.raises(RuntimeError, match="accessible by others"):
        start_service(tmp_path / "svc", demo=True, extra_args=["--signing-key", str(key)], timeout=15)


def test_rewritten_chain_fails_verify_and_stays_failed_until_resealed(
    fresh_service: RunningService, tmp_path: Path
) -> None:
    svc = fresh_service
    _changes(svc)
    assert verify(svc)["ok"] is True
    with svc.client() as c:
        head = c.get("/v1/audit", params={"limit": 1}).json()["entries"][0]["sequence"]
    rewrite_database(svc.db_path, head - 1, "nothing to see here")
    result = verify(svc)
    assert result["ok"] is False and result["signature"]["ok"] is False
    assert "not signed by this service's key" in result["problem"]

    again = restart(svc, tmp_path / "b")  # the service must not sign on top of a head it cannot verify
    try:
        assert "WARNING: the audit head" in "".join(again.output)
        _changes(again, 1, "staging")
        result = verify(again)
        assert result["ok"] is False and "not signed" in result["problem"]
    finally:
        again.stop()
    resealed = restart(again, tmp_path / "c", "--reseal-audit")  # an operator looked, and accepts it
    try:
        assert verify(resealed)["ok"] is True
        _changes(resealed, 1, "prod")
        assert verify(resealed)["ok"] is True
    finally:
        resealed.stop()


def test_edited_states_table_fails_verify(fresh_service: RunningService) -> None:
    svc = fresh_service
    key = _changes(svc, 1)[0]
    db = sqlite3.connect(svc.db_path)
    data = json.loads(db.execute("SELECT data FROM states WHERE flag=? AND environment='dev'", (key,)).fetchone()[0])
    data["rollout"] = 100.0
    db.execute("UPDATE states SET data=? WHERE flag=? AND environment='dev'", (json.dumps(data), key))
    db.commit()
    db.close()
    result = verify(svc)
    assert result["ok"] is False and result["signature"]["ok"] is True and result["states"]["ok"] is False
    assert key in result["problem"] and "states table" in result["problem"]


def test_export_bundle_verifies_offline_and_catches_tampering(fresh_service: RunningService) -> None:
    svc = fresh_service
    _changes(svc)
    with svc.client() as c:
        bundle = c.get("/v1/audit/export").json()
    trusted = key_id_of(key_path(svc))
    ok = verify_bundle(bundle, trusted)
    assert ok.ok and ok.entries == len(bundle["entries"]) >= 303 and ok.key_id == trusted
    assert not verify_bundle(bundle, "ed25519:0000000000000000").ok  # pinned to another key

    rewritten = json.loads(json.dumps(bundle))
    rewrite_rows(rewritten["entries"], 5, 6, "rewritten reason")
    rewritten["head"]["hash"] = rewritten["entries"][-1][13]
    result = verify_bundle(rewritten, trusted)
    assert not result.ok and "not signed" in (result.problem or "")

    forged = json.loads(json.dumps(rewritten))  # re-signed with the forger's own key: pinning catches it
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    last = forged["entries"][-1]
    message = f"flagops-audit-head/1\n{forged['instance']}\n{last[0]}\n{last[13]}".encode()
    forged["signature"].update(
        publicKey=base64.b64encode(raw).decode(), value=base64.b64encode(forger.sign(message)).decode()
    )
    assert verify_bundle(forged).ok  # self-consistent...
    assert not verify_bundle(forged, trusted).ok  # ...but not signed by the service's key

    states = json.loads(json.dumps(bundle))
    data = json.loads(states["states"][0][3])
    data["enabled"] = not data["enabled"]  # turned on (or off) behind the audit log's back
    states["states"][0][3] = json.dumps(data, separators=(",", ":"))
    result = verify_bundle(states, trusted)
    assert not result.ok and "differs from its last audit entry" in (result.problem or "")


def test_cli_exports_and_verifies_a_bundle(fresh_service: RunningService, tmp_path: Path) -> None:
    svc = fresh_service
    env = cli_env(tmp_path, url=svc.url, token=svc.admin_token)
    out = tmp_path / "bundle.json"
    exported = flagops(["audit-bundle", "export", "-o", str(out)], env)
    assert exported.code == 0, exported.both
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    trusted = key_id_of(key_path(svc))
    checked = flagops(["audit-bundle", "verify", str(out), "--key", trusted], env)
    assert checked.code == 0 and "Audit bundle verified" in checked.out, checked.both
    unpinned = flagops(["audit-bundle", "verify", str(out)], env)
    assert unpinned.code == 0 and "Not pinned" in unpinned.out
    bundle = json.loads(out.read_text())
    rewrite_rows(bundle["entries"], 10, 6, "rewritten")
    bundle["head"]["hash"] = bundle["entries"][-1][13]
    out.write_text(json.dumps(bundle))
    failed = flagops(["audit-bundle", "verify", str(out), "--key", trusted, "--json"], env)
    assert failed.code == 11 and json.loads(failed.out)["ok"] is False, failed.both
    service_side = flagops(["audit", "--verify"], env)
    assert service_side.code == 0, service_side.both  # the service's own database was not touched
