"""The cached flag list (built from pre-encoded chunks of flags) always says what the single-flag reads say.

The demo's ~300 flags span two chunks; creates land in the middle of the key order, archives remove from it,
and a change in one environment must not leak into, or go stale in, another's list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import RunningService, start_service

from server.helpers import patch, version

ENVS = ("dev", "staging", "prod")


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[RunningService]:
    service = start_service(tmp_path / "service", demo=True)
    yield service
    service.stop()


def _assert_list_matches_flags(c: httpx.Client) -> None:
    for env in ENVS:
        r = c.get("/v1/flags", params={"environment": env})
        assert r.status_code == 200
        listed = r.json()["flags"]
        keys = [f["key"] for f in listed]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        for flag in listed[:: max(1, len(listed) // 40)] + listed[-3:]:
            one = c.get(f"/v1/flags/{flag['key']}", params={"environment": env}).json()
            assert flag == one, (env, flag["key"])


def test_the_list_follows_patches_creates_and_archives(svc: RunningService) -> None:
    with svc.client() as c:
        _assert_list_matches_flags(c)  # the first list after start, built from the stored texts
        keys = [f["key"] for f in c.get("/v1/flags", params={"environment": "dev"}).json()["flags"]]
        first, last, middle = keys[0], keys[-1], keys[len(keys) // 2]
        for key, env in ((first, "dev"), (last, "prod"), (middle, "staging")):
            r = patch(
                c,
                key,
                env,
                {"rollout": 42.5, "changeReason": "list cache test: change"},
                if_match=version(c, key, env),
                idem=str(uuid.uuid4()),
            )
            assert r.status_code == 200, r.text
        _assert_list_matches_flags(c)
        new_key = middle[:-1] + "0-new"  # sorts next to `middle`, in the middle of a chunk
        r = c.post(
            "/v1/flags",
            json={
                "key": new_key,
                "name": "List cache test",
                "changeReason": "list cache test",
                "environments": {"prod": {"enabled": True, "rollout": 7}},
            },
        )
        assert r.status_code == 201, r.text
        r = c.request("DELETE", f"/v1/flags/{first}", json={"changeReason": "list cache test: archive"})
        assert r.status_code == 200, r.text
        r = patch(
            c,
            new_key,
            "prod",
            {"rollout": 8, "changeReason": "list cache test: change the new flag"},
            if_match=version(c, new_key, "prod"),
            idem=str(uuid.uuid4()),
        )
        assert r.status_code == 200, r.text
        _assert_list_matches_flags(c)
        dev_keys = [f["key"] for f in c.get("/v1/flags", params={"environment": "dev"}).json()["flags"]]
        assert new_key in dev_keys and first not in dev_keys and len(dev_keys) == len(keys)
    svc.stop()
    again = start_service(
        svc.db_path.parent / "again",
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
        with again.client() as c:  # after a restart: the same list, from the texts the writes stored
            _assert_list_matches_flags(c)
            prod = {f["key"]: f for f in c.get("/v1/flags", params={"environment": "prod"}).json()["flags"]}
            assert prod[new_key]["environments"]["prod"]["rollout"] == 8
    finally:
        again.stop()
