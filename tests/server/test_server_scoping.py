"""A token limited to some environments sees nothing of the others on any read path: the audit log's
flag-wide entries, the change stream's flag.created/flag.archived events, and the Prometheus labels."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator

import pytest
import yaml
from conftest import RunningService, start_service, write_tokens

from server.helpers import SSEReader, assert_problem

OTHERS = ("prod", "staging")


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    root = tmp_path_factory.mktemp("scoped")
    tokens_file = root / "tokens.yaml"
    tokens = write_tokens(tokens_file)
    dev_token = secrets.token_urlsafe(24)
    entries = yaml.safe_load(tokens_file.read_text())
    entries.append(
        {
            "actor": "dev-auditor",
            "sha256": hashlib.sha256(dev_token.encode()).hexdigest(),
            "scopes": ["flags:read", "audit:read"],
            "environments": ["dev"],
        }
    )
    tokens_file.write_text(yaml.safe_dump(entries))
    svc = start_service(root / "svc", demo=True, tokens_file=tokens_file, tokens=tokens)
    with svc.client() as c:  # some metrics in every environment, so /metrics has labels for all three
        for env in ("dev", "staging", "prod"):
            assert (
                c.post(
                    "/v1/evaluate",
                    json={
                        "environment": env,
                        "requests": [{"flagKey": "checkout-new-flow", "context": {"targetingKey": "u1"}}],
                    },
                ).status_code
                == 200
            )
    yield svc, dev_token
    svc.stop()


def _create_and_archive(svc: RunningService, key: str) -> None:
    with svc.client() as c:
        body = {
            "key": key,
            "changeReason": "scoping probe",
            "environments": {env: {"enabled": True, "rollout": 42} for env in ("dev", "staging", "prod")},
        }
        assert c.post("/v1/flags", json=body).status_code == 201
        assert c.request("DELETE", f"/v1/flags/{key}", json={"changeReason": "scoping probe done"}).status_code == 200


def test_flag_wide_audit_entries_show_only_the_tokens_environments(scoped: tuple[RunningService, str]) -> None:
    svc, dev_token = scoped
    _create_and_archive(svc, "scoped-audit")
    with svc.client(dev_token) as c:
        entries = c.get("/v1/audit", params={"flag": "scoped-audit"}).json()["entries"]
        assert [e["action"] for e in entries] == ["flag.archived", "flag.created"]
        assert set(entries[1]["after"]["environments"]) == {"dev"}
        assert set(entries[0]["before"]["environments"]) == {"dev"}
        page = c.get("/v1/audit", params={"limit": 1000}).text
        for env in OTHERS:
            assert f'"{env}"' not in page
        assert_problem(c.get("/v1/audit", params={"environment": "prod"}), 403, "environment")
        assert_problem(c.get("/v1/audit/verify"), 403, "environment")  # the whole log: every-environment tokens
        assert_problem(c.get("/v1/audit/export"), 403, "environment")
    with svc.client(svc.read_token) as c:  # an every-environment token still sees all of it
        entries = c.get("/v1/audit", params={"flag": "scoped-audit"}).json()["entries"]
        assert set(entries[1]["after"]["environments"]) == {"dev", "staging", "prod"}


def test_stream_events_show_only_the_tokens_environments(scoped: tuple[RunningService, str]) -> None:
    svc, dev_token = scoped
    events: list[dict[str, str]] = []
    ready = threading.Event()

    def listen() -> None:
        with svc.client(dev_token) as c, c.stream("GET", "/v1/stream") as response:
            reader = SSEReader(response)
            reader.next_event()  # the retry: line
            ready.set()
            while len(events) < 2:
                event = reader.next_change()
                if "scoped-stream" in event["data"]:
                    events.append(event)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    _create_and_archive(svc, "scoped-stream")
    thread.join(20)
    assert [e["event"] for e in events] == ["flag.created", "flag.archived"]
    for event in events:
        assert '"dev"' in event["data"]
        for env in OTHERS:
            assert f'"{env}"' not in event["data"], event["data"]
    # and the replay from Last-Event-ID (the backlog path) is scoped the same way
    with (
        svc.client(dev_token) as c,
        c.stream("GET", "/v1/stream", headers={"Last-Event-ID": str(int(events[0]["id"]) - 1)}) as response,
    ):
        reader = SSEReader(response)
        replayed = reader.next_change()
        assert replayed["id"] == events[0]["id"] and '"prod"' not in replayed["data"]


def test_prometheus_metrics_show_only_the_tokens_environments(scoped: tuple[RunningService, str]) -> None:
    svc, dev_token = scoped
    with svc.client(dev_token) as c:
        text = c.get("/metrics").text
    assert 'environment="dev"' in text
    for env in OTHERS:
        assert f'environment="{env}"' not in text
    with svc.client(svc.read_token) as c:
        everything = c.get("/metrics").text
    assert all(f'environment="{env}"' in everything for env in OTHERS)


def test_one_flag_without_environment_shows_only_the_tokens_states(scoped: tuple[RunningService, str]) -> None:
    svc, dev_token = scoped
    with svc.client(dev_token) as c:
        assert set(c.get("/v1/flags/checkout-new-flow").json()["environments"]) == {"dev"}
        assert_problem(c.get("/v1/flags", params={"environment": "prod"}), 403, "environment")
        assert_problem(c.get("/v1/metrics/flags/checkout-new-flow", params={"environment": "prod"}), 403, "environment")
        assert_problem(
            c.post("/v1/evaluate", json={"environment": "prod", "requests": [{"flagKey": "checkout-new-flow"}]}),
            403,
            "environment",
        )
