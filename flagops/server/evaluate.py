"""Batch evaluation: rules in order, then deterministic percentage bucketing.

Bucketing hashes the flag key (the seed) with the targeting key, so the same context gets the same variant
on every call, every process and every machine; raising a rollout only ever adds contexts to the flag.
The targeting key is `targetingKey`, else `userId`, else `accountId` from the context.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from flagops.governance import Segment
from flagops.model import Flag, Rule

TARGETING_KEYS = ("targetingKey", "userId", "accountId")


def bucket(seed: str, targeting_key: str) -> float:
    """A stable position in [0, 100) for this key under this seed."""
    digest = hashlib.sha256(f"{seed}:{targeting_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:  # OverflowError: an integer beyond float range (request bodies are bounded; rules may not be)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return float(value)
    except (ValueError, OverflowError):
        return None
    return None


def _semver(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None
    core = value.lstrip("v").split("-", 1)[0].split("+", 1)[0]
    try:
        return tuple(int(p) for p in core.split("."))
    except ValueError:
        return None


def matches(rule: Rule, context: dict[str, Any]) -> bool:
    if rule.attribute not in context:
        return False
    actual = context[rule.attribute]
    text = actual if isinstance(actual, str) else str(actual).lower() if isinstance(actual, bool) else str(actual)
    op, values = rule.op, rule.values
    if op == "in":
        return text in values
    if op == "not_in":
        return text not in values
    if op == "eq":
        return bool(values) and text == values[0]
    if op == "neq":
        return bool(values) and text != values[0]
    if op == "starts_with":
        return any(text.startswith(v) for v in values)
    if op == "ends_with":
        return any(text.endswith(v) for v in values)
    if op == "contains":
        return any(v in text for v in values)
    if op in ("gt", "gte", "lt", "lte"):
        a, b = _number(actual), _number(values[0]) if values else None
        if a is None or b is None:
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op in ("semver_gte", "semver_lt"):
        a2, b2 = _semver(actual), _semver(values[0]) if values else None
        if a2 is None or b2 is None:
            return False
        return a2 >= b2 if op == "semver_gte" else a2 < b2
    return False


def segment_holds(segment: Segment | None, context: dict[str, Any]) -> bool:
    """All of the segment's conditions hold (an unknown segment never matches)."""
    if segment is None:
        return False
    return all(matches(Rule("", c.attribute, c.op, c.values, ""), context) for c in segment.conditions)


def evaluate(
    flag: Flag | None,
    environment: str,
    flag_key: str,
    context: dict[str, Any],
    default_value: Any,
    segments: Mapping[str, Segment] | None = None,
) -> dict[str, Any]:
    decision: dict[str, Any] = {
        "flagKey": flag_key,
        "variant": None,
        "value": default_value,
        "reason": "default",
        "ruleId": None,
        "error": None,
        "ttlSeconds": 60,
    }
    state = flag.states.get(environment) if flag is not None else None
    if flag is None or state is None:
        decision.update(reason="error", error="FLAG_NOT_FOUND")
        return decision
    values = {v.key: v.value for v in flag.variants}

    def serve(variant: str, reason: str, **extra: Any) -> dict[str, Any]:
        decision.update(variant=variant, value=values.get(variant, default_value), reason=reason, **extra)
        return decision

    if not state.enabled:
        return serve(state.off_variant, "off")
    for rule in state.rules:
        if rule.op == "in_segment":  # values: [segmentKey]; the decision names the segment
            segment_key = rule.values[0] if rule.values else ""
            if segment_holds((segments or {}).get(segment_key), context):
                return serve(rule.variant, "rule", ruleId=rule.id, segment=segment_key)
        elif matches(rule, context):
            return serve(rule.variant, "rule", ruleId=rule.id)
    if state.rollout >= 100:
        return serve(state.default_variant, "fallthrough")
    if state.rollout <= 0:
        return serve(state.off_variant, "rollout")
    key = next((str(context[k]) for k in TARGETING_KEYS if context.get(k) not in (None, "")), None)
    if key is None:
        decision.update(
            reason="error",
            error="TARGETING_KEY_MISSING: a percentage rollout needs targetingKey, userId or accountId in the context",
        )
        return decision
    position = bucket(flag.key, key)
    variant = state.default_variant if position < state.rollout else state.off_variant
    return serve(variant, "rollout", bucketing={"seed": flag.key, "bucket": round(position, 4)})


def parse_requests(d: Any) -> tuple[str, list[tuple[str, dict[str, Any], Any]]]:
    if not isinstance(d, dict):
        raise ValueError("body: expected a JSON object {environment, requests: [...]}")
    unknown = sorted(set(d) - {"environment", "requests", "options"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field; allowed: environment, options, requests")
    env = d.get("environment")
    if not isinstance(env, str):
        raise ValueError("environment: expected a string")
    reqs = d.get("requests")
    if not isinstance(reqs, list) or not 1 <= len(reqs) <= 1000:
        raise ValueError("requests: expected a list of 1-1000 {flagKey, context, defaultValue}")
    parsed = []
    for i, r in enumerate(reqs):
        if not isinstance(r, dict) or set(r) - {"flagKey", "context", "defaultValue"}:
            raise ValueError(f"requests[{i}]: expected an object {{flagKey, context, defaultValue}}")
        key = r.get("flagKey")
        if not isinstance(key, str):
            raise ValueError(f"requests[{i}].flagKey: expected a string")
        context = r.get("context", {})
        if not isinstance(context, dict):
            raise ValueError(f"requests[{i}].context: expected an object")
        parsed.append((key, context, r.get("defaultValue")))
    return env, parsed
