"""Break-glass against the real service: a kill-switch kill is never held, opens a review that someone else
acknowledges; hostile text in comments is stored verbatim; SSE carries every step; the audit still verifies."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from conftest import RunningService

from server.governance_helpers import audit_ok, create_flag, open_request, prod_version, start_governed
from server.helpers import SSEReader

HOSTILE = "[bold red]approved[/] \x1b[2J\x1b[31mgotcha\x1b[0m <script>alert(1)</script> ]8;;http://x\\link"


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    svc, bob = start_governed(tmp_path_factory.mktemp("breakglass"))
    yield svc, bob
    svc.stop()


def _kill(c: httpx.Client, key: str, version: int, reason: str = "errors spiking, killing it") -> httpx.Response:
    return c.patch(
        f"/v1/flags/{key}",
        params={"environment": "prod"},
        json={"enabled": False, "changeReason": reason},
        headers={"If-Match": f'"{version}"'},
    )


def test_break_glass_kill_is_applied_and_opens_a_review(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        create_flag(alice, "bg-kill", kill_switch=True)
        version = prod_version(alice, "bg-kill")
        r = _kill(alice, "bg-kill", version)
        assert r.status_code == 200, r.text
        assert r.json()["environments"]["prod"]["enabled"] is False
        review_id = r.headers["Flagops-Review"]
        reviews = alice.get("/v1/reviews", params={"environment": "prod", "open": "true"}).json()["reviews"]
        review = next(x for x in reviews if x["id"] == review_id)
        assert review["flag"] == "bg-kill" and review["actor"] == "alice" and review["acknowledgedBy"] is None
        kill_row = alice.get("/v1/audit", params={"entity": "flag:bg-kill", "limit": 5}).json()["entries"]
        assert [e["action"] for e in kill_row[:2]] == ["review.opened", "flag.updated"]
        assert review["sequence"] == kill_row[1]["sequence"]
        # the one who pulled it may not acknowledge it
        r = alice.post(f"/v1/reviews/{review_id}/acknowledge", json={"comment": "it was me, all fine"})
        assert r.status_code == 403 and r.json()["type"].endswith("/self-review")
        # someone else does, with a hostile comment that comes back exactly as sent
        r = bobc.post(f"/v1/reviews/{review_id}/acknowledge", json={"comment": HOSTILE})
        assert r.status_code == 200, r.text
        assert r.json()["acknowledgedBy"] == "bob" and r.json()["comment"] == HOSTILE
        assert bobc.post(f"/v1/reviews/{review_id}/acknowledge", json={"comment": "second time"}).status_code == 409
        closed = alice.get("/v1/reviews", params={"open": "false"}).json()["reviews"]
        assert next(x for x in closed if x["id"] == review_id)["comment"] == HOSTILE
        entries = alice.get("/v1/audit", params={"entity": f"review:{review_id}"}).json()["entries"]
        assert [e["action"] for e in entries] == ["review.acknowledged", "review.opened"]
        assert entries[0]["reason"] == HOSTILE
        assert audit_ok(alice)["ok"] is True


def test_only_kills_of_kill_switches_break_the_glass(governed: tuple[RunningService, str]) -> None:
    svc, _ = governed
    with svc.client() as alice:
        create_flag(alice, "bg-plain")  # high risk, no kill switch: its kill follows the policy
        r = _kill(alice, "bg-plain", prod_version(alice, "bg-plain"))
        assert r.status_code == 409 and r.json()["type"].endswith("/approval-required")
        create_flag(alice, "bg-switch", kill_switch=True)  # a kill switch, but more than a kill: the policy
        r = alice.patch(
            "/v1/flags/bg-switch",
            params={"environment": "prod"},
            json={"enabled": False, "rollout": 0, "changeReason": "kill and zero"},
            headers={"If-Match": f'"{prod_version(alice, "bg-switch")}"'},
        )
        assert r.status_code == 409
        create_flag(alice, "bg-low", risk="low")  # not governed at all: no review
        r = _kill(alice, "bg-low", prod_version(alice, "bg-low"))
        assert r.status_code == 200 and "Flagops-Review" not in r.headers


def test_hostile_text_in_change_requests_is_stored_verbatim(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        create_flag(alice, "bg-hostile")
        version = prod_version(alice, "bg-hostile")
        cr = open_request(alice, "bg-hostile", {"rollout": 20}, version, changeReason=HOSTILE).json()
        assert cr["changeReason"] == HOSTILE
        r = bobc.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": HOSTILE + " ok"})
        assert r.json()["verdicts"][0]["comment"] == HOSTILE + " ok"
        shown = alice.get(f"/v1/change-requests/{cr['id']}").json()
        assert shown["changeReason"] == HOSTILE and shown["verdicts"][0]["comment"] == HOSTILE + " ok"
        audit = alice.get("/v1/audit", params={"entity": f"change-request:{cr['id']}"}).json()["entries"]
        assert audit[-1]["reason"] == HOSTILE


def test_sse_carries_change_requests_and_reviews(governed: tuple[RunningService, str]) -> None:
    svc, bob = governed
    with svc.client() as alice, svc.client(bob) as bobc:
        head = alice.get("/healthz").json()["auditSequence"]
        create_flag(alice, "bg-sse", kill_switch=True)
        version = prod_version(alice, "bg-sse")
        cr = open_request(alice, "bg-sse", {"rollout": 30}, version).json()
        bobc.post(f"/v1/change-requests/{cr['id']}/approve", json={"comment": "approve via sse"})
        review_id = _kill(alice, "bg-sse", version).headers["Flagops-Review"]
    client = httpx.Client(base_url=svc.url, headers=svc.headers(), timeout=httpx.Timeout(10, read=10))
    with client, client.stream("GET", "/v1/stream", headers={"Last-Event-ID": str(head)}) as response:
        reader = SSEReader(response)
        seen: list[tuple[str, dict[str, object]]] = []
        while not any(kind == "review.updated" for kind, _ in seen):
            event = reader.next_change()
            seen.append((event["event"], json.loads(event["data"])))
    kinds = [kind for kind, _ in seen]
    assert kinds == [
        "flag.created",
        "change-request.updated",
        "change-request.updated",
        "flag.updated",
        "review.updated",
    ]
    created, approved = seen[1][1], seen[2][1]
    assert created["changeRequest"]["id"] == cr["id"] and created["action"] == "change-request.created"  # type: ignore[index]
    assert approved["changeRequest"]["status"] == "approved"  # type: ignore[index]
    assert seen[4][1]["review"]["id"] == review_id  # type: ignore[index]
