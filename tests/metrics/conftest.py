"""The demo service under traffic, and a real Prometheus scraping it (module-scoped: it takes ~15 s to
have enough samples for a rate)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import RunningService, start_service

from .prometheus_harness import RunningPrometheus, start_prometheus

INCIDENT = "checkout-new-flow"


@dataclass
class Stack:
    service: RunningService
    prometheus: RunningPrometheus


def set_rollout(service: RunningService, key: str, env: str, rollout: float, reason: str) -> None:
    with service.client() as client:
        version = client.get(f"/v1/flags/{key}", params={"environment": env}).json()["environments"][env]["version"]
        response = client.patch(
            f"/v1/flags/{key}",
            params={"environment": env},
            headers={"If-Match": f'"{version}"'},
            json={"rollout": rollout, "changeReason": reason},
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo with traffic (the deploy-bot held still), the incident flag at 25 % in prod, scraped by Prometheus."""
    work = tmp_path_factory.mktemp("stack")
    service = start_service(work / "svc", traffic=True, extra_args=["--incident-step", "3600"])
    prometheus = None
    try:
        set_rollout(service, INCIDENT, "prod", 25, "metrics tests: a rollout with a failing new path")
        prometheus = start_prometheus(work / "prom", [(service.url, service.read_token)])
        prometheus.wait_for_series(f'flagops_flag_errors_total{{flag="{INCIDENT}",variant="on"}}')
        time.sleep(12)  # enough scrapes for rate() over the tests' 10-30 s ranges
        yield Stack(service, prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        service.stop()


def v1_series(service: RunningService, key: str, env: str, window: int, step: int = 10) -> dict[str, object]:
    with httpx.Client(base_url=service.url, headers=service.headers(), timeout=10) as client:
        data: dict[str, object] = client.get(
            f"/v1/metrics/flags/{key}", params={"environment": env, "window": window, "step": step}
        ).json()
        return data
