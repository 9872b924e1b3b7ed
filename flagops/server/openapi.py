"""JSON Schemas of the request bodies, for the served OpenAPI document.

The routes parse bodies themselves (strictly, with problem+json errors naming the field); these schemas
only document the shapes so clients and schema-driven fuzzers know what to send.
"""

from __future__ import annotations

from typing import Any

_REASON = {"type": "string", "minLength": 1, "maxLength": 1000, "description": "Why this change is made."}
_TICKET = {"type": ["string", "null"], "maxLength": 200}
_ORIGIN = {
    "type": ["object", "null"],
    "properties": {
        "runbook": {"type": ["string", "null"]},
        "runId": {"type": ["string", "null"]},
        "step": {"type": ["integer", "null"]},
        "tool": {"type": "string"},
    },
}
_RULE = {
    "type": "object",
    "required": ["id", "attribute", "op", "values", "variant"],
    "properties": {
        "id": {"type": "string"},
        "attribute": {"type": "string"},
        "op": {
            "type": "string",
            "enum": [
                "in",
                "not_in",
                "eq",
                "neq",
                "starts_with",
                "ends_with",
                "contains",
                "gt",
                "gte",
                "lt",
                "lte",
                "semver_gte",
                "semver_lt",
                "in_segment",
            ],
        },
        "values": {"type": "array", "items": {"type": "string"}},
        "variant": {"type": "string"},
    },
}

PATCH = {
    "type": "object",
    "required": ["changeReason"],
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "rollout": {"type": "number", "minimum": 0, "maximum": 100},
        "rules": {"type": "array", "items": _RULE},
        "defaultVariant": {"type": "string"},
        "changeReason": _REASON,
        "ticket": _TICKET,
        "origin": _ORIGIN,
    },
}

RESTORE = {
    "type": "object",
    "required": ["toVersion", "changeReason"],
    "additionalProperties": False,
    "properties": {
        "toVersion": {"type": "integer", "minimum": 1},
        "changeReason": _REASON,
        "ticket": _TICKET,
        "origin": _ORIGIN,
    },
}

ARCHIVE = {
    "type": "object",
    "required": ["changeReason"],
    "additionalProperties": False,
    "properties": {"changeReason": _REASON, "ticket": _TICKET, "origin": _ORIGIN},
}

CREATE = {
    "type": "object",
    "required": ["key", "changeReason"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"},
        "name": {"type": "string", "maxLength": 5000},
        "description": {"type": "string", "maxLength": 10000},
        "kind": {"type": "string", "enum": ["boolean", "multivariate", "json"]},
        "variants": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": "string"}, "value": {}, "description": {"type": "string"}},
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string"},
        "stage": {"type": "string", "enum": ["planned", "active", "deprecated", "retired"]},
        "killSwitch": {"type": "boolean"},
        "riskLevel": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "ticket": _TICKET,
        "sunsetAt": {"type": ["string", "null"], "format": "date-time"},
        "dashboards": {"type": "array", "items": {"type": "string"}},
        "environments": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "rollout": {"type": "number", "minimum": 0, "maximum": 100},
                    "rules": {"type": "array", "items": _RULE},
                    "defaultVariant": {"type": "string"},
                    "offVariant": {"type": "string"},
                },
            },
        },
        "changeReason": _REASON,
        "origin": _ORIGIN,
    },
}

EVALUATE = {
    "type": "object",
    "required": ["environment", "requests"],
    "properties": {
        "environment": {"type": "string"},
        "requests": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["flagKey"],
                "properties": {"flagKey": {"type": "string"}, "context": {"type": "object"}, "defaultValue": {}},
            },
        },
        "options": {"type": "object"},
    },
}

METRICS = {
    "type": "object",
    "required": ["environment", "counts"],
    "additionalProperties": False,
    "properties": {
        "environment": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "counts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["flag"],
                "properties": {
                    "flag": {"type": "string"},
                    "evaluations": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                    "errors": {
                        "oneOf": [
                            {"type": "integer", "minimum": 0},
                            {
                                "type": "object",
                                "description": "errors by variant",
                                "additionalProperties": {"type": "integer", "minimum": 0},
                            },
                        ]
                    },
                },
            },
        },
    },
}


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


# --- responses -------------------------------------------------------------------------------------

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The input that is wrong."},
        "currentVersion": {"type": "integer", "description": "412 only: the version now current."},
        "current": {"type": "object", "description": "412 only: the state now current."},
    },
}

_NULLABLE_STR = {"type": ["string", "null"]}
STATE = {
    "type": "object",
    "required": ["enabled", "rollout", "rules", "defaultVariant", "offVariant", "version"],
    "properties": {
        "enabled": {"type": "boolean"},
        "rollout": {"type": "number", "minimum": 0, "maximum": 100},
        "rules": {"type": "array", "items": _RULE},
        "defaultVariant": {"type": "string"},
        "offVariant": {"type": "string"},
        "version": {"type": "integer"},
        "updatedAt": _NULLABLE_STR,
        "updatedBy": _NULLABLE_STR,
    },
}
FLAG = {
    "type": "object",
    "required": ["key", "name", "kind", "variants", "environments"],
    "properties": {
        "key": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "kind": {"type": "string", "enum": ["boolean", "multivariate", "json"]},
        "variants": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": "string"}, "value": {}, "description": {"type": "string"}},
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string"},
        "stage": {"type": "string", "enum": ["planned", "active", "deprecated", "retired"]},
        "killSwitch": {"type": "boolean"},
        "riskLevel": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "ticket": _NULLABLE_STR,
        "sunsetAt": _NULLABLE_STR,
        "dashboards": {"type": "array", "items": {"type": "string"}},
        "createdAt": _NULLABLE_STR,
        "archived": {"type": "boolean"},
        "environments": {"type": "object", "additionalProperties": STATE},
        "noop": {"type": "boolean"},
    },
}
AUDIT_ENTRY = {
    "type": "object",
    "required": ["sequence", "at", "actor", "action", "flag", "reason", "prevHash", "hash"],
    "properties": {
        "sequence": {"type": "integer"},
        "at": {"type": "string"},
        "actor": {"type": "string"},
        "action": {"type": "string"},
        "flag": {"type": "string"},
        "environment": _NULLABLE_STR,
        "reason": {"type": "string"},
        "ticket": _NULLABLE_STR,
        "idempotencyKey": _NULLABLE_STR,
        "before": {},
        "after": {},
        "origin": _ORIGIN,
        "prevHash": {"type": "string"},
        "hash": {"type": "string"},
    },
}
_OBJ = {"type": "object"}
SUCCESS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("/healthz", "get"): ("200", {"type": "object", "required": ["status"]}),
    ("/v1/environments", "get"): (
        "200",
        {
            "type": "object",
            "required": ["environments"],
            "properties": {
                "environments": {"type": "array", "items": {"type": "object", "required": ["key", "name", "protected"]}}
            },
        },
    ),
    ("/v1/flags", "get"): (
        "200",
        {
            "type": "object",
            "required": ["environment", "version", "flags"],
            "properties": {
                "environment": {"type": "string"},
                "version": {"type": "integer"},
                "flags": {"type": "array", "items": FLAG},
            },
        },
    ),
    ("/v1/flags", "post"): ("201", FLAG),
    ("/v1/flags/{key}", "get"): ("200", FLAG),
    ("/v1/flags/{key}", "patch"): ("200", FLAG),
    ("/v1/flags/{key}", "delete"): ("200", FLAG),
    ("/v1/flags/{key}/restore", "post"): ("200", FLAG),
    ("/v1/evaluate", "post"): (
        "200",
        {
            "type": "object",
            "required": ["requestId", "decisions"],
            "properties": {
                "decisions": {"type": "array", "items": {"type": "object", "required": ["flagKey", "reason"]}}
            },
        },
    ),
    ("/v1/audit", "get"): (
        "200",
        {"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": AUDIT_ENTRY}}},
    ),
    ("/v1/audit/verify", "get"): (
        "200",
        {
            "type": "object",
            "required": ["ok", "checked"],
            "properties": {
                "ok": {"type": "boolean"},
                "checked": {"type": "integer"},
                "brokenAt": {"type": ["integer", "null"]},
                "problem": _NULLABLE_STR,
                "signature": {
                    "type": "object",
                    "properties": {
                        "keyId": _NULLABLE_STR,
                        "ok": {"type": ["boolean", "null"]},
                        "signedFrom": {"type": ["integer", "null"]},
                    },
                },
                "states": {"type": "object", "properties": {"checked": {"type": "integer"}, "ok": {"type": "boolean"}}},
            },
        },
    ),
    ("/v1/audit/export", "get"): (
        "200",
        {
            "type": "object",
            "required": ["format", "instance", "head", "signature", "entries", "states"],
            "properties": {
                "format": {"type": "string", "const": "flagops-audit-bundle/1"},
                "instance": {"type": "string"},
                "exportedAt": {"type": "string"},
                "columns": {"type": "array", "items": {"type": "string"}},
                "head": {"type": "object", "required": ["sequence", "hash"]},
                "signature": {"type": "object", "required": ["algorithm", "keyId", "publicKey", "value"]},
                "entries": {"type": "array", "items": {"type": "array", "minItems": 14, "maxItems": 14}},
                "states": {"type": "array", "items": {"type": "array", "minItems": 4, "maxItems": 4}},
            },
        },
    ),
    ("/v1/metrics", "post"): ("202", {"type": "object", "required": ["accepted"]}),
    ("/v1/metrics/flags", "get"): (
        "200",
        {
            "type": "object",
            "required": ["series"],
            "properties": {
                "series": {"type": "array", "items": {"type": "object", "required": ["flag", "environment", "points"]}}
            },
        },
    ),
    ("/v1/metrics/flags/{key}", "get"): (
        "200",
        {
            "type": "object",
            "required": ["flag", "environment", "step", "points"],
            "properties": {"points": {"type": "array", "items": _OBJ}},
        },
    ),
}
TEXT_BODIES = {("/v1/stream", "get"): "text/event-stream", ("/metrics", "get"): "text/plain"}
CONDITIONAL = {("/v1/flags", "get"), ("/v1/flags/{key}", "get")}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's generic responses with the real ones: the success body, 304 where conditional, and
    problem+json for every 4xx (FastAPI's own 422 shape is never sent)."""
    problem = {"description": "An RFC 9457 problem.", "content": {"application/problem+json": {"schema": PROBLEM}}}
    for path, methods in document.get("paths", {}).items():
        for method, op in methods.items():
            responses: dict[str, Any] = {}
            if (path, method) in SUCCESS:
                status, schema = SUCCESS[(path, method)]
                responses[status] = {"description": "Success.", "content": {"application/json": {"schema": schema}}}
            elif (path, method) in TEXT_BODIES:
                media = TEXT_BODIES[(path, method)]
                responses["200"] = {"description": "Success.", "content": {media: {"schema": {"type": "string"}}}}
            else:
                responses.update({k: v for k, v in op.get("responses", {}).items() if k.startswith("2")})
            if (path, method) in CONDITIONAL:
                responses["304"] = {"description": "Not modified: If-None-Match names the current ETag."}
            responses["4XX"] = problem
            op["responses"] = responses
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
