"""OpenFeature Remote Evaluation Protocol (OFREP) on top of the service's own evaluation.

Pure mapping, no I/O: an OFREP request body becomes an evaluation context, and a decision of
`evaluate.evaluate` becomes an OFREP success or failure object. The rules, the bucketing and the targeting
key (`targetingKey`, else `userId`, else `accountId`) are the ones `/v1/evaluate` uses, so an OpenFeature
SDK and `/v1/evaluate` give the same context the same variant.

Reasons: off -> DISABLED, a matching rule -> TARGETING_MATCH, a percentage bucket -> SPLIT, 100% with no
rules -> STATIC, 100% after rules that did not match -> DEFAULT, 0% -> DEFAULT (everyone gets the off
variant). The flagops reason, rule id, bucket, environment and state version go into `metadata`
(OFREP metadata values are strings, numbers and booleans only).

A variant without a value (JSON null) is answered without `value`, which OFREP defines as "use the
default in your code".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagops.governance import Segment
from flagops.model import Flag, FlagState
from flagops.server.evaluate import evaluate

PARSE_ERROR = "PARSE_ERROR"
TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
INVALID_CONTEXT = "INVALID_CONTEXT"
FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
GENERAL = "GENERAL"

# Which environment an OFREP request evaluates in: OFREP has no field for it, and every OFREP provider
# lets the application set static headers (Python: headers_factory, JS: headers), so it is a header.
ENVIRONMENT_HEADER = "X-Flagops-Environment"


class OfrepError(Exception):
    """An OFREP error response: HTTP status, errorCode and errorDetails (and extra headers, e.g. Retry-After)."""

    def __init__(self, status: int, code: str, details: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(details)
        self.status = status
        self.code = code
        self.details = details
        self.headers = headers or {}

    def body(self, key: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"errorCode": self.code, "errorDetails": self.details}
        if key is not None:
            out = {"key": key, **out}
        return out


def parse_context(body: Any) -> dict[str, Any]:
    """The evaluation context of an OFREP request body (`{"context": {...}}`; an empty body is no context).

    Other top-level fields are ignored: OFREP may add request fields, and an SDK newer than this service
    must still be answered."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise OfrepError(400, PARSE_ERROR, 'the request body must be a JSON object like {"context": {...}}')
    context = body.get("context", {})
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise OfrepError(400, INVALID_CONTEXT, "context: expected a JSON object of attributes")
    key = context.get("targetingKey")
    if key is not None and not isinstance(key, str):
        raise OfrepError(400, INVALID_CONTEXT, "context.targetingKey: expected a string")
    return context


def context_fingerprint(context: dict[str, Any]) -> str:
    """A short stable hash of a context (part of the bulk ETag: the answer depends on the context)."""
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def _reason(decision: dict[str, Any], flag: Flag, environment: str) -> str:
    reason = decision["reason"]
    if reason == "off":
        return "DISABLED"
    if reason == "rule":
        return "TARGETING_MATCH"
    if reason == "rollout":
        return "SPLIT" if "bucketing" in decision else "DEFAULT"
    state = flag.states[environment]
    return "DEFAULT" if state.rules else "STATIC"


@dataclass(frozen=True)
class Answer:
    """One flag's OFREP answer: a success (`error` is None) or a per-flag failure."""

    body: dict[str, Any]
    error: OfrepError | None = None


def answer(flag: Flag, environment: str, decision: dict[str, Any]) -> Answer:
    """The OFREP object for a decision of `evaluate()` on a flag that exists in `environment`."""
    key = flag.key
    error = decision.get("error")
    if error:
        code, _, details = str(error).partition(":")
        code = code.strip()
        if code not in (TARGETING_KEY_MISSING, FLAG_NOT_FOUND):
            code, details = GENERAL, str(error)
        status = 404 if code == FLAG_NOT_FOUND else 400
        failure = OfrepError(status, code, details.strip() or code)
        return Answer(failure.body(key), failure)
    state = flag.states[environment]
    metadata: dict[str, Any] = {
        "environment": environment,
        "version": state.version,
        "flagopsReason": decision["reason"],
    }
    if decision.get("ruleId"):
        metadata["ruleId"] = decision["ruleId"]
    if decision.get("segment"):
        metadata["segment"] = decision["segment"]
    if "bucketing" in decision:
        metadata["bucket"] = decision["bucketing"]["bucket"]
    body: dict[str, Any] = {
        "key": key,
        "reason": _reason(decision, flag, environment),
        "variant": decision["variant"],
        "metadata": metadata,
    }
    if decision["value"] is not None:
        body["value"] = decision["value"]
    return Answer(body)


def _context_free(state: FlagState) -> bool:
    """True when every context gets the same answer: off, or no rules and a rollout of 0% or 100%."""
    return not state.enabled or (not state.rules and state.rollout in (0, 100))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class BulkAnswers:
    """Bulk bodies from per-flag JSON fragments. A flag whose answer cannot depend on the context keeps its
    fragment until the flag object is replaced (the store replaces it on every change), so a bulk evaluation
    only evaluates the flags whose rules or percentage make the context matter."""

    def __init__(self) -> None:
        self._fixed: dict[tuple[str, str], tuple[Flag, str]] = {}

    def body(
        self,
        flags: list[Flag],
        environment: str,
        context: dict[str, Any],
        version: int,
        segments: Mapping[str, Segment] | None = None,
    ) -> bytes:
        parts = []
        for flag in flags:
            state = flag.states.get(environment)
            if state is None:
                continue
            cached = self._fixed.get((flag.key, environment))
            if cached is not None and cached[0] is flag:
                parts.append(cached[1])
                continue
            decision = evaluate(flag, environment, flag.key, context, None, segments)
            fragment = _dumps(answer(flag, environment, decision).body)
            if _context_free(state):
                self._fixed[(flag.key, environment)] = (flag, fragment)
            parts.append(fragment)
        metadata = _dumps({"environment": environment, "version": version})
        return f'{{"flags":[{",".join(parts)}],"metadata":{metadata}}}'.encode()
