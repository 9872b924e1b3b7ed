"""The OFREP endpoints in the served OpenAPI document, following open-feature/protocol's service/openapi.yaml.

OFREP errors are not problem+json (the OpenFeature providers parse `errorCode`), so `finish` replaces the
generic error responses `openapi.finish` gives every route with OFREP's own.
"""

from __future__ import annotations

from typing import Any

_CONTEXT = {
    "type": "object",
    "description": "Evaluation context: targetingKey (else userId, else accountId) "
    "for bucketing, other attributes for rules.",
}
_REQUEST = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": {"context": _CONTEXT}}}},
    }
}
SINGLE: dict[str, Any] = _REQUEST
BULK: dict[str, Any] = _REQUEST

_METADATA = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
SUCCESS = {
    "type": "object",
    "required": ["key", "reason", "variant"],
    "properties": {
        "key": {"type": "string"},
        "value": {"description": "The variant's value; absent when it has none (use the code default)."},
        "reason": {"type": "string", "enum": ["STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED"]},
        "variant": {"type": "string"},
        "metadata": _METADATA,
    },
}
FAILURE = {
    "type": "object",
    "required": ["key", "errorCode"],
    "properties": {
        "key": {"type": "string"},
        "errorCode": {
            "type": "string",
            "enum": ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "FLAG_NOT_FOUND", "GENERAL"],
        },
        "errorDetails": {"type": "string"},
    },
}
BULK_FAILURE = {
    "type": "object",
    "required": ["errorCode"],
    "properties": {
        "errorCode": {"type": "string", "enum": ["PARSE_ERROR", "INVALID_CONTEXT", "GENERAL"]},
        "errorDetails": {"type": "string"},
    },
}
BULK_SUCCESS = {
    "type": "object",
    "required": ["flags"],
    "properties": {"flags": {"type": "array", "items": {"oneOf": [SUCCESS, FAILURE]}}, "metadata": _METADATA},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_BY_STATUS = {
    "401": {"description": "Missing or unknown token."},
    "403": {"description": "The token lacks flags:read or may not read this environment."},
    "429": {
        "description": "Rate limited; Retry-After says after how many seconds to retry.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    paths = document.get("paths", {})
    single = paths.get("/ofrep/v1/evaluate/flags/{key}", {}).get("post")
    if single is not None:
        single["responses"] = {
            "200": _json("The evaluation.", SUCCESS),
            "400": _json("Bad request or context, or no usable environment.", FAILURE),
            "404": _json("No such flag in this environment (FLAG_NOT_FOUND).", FAILURE),
            **_BY_STATUS,
            "500": _json("Internal error.", FAILURE),
        }
    bulk = paths.get("/ofrep/v1/evaluate/flags", {}).get("post")
    if bulk is not None:
        bulk["responses"] = {
            "200": {
                **_json("Every live flag of the environment, evaluated.", BULK_SUCCESS),
                "headers": {"ETag": {"schema": {"type": "string"}}},
            },
            "304": {
                "description": "Not modified: If-None-Match names the current ETag "
                "(same environment version, same context)."
            },
            "400": _json("Bad request or context, or no usable environment.", BULK_FAILURE),
            **_BY_STATUS,
            "500": _json("Internal error.", BULK_FAILURE),
        }
    return document
