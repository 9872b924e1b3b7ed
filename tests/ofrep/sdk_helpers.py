"""The real OpenFeature Python SDK pointed at the service, and the matching /v1/evaluate answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from conftest import RunningService
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagEvaluationDetails

# contexts that exercise every path: plain bucketing, each demo rule, the stand-in keys, no key at all
CONTEXTS: list[dict[str, Any]] = [{"targetingKey": f"user-{i}"} for i in range(12)] + [
    {"targetingKey": "staff-1", "email": "ana@example.com"},
    {"targetingKey": "corp-9", "plan": "enterprise"},
    {"targetingKey": "eu-3", "region": "EU"},
    {"targetingKey": "app-2", "appVersion": "2.5.1"},
    {"targetingKey": "app-old", "appVersion": "2.3.9"},
    {"userId": "only-user-id"},
    {"accountId": "only-account"},
    {"plan": "enterprise"},  # no targeting key: rules still apply, a percentage rollout cannot
]


def sdk_client(service: RunningService, environment: str, token: str | None = None) -> OpenFeatureClient:
    """An OpenFeature client on its own domain, backed by the OFREP provider (the way an app wires it)."""
    bearer = token or service.read_token
    provider = OFREPProvider(
        service.url, headers_factory=lambda: {"Authorization": f"Bearer {bearer}", "X-Flagops-Environment": environment}
    )
    domain = f"flagops-test-{uuid.uuid4().hex[:8]}"
    api.set_provider(provider, domain=domain)
    return api.get_client(domain=domain)


def evaluation_context(attributes: dict[str, Any]) -> EvaluationContext:
    attrs = dict(attributes)
    key = attrs.pop("targetingKey", None)
    return EvaluationContext(targeting_key=key, attributes=attrs)


def sdk_details(client: OpenFeatureClient, flag: dict[str, Any], ctx: dict[str, Any]) -> FlagEvaluationDetails[Any]:
    value = flag["variants"][0].get("value")
    context = evaluation_context(ctx)
    if isinstance(value, bool):
        return client.get_boolean_details(flag["key"], False, context)
    if isinstance(value, str):
        return client.get_string_details(flag["key"], "code-default", context)
    if isinstance(value, (dict, list)):
        return client.get_object_details(flag["key"], {"code": "default"}, context)
    if isinstance(value, float):
        return client.get_float_details(flag["key"], -1.0, context)
    return client.get_integer_details(flag["key"], -1, context)


def v1_decisions(
    service: RunningService, environment: str, keys: list[str], contexts: list[dict[str, Any]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """(flag key, context index) -> the /v1/evaluate decision."""
    requests = [{"flagKey": k, "context": c} for i, c in enumerate(contexts) for k in keys]
    out: dict[tuple[str, int], dict[str, Any]] = {}
    with service.client() as http:
        for start in range(0, len(requests), 1000):
            chunk = requests[start : start + 1000]
            r = http.post("/v1/evaluate", json={"environment": environment, "requests": chunk})
            assert r.status_code == 200, r.text
            for offset, decision in enumerate(r.json()["decisions"]):
                index = (start + offset) // len(keys)
                out[(decision["flagKey"], index)] = decision
    return out


def kill_time(service: RunningService, key: str, environment: str) -> datetime:
    """When the service committed the kill (the audit entry's time)."""
    with service.client() as http:
        entries = http.get("/v1/audit", params={"flag": key, "environment": environment, "limit": 5}).json()
    kill = next(e for e in entries["entries"] if e["after"] and e["after"].get("enabled") is False)
    return datetime.fromisoformat(kill["at"].replace("Z", "+00:00"))
