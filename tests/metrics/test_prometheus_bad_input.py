"""Bad answers from Prometheus each become a clear state, never a crash, and never hold up a kill."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from flagops.config import Profile
from flagops.metrics.base import MetricsUnavailable
from flagops.metrics.prometheus import PrometheusMetrics
from flagops.metrics.settings import DEFAULT_ERRORS, DEFAULT_EVALUATIONS, MetricsSettings
from flagops.ops import Ops
from flagops.secrets import Secret
from flagops.session import open_backend

from .conftest import INCIDENT, Stack
from .prometheus_harness import free_port

pytestmark = pytest.mark.timeout(120)


def source(url: str, **changes: Any) -> PrometheusMetrics:
    return PrometheusMetrics(MetricsSettings(source="prometheus", url=url, min_range=5, timeout=1, **changes))


async def read(src: PrometheusMetrics) -> Any:
    try:
        return await src.series(INCIDENT, "prod", window_seconds=60, step_seconds=10)
    finally:
        await src.aclose()


async def test_a_promql_error_names_the_template(stack: Stack) -> None:
    src = source(stack.prometheus.url, evaluations=DEFAULT_EVALUATIONS + ")")
    with pytest.raises(
        MetricsUnavailable,
        match=r"Prometheus rejected the evaluations query \(bad_data: .*"
        r"fix the profile's metrics.evaluations template",
    ):
        await read(src)
    label = src.health.label() or ""
    assert label.startswith("metrics source failing since") and "rejected the evaluations query" in label


async def test_an_empty_result_says_nothing_matched(stack: Stack) -> None:
    src = source(
        stack.prometheus.url,
        evaluations=DEFAULT_EVALUATIONS.replace("flagops_flag_evaluations_total", "nope"),
        errors=DEFAULT_ERRORS.replace("flagops_flag_errors_total", "nope"),
    )
    series = await read(src)
    assert series.evaluations == 0 and "no series for checkout-new-flow in prod" in (series.note or "")


async def test_nan_and_inf_samples_are_left_out_and_said(stack: Stack) -> None:
    src = source(stack.prometheus.url, errors=DEFAULT_ERRORS + " / 0")  # +Inf, or NaN where there were none
    series = await read(src)
    assert series.evaluations > 0 and series.errors == 0
    assert "NaN/Inf sample(s) from Prometheus left out" in (series.note or "")


async def test_unreachable_says_since_when() -> None:
    src = source(f"http://127.0.0.1:{free_port()}")
    for _ in range(2):
        with pytest.raises(MetricsUnavailable, match="is unreachable"):
            await src.series(INCIDENT, "prod")
    since = src.health.failing_since
    await src.aclose()
    label = src.health.label() or ""
    assert label.startswith("metrics source unreachable since ") and since is not None
    assert since.astimezone().strftime("%H:%M:%S") in label


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung Prometheus."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


async def test_a_slow_prometheus_never_holds_up_a_kill(stack: Stack, silent_port: int) -> None:
    with stack.service.client() as client:
        key = "metrics-kill-" + socket.gethostname()[:8].lower().replace("_", "-")
        client.post(
            "/v1/flags",
            json={
                "key": key,
                "name": key,
                "changeReason": "kill under a hung Prometheus",
                "environments": {"prod": {"enabled": True, "rollout": 100}},
            },
        )
    profile = Profile(
        name="hung",
        url=stack.service.url,
        environment="prod",
        metrics=MetricsSettings(source="prometheus", url=f"http://127.0.0.1:{silent_port}", timeout=10),
    )
    backend = open_backend(profile, Secret(stack.service.admin_token))
    try:
        ops = Ops(backend)
        loop = asyncio.get_running_loop()
        started = loop.time()
        plan = await ops.plan_kill(key, "prod")
        planned_in = loop.time() - started
        assert plan.blast.unknown == "metrics source slower than 0.5s"  # not the 10 s metrics timeout
        applied = await ops.apply(plan, reason="kill while Prometheus hangs")
        assert applied.confirmed and not applied.state.enabled
        assert planned_in < 5  # generous: the point is it did not wait the 10 s the source allows
    finally:
        await backend.aclose()
