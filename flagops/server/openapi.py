"""JSON Schemas of the request bodies, for the served OpenAPI document.

The routes parse bodies themselves (strictly, with problem+json errors naming the field); these schemas
only document the shapes so clients and schema-driven fuzzers know what to send.
"""

from __future__ import annotations

from typing import Any

_REASON = {"type": "string", "minLength": 1, "maxLength": 1000, "description": "Why this change is made."}
_TICKET = {"type": ["string", "null"], "maxLength": 200}
_ORIGIN = {"type": ["object", "null"], "properties": {"runbook": {"type": ["string", "null"]},
                                                      "runId": {"type": ["string", "null"]},
                                                      "step": {"type": ["integer", "null"]},
                                                      "tool": {"type": "string"}}}
_RULE = {"type": "object", "required": ["id", "attribute", "op", "values", "variant"],
         "properties": {"id": {"type": "string"}, "attribute": {"type": "string"},
                        "op": {"type": "string", "enum": ["in", "not_in", "eq", "neq", "starts_with", "ends_with",
                                                          "contains", "gt", "gte", "lt", "lte", "semver_gte",
                                                          "semver_lt"]},
                        "values": {"type": "array", "items": {"type": "string"}}, "variant": {"type": "string"}}}

PATCH = {"type": "object", "required": ["changeReason"], "additionalProperties": False, "properties": {
    "enabled": {"type": "boolean"}, "rollout": {"type": "number", "minimum": 0, "maximum": 100},
    "rules": {"type": "array", "items": _RULE}, "defaultVariant": {"type": "string"},
    "changeReason": _REASON, "ticket": _TICKET, "origin": _ORIGIN}}

RESTORE = {"type": "object", "required": ["toVersion", "changeReason"], "additionalProperties": False,
           "properties": {"toVersion": {"type": "integer", "minimum": 1}, "changeReason": _REASON,
                          "ticket": _TICKET, "origin": _ORIGIN}}

ARCHIVE = {"type": "object", "required": ["changeReason"], "additionalProperties": False,
           "properties": {"changeReason": _REASON, "ticket": _TICKET, "origin": _ORIGIN}}

CREATE = {"type": "object", "required": ["key", "changeReason"], "additionalProperties": False, "properties": {
    "key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"}, "name": {"type": "string"},
    "description": {"type": "string"}, "kind": {"type": "string", "enum": ["boolean", "multivariate", "json"]},
    "variants": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
        "key": {"type": "string"}, "value": {}, "description": {"type": "string"}}}},
    "tags": {"type": "array", "items": {"type": "string"}}, "owner": {"type": "string"},
    "stage": {"type": "string", "enum": ["planned", "active", "deprecated", "retired"]},
    "killSwitch": {"type": "boolean"}, "riskLevel": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
    "ticket": _TICKET, "sunsetAt": {"type": ["string", "null"], "format": "date-time"},
    "dashboards": {"type": "array", "items": {"type": "string"}},
    "environments": {"type": "object", "additionalProperties": {"type": "object", "properties": {
        "enabled": {"type": "boolean"}, "rollout": {"type": "number", "minimum": 0, "maximum": 100},
        "rules": {"type": "array", "items": _RULE}, "defaultVariant": {"type": "string"},
        "offVariant": {"type": "string"}}}},
    "changeReason": _REASON, "origin": _ORIGIN}}

EVALUATE = {"type": "object", "required": ["environment", "requests"], "properties": {
    "environment": {"type": "string"},
    "requests": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {
        "type": "object", "required": ["flagKey"], "properties": {
            "flagKey": {"type": "string"}, "context": {"type": "object"}, "defaultValue": {}}}},
    "options": {"type": "object"}}}

METRICS = {"type": "object", "required": ["environment", "counts"], "additionalProperties": False, "properties": {
    "environment": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
    "counts": {"type": "array", "items": {"type": "object", "required": ["flag"], "properties": {
        "flag": {"type": "string"},
        "evaluations": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "errors": {"type": "integer", "minimum": 0}}}}}}


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}
