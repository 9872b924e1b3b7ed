"""Shared setup of the governance tests: a demo service with two operators (alice, bob) who may approve."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import yaml
from conftest import RunningService, _token_entry, start_service

WRITE_APPROVE = ["flags:read", "flags:write", "flags:approve", "audit:read"]


def start_governed(
    workdir: Path,
    extra_args: list[str] | None = None,
    *,
    db_path: str | None = None,
    tokens: dict[str, str] | None = None,
) -> tuple[RunningService, str]:
    """A demo service (its default policy: prod high/critical need 1 approval); returns it and bob's token.
    alice is the service's admin token (every scope). Pass `tokens` (and a shared `db_path`) for replicas."""
    workdir.mkdir(parents=True, exist_ok=True)
    tokens = tokens or {name: secrets.token_urlsafe(24) for name in ("admin", "read", "writer_dev", "metrics", "bob")}
    entries = [
        _token_entry("alice", tokens["admin"], [*WRITE_APPROVE, "metrics:write"], "*"),
        _token_entry("rita-reader", tokens["read"], ["flags:read", "audit:read"], "*"),
        _token_entry("dev-deployer", tokens["writer_dev"], ["flags:read", "flags:write"], ["dev"]),
        _token_entry("traffic-sim", tokens["metrics"], ["metrics:write"], "*"),
        _token_entry("bob", tokens["bob"], WRITE_APPROVE, "*"),
    ]
    tokens_file = workdir / "tokens.yaml"
    tokens_file.write_text(yaml.safe_dump(entries))
    svc = start_service(
        workdir,
        demo=True,
        tokens_file=tokens_file,
        tokens=tokens,
        extra_args=extra_args,
        db_path=db_path,
        timeout=60,
        demo_policy=True,
    )
    return svc, tokens["bob"]


def create_flag(c: httpx.Client, key: str, *, risk: str = "high", kill_switch: bool = False) -> None:
    body = {
        "key": key,
        "name": key,
        "riskLevel": risk,
        "killSwitch": kill_switch,
        "environments": {"prod": {"enabled": True, "rollout": 10}},
        "changeReason": "a flag for the governance tests",
    }
    r = c.post("/v1/flags", json=body)
    assert r.status_code == 201, r.text


def prod_version(c: httpx.Client, key: str) -> int:
    r = c.get(f"/v1/flags/{key}", params={"environment": "prod"})
    assert r.status_code == 200, r.text
    return int(r.json()["environments"]["prod"]["version"])


def open_request(c: httpx.Client, key: str, change: dict[str, Any], version: int, **extra: Any) -> httpx.Response:
    body = {"flag": key, "change": change, "changeReason": "ramp after the load test", **extra}
    return c.post(
        "/v1/change-requests", params={"environment": "prod"}, json=body, headers={"If-Match": f'"{version}"'}
    )


def audit_ok(c: httpx.Client) -> dict[str, Any]:
    r = c.get("/v1/audit/verify")
    assert r.status_code == 200, r.text
    return r.json()
