"""Unleash's usage counts as flagops metrics, and its playground answers as decisions. No I/O.

Unleash OSS keeps hourly yes/no counts per feature, environment and application, and nothing about errors:
the series has hourly points and `has_errors=False`, so faces say there is no error source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flagops.model import Decision, EvaluationRequest, MetricPoint, MetricSeries
from flagops.v1.wire import parse_time


def usage_series(
    key: str, environment: str, rows: list[dict[str, Any]], window_seconds: int, now: datetime | None = None
) -> MetricSeries:
    """The hourly buckets that overlap the last `window_seconds`, summed over applications."""
    start = (now or datetime.now(UTC)) - timedelta(seconds=window_seconds)
    hours: dict[datetime, dict[str, int]] = {}
    for row in rows:
        at = parse_time(row.get("timestamp"))
        if row.get("environment") != environment or at is None or at + timedelta(hours=1) <= start:
            continue
        counts = hours.setdefault(at, {"on": 0, "off": 0})
        counts["on"] += int(row.get("yes") or 0)
        counts["off"] += int(row.get("no") or 0)
    points = tuple(MetricPoint(at=at, evaluations=counts, errors=0) for at, counts in sorted(hours.items()))
    return MetricSeries(key, environment, 3600, points, has_errors=False)


def playground_context(request: EvaluationRequest) -> dict[str, str]:
    """Unleash context fields are strings; flagops's targeting key is Unleash's userId."""
    context = {"appName": "flagops", **{k: str(v) for k, v in request.context.items() if v is not None}}
    if "targetingKey" in context:
        context.setdefault("userId", context.pop("targetingKey"))
    return context


def context_marker(context: Mapping[str, str]) -> str:
    return json.dumps(dict(context), sort_keys=True)


def decision(request: EvaluationRequest, found: dict[str, Any] | None) -> Decision:
    if found is None:
        return Decision(request.flag_key, None, request.default_value, "error", error="flag not found")
    on = bool(found.get("isEnabled"))
    if not found.get("isEnabledInCurrentEnvironment"):
        reason = "off"
    else:
        reason = "rollout" if on else "fallthrough"
    return Decision(request.flag_key, "on" if on else "off", on, reason)
