"""Small helpers for talking to the real service in tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def version(client: httpx.Client, key: str, env: str) -> int:
    r = client.get(f"/v1/flags/{key}", params={"environment": env})
    assert r.status_code == 200, r.text
    return int(r.json()["environments"][env]["version"])


def patch(
    client: httpx.Client,
    key: str,
    env: str,
    body: dict[str, Any],
    *,
    if_match: int | str | None = None,
    idem: str | None = None,
) -> httpx.Response:
    headers = {}
    if if_match is not None:
        headers["If-Match"] = f'"{if_match}"'
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return client.patch(f"/v1/flags/{key}", params={"environment": env}, json=body, headers=headers)


def set_rollout(client: httpx.Client, key: str, env: str, rollout: float) -> httpx.Response:
    return patch(
        client,
        key,
        env,
        {"rollout": rollout, "changeReason": "test: set rollout"},
        if_match=version(client, key, env),
        idem=str(uuid.uuid4()),
    )


def flag_keys(client: httpx.Client, env: str = "prod") -> list[str]:
    r = client.get("/v1/flags", params={"environment": env})
    assert r.status_code == 200
    return [f["key"] for f in r.json()["flags"]]


def assert_problem(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if field is not None:
        assert body.get("field") == field, body
    return body


class SSEReader:
    """A minimal Server-Sent Events reader over an httpx streaming response (comments are kept as events
    of type ":" so heartbeats can be observed)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next_event(self) -> dict[str, str]:
        event: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                return {"event": ":", "data": line[1:].strip()}
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            event[name] = event[name] + "\n" + value if name == "data" and name in event else value
        raise EOFError("stream ended")

    def next_change(self) -> dict[str, str]:
        while True:
            event = self.next_event()
            if "id" in event:
                return event
