"""Error rates through a real Prometheus scraping the demo service: the numbers agree with the service's
own, per variant, in the metrics port, `flagops status`, a runbook check, a guarded rollout and the console.

Tolerance: Prometheus sees the service's counters through 1 s scrapes and rate() over a range, the service
counts exact 10 s buckets; over the same window the error rates agree within 1.5 percentage points (or
25 % of the rate, whichever is larger) and evaluations per minute within 25 %.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flagops.config import Profile
from flagops.metrics.base import variant_rates
from flagops.metrics.prometheus import PrometheusMetrics
from flagops.metrics.settings import MetricsSettings
from flagops.ops import Ops
from flagops.runbooks.loader import loads
from flagops.runbooks.runlog import RunStore
from flagops.runbooks.runs import start_run
from flagops.secrets import Secret
from flagops.session import open_backend

from .conftest import INCIDENT, Stack, v1_series

pytestmark = pytest.mark.timeout(240)
WINDOW = 60


def settings(stack: Stack, **changes: Any) -> MetricsSettings:
    return MetricsSettings(source="prometheus", url=stack.prometheus.url, min_range=5, timeout=5, **changes)


def profile(stack: Stack, **changes: Any) -> Profile:
    return Profile(name="prom", url=stack.service.url, environment="prod", metrics=settings(stack, **changes))


def close(a: float, b: float, *, points: float = 0.015, relative: float = 0.25) -> bool:
    return abs(a - b) <= max(points, relative * max(abs(a), abs(b)))


def service_rates(stack: Stack, key: str, window: int = WINDOW) -> dict[str, float]:
    data = v1_series(stack.service, key, "prod", window)
    evals: dict[str, float] = {}
    errors: dict[str, float] = {}
    for point in data["points"]:  # type: ignore[union-attr]
        for v, n in point["evaluations"].items():
            evals[v] = evals.get(v, 0) + n
        for v, n in point.get("errorsByVariant", {}).items():
            errors[v] = errors.get(v, 0) + n
    return {v: errors.get(v, 0) / n for v, n in evals.items() if n}


async def test_prometheus_series_agree_with_the_service_per_variant(stack: Stack) -> None:
    source = PrometheusMetrics(settings(stack))
    try:
        series = await source.series(INCIDENT, "prod", window_seconds=WINDOW, step_seconds=10)
    finally:
        await source.aclose()
    assert series.note is None and series.split_by_variant
    ours = {v.variant: v.rate for v in variant_rates(series)}
    theirs = service_rates(stack, INCIDENT)
    assert set(ours) == set(theirs) == {"on", "off"}
    for variant in ("on", "off"):
        assert ours[variant] is not None and close(ours[variant], theirs[variant]), (variant, ours, theirs)
    assert ours["on"] > 0.04 > ours["off"]  # the new path is the one failing (the demo's incident)
    assert source.queries == 2  # evaluations and errors, one query each
    assert source.health.ok


async def test_one_batch_answers_for_every_flag(stack: Stack) -> None:
    with stack.service.client() as client:
        keys = [f["key"] for f in client.get("/v1/flags", params={"environment": "prod"}).json()["flags"]]
    source = PrometheusMetrics(settings(stack))
    try:
        found = await source.series_many(keys, "prod", window_seconds=60, step_seconds=30)
    finally:
        await source.aclose()
    assert source.queries == 2 and set(found) == set(keys)
    assert sum(1 for s in found.values() if s.evaluations > 0) > len(keys) * 0.8


def flagops_cli(
    args: list[str], tmp_path: Path, config: dict[str, Any], token: str
) -> subprocess.CompletedProcess[str]:
    import os

    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGOPS_")}
    env.update(
        FLAGOPS_CONFIG=str(path),
        FLAGOPS_TOKEN=token,
        FLAGOPS_STATE_DIR=str(tmp_path / "state"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "flagops", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_status_reads_error_rates_through_prometheus(stack: Stack, tmp_path: Path) -> None:
    config = {
        "profiles": {
            "prom": {
                "url": stack.service.url,
                "environment": "prod",
                "metrics": {"source": "prometheus", "url": stack.prometheus.url, "min_range": "5s"},
            }
        }
    }
    result = flagops_cli(["status", INCIDENT, "--env", "prod", "--json"], tmp_path, config, stack.service.admin_token)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)["status"]["prod"]
    assert status["metricsError"] is None
    theirs = service_rates(stack, INCIDENT, 300)
    assert close(status["errorRateByVariant"]["on"], theirs["on"])
    assert close(status["errorRateByVariant"]["off"], theirs["off"])
    table = flagops_cli(["status", INCIDENT, "--env", "prod"], tmp_path, config, stack.service.admin_token)
    assert table.returncode == 0 and "on " in table.stdout and "off " in table.stdout, table.stdout


CHECK = """
id: arms-check
title: treatment vs control
environment: prod
steps:
  - name: The new path fails more than the old one
    check: error_rate
    flag: checkout-new-flow
    above_control_by: 2
    window: 30s
"""

GUARDED = """
id: arms-guard
title: guarded by treatment vs control
environment: prod
steps:
  - name: Roll out, guarded by treatment vs control
    progressive: checkout-new-flow
    percents: [30, 40]
    hold: 4s
    poll: 500ms
    guard:
      treatment_above_control_by: 2
      window: 30s
"""


async def test_runbook_check_and_guarded_rollout_compare_treatment_with_control(stack: Stack, tmp_path: Path) -> None:
    backend = open_backend(profile(stack), Secret(stack.service.admin_token))
    try:
        ops = Ops(backend)
        log = await start_run(
            ops, loads(CHECK, "arms-check.yaml"), {}, reason="INC-9 is the new path failing?", store=RunStore(tmp_path)
        )
        assert log.status == "done", log.message
        assert "treatment on" in log.steps[0].message and "vs control off" in log.steps[0].message
        log = await start_run(
            ops,
            loads(GUARDED, "arms-guard.yaml"),
            {},
            reason="INC-9 guarded rollout test",
            store=RunStore(tmp_path),
            confirm=None,
        )
        assert log.status == "failed", log.message
        assert "guard breached at 30%" in log.steps[0].message and "above control" in log.steps[0].message
        flag = await backend.get_flag(INCIDENT, "prod")
        assert flag.states["prod"].rollout == 25  # rolled back to where it was
    finally:
        await backend.aclose()
