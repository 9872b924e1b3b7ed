"""The demo as a living system: the incident plays out through the normal write path and shows in the
metrics; the embedded runner starts and stops a service with fresh tokens."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from conftest import start_service

from flagops.server.embedded import start_embedded

INCIDENT = "checkout-new-flow"


def _error_rate(point: dict) -> float:  # type: ignore[type-arg]
    total = sum(point["evaluations"].values())
    return point["errors"] / total if total else 0.0


def test_incident_rollout_and_error_rate_climb_together(tmp_path: Path) -> None:
    svc = start_service(tmp_path, demo=True, traffic=True, extra_args=["--incident-step", "0.4"])
    try:
        with svc.client() as c:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                state = c.get(f"/v1/flags/{INCIDENT}", params={"environment": "prod"}).json()["environments"]["prod"]
                if state["rollout"] >= 50:
                    break
                time.sleep(0.2)
            assert state["rollout"] == 50 and state["updatedBy"] == "deploy-bot"
            entries = c.get("/v1/audit", params={"flag": INCIDENT, "environment": "prod"}).json()["entries"]
            steps = [e["after"]["rollout"] for e in reversed(entries) if e["actor"] == "deploy-bot"]
            assert steps == [2, 5, 10, 25, 50]
            assert all("progressive rollout" in e["reason"] for e in entries if e["actor"] == "deploy-bot")
            time.sleep(3)  # a few seconds of traffic at 50%
            before = c.get(
                f"/v1/metrics/flags/{INCIDENT}", params={"environment": "prod", "window": 900, "step": 60}
            ).json()["points"]
            now = c.get(f"/v1/metrics/flags/{INCIDENT}", params={"environment": "prod", "window": 10}).json()
            latest = [p for p in now["points"] if p["evaluations"]][-1]
            assert sum(before[0]["evaluations"].values()) > 0  # backfilled history exists
            assert _error_rate(before[0]) < 0.01  # at 1%: near baseline
            assert _error_rate(latest) > 0.02  # at 50%: the incident is visible

            def on_share(p: dict) -> float:  # type: ignore[type-arg]
                return p["evaluations"].get("on", 0) / sum(p["evaluations"].values())

            assert on_share(latest) > on_share(before[0]) + 0.1  # traffic follows the rollout
            assert c.get("/v1/audit/verify").json()["ok"] is True
    finally:
        svc.stop()


def test_embedded_service_starts_with_fresh_tokens_and_stops() -> None:
    service = start_embedded(traffic=False)
    try:
        assert service.url.startswith("http://127.0.0.1:")
        assert service.admin_token not in repr(service)
        r = httpx.get(
            f"{service.url}/v1/flags",
            params={"environment": "prod"},
            headers={"Authorization": f"Bearer {service.read_token}"},
        )
        assert r.status_code == 200 and len(r.json()["flags"]) >= 280
        r = httpx.patch(
            f"{service.url}/v1/flags/{INCIDENT}",
            params={"environment": "prod"},
            json={"enabled": False, "changeReason": "reader cannot write"},
            headers={"Authorization": f"Bearer {service.read_token}", "If-Match": '"1"'},
        )
        assert r.status_code == 403
        assert service.admin_token not in service.log_path.read_text()
    finally:
        service.stop()
    assert not service.running()


def test_deploy_bot_backs_off_once_a_human_changes_the_flag(tmp_path: Path) -> None:
    svc = start_service(tmp_path, demo=True, traffic=True, extra_args=["--incident-step", "1"])
    try:
        with svc.client() as c:
            deadline = time.monotonic() + 15
            state = {}
            while time.monotonic() < deadline:
                state = c.get(f"/v1/flags/{INCIDENT}", params={"environment": "prod"}).json()["environments"]["prod"]
                if state["updatedBy"] == "deploy-bot":
                    break
                time.sleep(0.1)
            assert state["updatedBy"] == "deploy-bot"
            r = c.patch(
                f"/v1/flags/{INCIDENT}",
                params={"environment": "prod"},
                json={"enabled": False, "changeReason": "INC-1: errors rising, kill it"},
                headers={"If-Match": f'"{state["version"]}"'},
            )
            if r.status_code == 412:  # the bot took another step in between: kill on top of it
                r = c.patch(
                    f"/v1/flags/{INCIDENT}",
                    params={"environment": "prod"},
                    json={"enabled": False, "changeReason": "INC-1: errors rising, kill it"},
                    headers={"If-Match": f'"{r.json()["currentVersion"]}"'},
                )
            assert r.status_code == 200, r.text
            time.sleep(3)  # three more bot intervals
            after = c.get(f"/v1/flags/{INCIDENT}", params={"environment": "prod"}).json()["environments"]["prod"]
            assert (after["enabled"], after["updatedBy"]) == (False, "alice-admin")
            newest = c.get("/v1/audit", params={"flag": INCIDENT, "limit": 1}).json()["entries"][0]
            assert newest["actor"] == "alice-admin"
    finally:
        svc.stop()
