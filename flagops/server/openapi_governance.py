"""The governance part of the served OpenAPI document: request bodies and success bodies of the policy,
change request, review and segment endpoints (flagops/v1/governance.py has the shapes in words)."""

from __future__ import annotations

from typing import Any

from flagops.server.openapi import FLAG, PATCH

_PATCH_FIELDS: dict[str, Any] = PATCH["properties"]  # type: ignore[assignment]
_STR = {"type": "string"}
_NULL_STR = {"type": ["string", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
_TEXT = {"type": "string", "minLength": 8, "maxLength": 1000, "description": "Kept verbatim."}
_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {k: v for k, v in _PATCH_FIELDS.items() if k in ("enabled", "rollout", "rules", "defaultVariant")},
}
CHANGE_REQUEST = {
    "type": "object",
    "required": ["id", "flag", "environment", "baseVersion", "status", "author", "requiredApprovals", "verdicts"],
    "properties": {
        "id": _STR,
        "flag": _STR,
        "environment": _STR,
        "baseVersion": {"type": "integer"},
        "change": {"type": ["object", "null"]},
        "restoreToVersion": _NULL_INT,
        "changeReason": _STR,
        "ticket": _NULL_STR,
        "author": _STR,
        "createdAt": _STR,
        "expiresAt": _STR,
        "status": {"type": "string", "enum": ["pending", "approved", "rejected", "applied", "expired", "cancelled"]},
        "requiredApprovals": {"type": "integer"},
        "verdicts": {"type": "array", "items": {"type": "object", "required": ["actor", "at", "comment", "approve"]}},
        "appliedBy": _NULL_STR,
        "appliedAt": _NULL_STR,
        "appliedVersion": _NULL_INT,
    },
}
REVIEW = {
    "type": "object",
    "required": ["id", "flag", "environment", "sequence", "actor", "reason", "at"],
    "properties": {
        "id": _STR,
        "flag": _STR,
        "environment": _STR,
        "sequence": {"type": "integer"},
        "actor": _STR,
        "reason": _STR,
        "at": _STR,
        "acknowledgedBy": _NULL_STR,
        "acknowledgedAt": _NULL_STR,
        "comment": _NULL_STR,
    },
}
_CONDITION = {
    "type": "object",
    "required": ["attribute", "op", "values"],
    "properties": {"attribute": _STR, "op": _STR, "values": {"type": "array", "items": _STR}},
}
SEGMENT = {
    "type": "object",
    "required": ["key", "name", "description", "conditions", "version"],
    "properties": {
        "key": _STR,
        "name": _STR,
        "description": _STR,
        "conditions": {"type": "array", "items": _CONDITION},
        "version": {"type": "integer"},
        "createdAt": _NULL_STR,
        "updatedAt": _NULL_STR,
        "updatedBy": _NULL_STR,
    },
}
_RULE = {
    "type": "object",
    "required": ["environment", "riskLevels", "approvers", "approverScope", "expiresAfterSeconds"],
}
_COMMENT = {"type": "object", "required": ["comment"], "additionalProperties": False, "properties": {"comment": _TEXT}}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/change-requests", "post"): {
        "type": "object",
        "required": ["flag", "changeReason"],
        "additionalProperties": False,
        "properties": {
            "flag": _STR,
            "change": _CHANGE,
            "restoreToVersion": {"type": "integer", "minimum": 1},
            "changeReason": _TEXT,
            "ticket": _NULL_STR,
        },
    },
    ("/v1/change-requests/{cr_id}/approve", "post"): _COMMENT,
    ("/v1/change-requests/{cr_id}/reject", "post"): _COMMENT,
    ("/v1/change-requests/{cr_id}/cancel", "post"): _COMMENT,
    ("/v1/reviews/{review_id}/acknowledge", "post"): _COMMENT,
    ("/v1/segments", "post"): {
        "type": "object",
        "required": ["key", "name", "conditions", "changeReason"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,99}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000},
            "conditions": {"type": "array", "minItems": 1, "maxItems": 50, "items": _CONDITION},
            "changeReason": _TEXT,
        },
    },
    ("/v1/segments/{key}", "patch"): {
        "type": "object",
        "required": ["changeReason"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000},
            "conditions": {"type": "array", "minItems": 1, "maxItems": 50, "items": _CONDITION},
            "changeReason": _TEXT,
        },
    },
}


def _list(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [name], "properties": {name: {"type": "array", "items": item}}}


SUCCESS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("/v1/policy", "get"): ("200", _list("approvals", _RULE)),
    ("/v1/change-requests", "post"): ("201", CHANGE_REQUEST),
    ("/v1/change-requests", "get"): ("200", _list("changeRequests", CHANGE_REQUEST)),
    ("/v1/change-requests/{cr_id}", "get"): ("200", CHANGE_REQUEST),
    ("/v1/change-requests/{cr_id}/approve", "post"): ("200", CHANGE_REQUEST),
    ("/v1/change-requests/{cr_id}/reject", "post"): ("200", CHANGE_REQUEST),
    ("/v1/change-requests/{cr_id}/cancel", "post"): ("200", CHANGE_REQUEST),
    ("/v1/change-requests/{cr_id}/apply", "post"): (
        "200",
        {
            "type": "object",
            "required": ["changeRequest", "flag"],
            "properties": {"changeRequest": CHANGE_REQUEST, "flag": FLAG},
        },
    ),
    ("/v1/reviews", "get"): ("200", _list("reviews", REVIEW)),
    ("/v1/reviews/{review_id}/acknowledge", "post"): ("200", REVIEW),
    ("/v1/segments", "get"): ("200", _list("segments", SEGMENT)),
    ("/v1/segments", "post"): ("201", SEGMENT),
    ("/v1/segments/{key}", "get"): ("200", SEGMENT),
    ("/v1/segments/{key}", "patch"): ("200", SEGMENT),
}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """After openapi.finish (which gave every operation its 4XX problem): real bodies and success shapes."""
    for (path, method), schema in BODIES.items():
        op = document.get("paths", {}).get(path, {}).get(method)
        if op is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    for (path, method), (status, schema) in SUCCESS.items():
        op = document.get("paths", {}).get(path, {}).get(method)
        if op is not None:
            responses = {k: v for k, v in op["responses"].items() if not k.startswith("2")}
            op["responses"] = {
                status: {"description": "Success.", "content": {"application/json": {"schema": schema}}},
                **responses,
            }
    return document
