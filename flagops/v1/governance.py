"""The v1 JSON for governance (flagops/governance.py): policy, change requests, reviews, segments.

Shared by the reference service and the flagapi adapter, like flagops.v1.wire. The shapes:

Policy (GET /v1/policy):
    {"approvals": [{"environment", "riskLevels": [..], "approvers", "approverScope", "expiresAfterSeconds"}]}
Change request:
    {"id", "flag", "environment", "baseVersion", "change": {enabled?, rollout?, rules?, defaultVariant?} | null,
     "restoreToVersion", "changeReason", "ticket", "author", "createdAt", "expiresAt", "status",
     "requiredApprovals", "verdicts": [{"actor", "at", "comment", "approve"}], "appliedBy", "appliedAt",
     "appliedVersion"}
Review:
    {"id", "flag", "environment", "sequence", "actor", "reason", "at", "acknowledgedBy", "acknowledgedAt",
     "comment"}
Segment:
    {"key", "name", "description", "conditions": [{"attribute", "op", "values"}], "version", "createdAt",
     "updatedAt", "updatedBy"}

Parsing is strict about types and raises ValueError naming the field (`where` prefixes it for nested values).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flagops.governance import (
    ApprovalPolicy,
    ApprovalRule,
    ChangeRequest,
    RequestStatus,
    Review,
    Segment,
    SegmentCondition,
    Verdict,
)
from flagops.model import RiskLevel, StateChange
from flagops.v1.wire import RULE_OPS, iso, parse_time, rule_from_json, rule_to_json

SEGMENT_RULE_OP = "in_segment"  # a flag rule {"op": "in_segment", "values": [segmentKey]}
CONDITION_OPS = RULE_OPS - {SEGMENT_RULE_OP}  # a segment cannot contain another segment


def _obj(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ValueError(f"{where or 'body'}: expected an object")
    return d


def _str(d: dict[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{where}{key}: expected a string")
    return value


def _opt_str(d: dict[str, Any], key: str, where: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}{key}: expected a string or null")
    return value


def _int(d: dict[str, Any], key: str, where: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}{key}: expected an integer")
    return value


def _opt_int(d: dict[str, Any], key: str, where: str) -> int | None:
    return None if d.get(key) is None else _int(d, key, where)


def _bool(d: dict[str, Any], key: str, where: str) -> bool:
    value = d.get(key)
    if not isinstance(value, bool):
        raise ValueError(f"{where}{key}: expected true or false")
    return value


def _time(d: dict[str, Any], key: str, where: str) -> datetime:
    value = parse_time(d.get(key), f"{where}{key}")
    if value is None:
        raise ValueError(f"{where}{key}: expected an ISO 8601 string")
    return value


def _opt_time(d: dict[str, Any], key: str, where: str) -> datetime | None:
    return parse_time(d.get(key), f"{where}{key}")


def _list(d: dict[str, Any], key: str, where: str) -> list[Any]:
    value = d.get(key)
    if not isinstance(value, list):
        raise ValueError(f"{where}{key}: expected a list")
    return value


def _str_list(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = _list(d, key, where)
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}{key}: expected a list of strings")
    return tuple(value)


def _enum(enum_type: Any, value: Any, field: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise ValueError(f"{field}: expected one of {allowed}") from None


# --- policy -----------------------------------------------------------------------------------


def approval_rule_to_json(rule: ApprovalRule) -> dict[str, Any]:
    return {
        "environment": rule.environment,
        "riskLevels": [r.value for r in rule.risk_levels],
        "approvers": rule.approvers,
        "approverScope": rule.approver_scope,
        "expiresAfterSeconds": rule.expires_after_seconds,
    }


def approval_rule_from_json(d: Any, where: str = "approvals[]") -> ApprovalRule:
    d = _obj(d, where)
    w = f"{where}."
    levels = tuple(_enum(RiskLevel, v, f"{w}riskLevels") for v in _str_list(d, "riskLevels", w))
    approvers = _int(d, "approvers", w)
    if approvers < 1:
        raise ValueError(f"{w}approvers: expected at least 1")
    expires = _int(d, "expiresAfterSeconds", w)
    if expires < 1:
        raise ValueError(f"{w}expiresAfterSeconds: expected a positive number of seconds")
    return ApprovalRule(
        environment=_str(d, "environment", w),
        risk_levels=levels,
        approvers=approvers,
        approver_scope=_str(d, "approverScope", w),
        expires_after_seconds=expires,
    )


def policy_to_json(policy: ApprovalPolicy) -> dict[str, Any]:
    return {"approvals": [approval_rule_to_json(r) for r in policy.rules]}


def policy_from_json(d: Any) -> ApprovalPolicy:
    d = _obj(d, "policy")
    rules = _list(d, "approvals", "")
    return ApprovalPolicy(rules=tuple(approval_rule_from_json(r, f"approvals[{i}]") for i, r in enumerate(rules)))


# --- change requests --------------------------------------------------------------------------


def change_to_json(change: StateChange) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if change.enabled is not None:
        body["enabled"] = change.enabled
    if change.rollout is not None:
        body["rollout"] = change.rollout
    if change.rules is not None:
        body["rules"] = [rule_to_json(r) for r in change.rules]
    if change.default_variant is not None:
        body["defaultVariant"] = change.default_variant
    return body


def change_from_json(d: Any, where: str = "change") -> StateChange:
    """A state change: {enabled?, rollout?, rules?, defaultVariant?}; at least one of them, nothing else."""
    d = _obj(d, where)
    w = f"{where}."
    unknown = sorted(set(d) - {"enabled", "rollout", "rules", "defaultVariant"})
    if unknown:
        raise ValueError(f"{w}{unknown[0][:40]}: unknown field")
    enabled = None if d.get("enabled") is None else _bool(d, "enabled", w)
    rollout: float | None = None
    if d.get("rollout") is not None:
        value = d["rollout"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ValueError(f"{w}rollout: expected a number 0-100")
        rollout = float(value)
    rules = None
    if d.get("rules") is not None:
        raw = _list(d, "rules", w)
        rules = tuple(rule_from_json(r, f"{w}rules[{i}]") for i, r in enumerate(raw))
    default_variant = None if d.get("defaultVariant") is None else _str(d, "defaultVariant", w)
    change = StateChange(enabled=enabled, rollout=rollout, rules=rules, default_variant=default_variant)
    if change.is_empty():
        raise ValueError(f"{where}: expected at least one of enabled, rollout, rules, defaultVariant")
    return change


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    return {"actor": verdict.actor, "at": iso(verdict.at), "comment": verdict.comment, "approve": verdict.approve}


def verdict_from_json(d: Any, where: str = "verdicts[]") -> Verdict:
    d = _obj(d, where)
    w = f"{where}."
    return Verdict(
        actor=_str(d, "actor", w),
        at=_time(d, "at", w),
        comment=_str(d, "comment", w),
        approve=_bool(d, "approve", w),
    )


def change_request_to_json(cr: ChangeRequest) -> dict[str, Any]:
    return {
        "id": cr.id,
        "flag": cr.flag_key,
        "environment": cr.environment,
        "baseVersion": cr.base_version,
        "change": None if cr.change is None else change_to_json(cr.change),
        "restoreToVersion": cr.restore_to_version,
        "changeReason": cr.reason,
        "ticket": cr.ticket,
        "author": cr.author,
        "createdAt": iso(cr.created_at),
        "expiresAt": iso(cr.expires_at),
        "status": cr.status.value,
        "requiredApprovals": cr.required_approvals,
        "verdicts": [verdict_to_json(v) for v in cr.verdicts],
        "appliedBy": cr.applied_by,
        "appliedAt": iso(cr.applied_at),
        "appliedVersion": cr.applied_version,
    }


def change_request_from_json(d: Any) -> ChangeRequest:
    d = _obj(d, "changeRequest")
    w = ""
    change = None if d.get("change") is None else change_from_json(d["change"])
    restore = _opt_int(d, "restoreToVersion", w)
    if (change is None) == (restore is None):
        raise ValueError("change: expected exactly one of change and restoreToVersion")
    verdicts = _list(d, "verdicts", w)
    return ChangeRequest(
        id=_str(d, "id", w),
        flag_key=_str(d, "flag", w),
        environment=_str(d, "environment", w),
        base_version=_int(d, "baseVersion", w),
        change=change,
        restore_to_version=restore,
        reason=_str(d, "changeReason", w),
        ticket=_opt_str(d, "ticket", w),
        author=_str(d, "author", w),
        created_at=_time(d, "createdAt", w),
        expires_at=_time(d, "expiresAt", w),
        status=_enum(RequestStatus, d.get("status"), "status"),
        required_approvals=_int(d, "requiredApprovals", w),
        verdicts=tuple(verdict_from_json(v, f"verdicts[{i}]") for i, v in enumerate(verdicts)),
        applied_by=_opt_str(d, "appliedBy", w),
        applied_at=_opt_time(d, "appliedAt", w),
        applied_version=_opt_int(d, "appliedVersion", w),
    )


# --- reviews ----------------------------------------------------------------------------------


def review_to_json(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "flag": review.flag_key,
        "environment": review.environment,
        "sequence": review.sequence,
        "actor": review.actor,
        "reason": review.reason,
        "at": iso(review.at),
        "acknowledgedBy": review.acknowledged_by,
        "acknowledgedAt": iso(review.acknowledged_at),
        "comment": review.comment,
    }


def review_from_json(d: Any) -> Review:
    d = _obj(d, "review")
    w = ""
    return Review(
        id=_str(d, "id", w),
        flag_key=_str(d, "flag", w),
        environment=_str(d, "environment", w),
        sequence=_int(d, "sequence", w),
        actor=_str(d, "actor", w),
        reason=_str(d, "reason", w),
        at=_time(d, "at", w),
        acknowledged_by=_opt_str(d, "acknowledgedBy", w),
        acknowledged_at=_opt_time(d, "acknowledgedAt", w),
        comment=_opt_str(d, "comment", w),
    )


# --- segments ---------------------------------------------------------------------------------


def condition_to_json(condition: SegmentCondition) -> dict[str, Any]:
    return {"attribute": condition.attribute, "op": condition.op, "values": list(condition.values)}


def condition_from_json(d: Any, where: str = "conditions[]") -> SegmentCondition:
    d = _obj(d, where)
    w = f"{where}."
    op = _str(d, "op", w)
    if op not in CONDITION_OPS:
        raise ValueError(f"{w}op: unknown operator {op[:40]!r}")
    attribute = _str(d, "attribute", w)
    if not attribute:
        raise ValueError(f"{w}attribute: expected a non-empty string")
    return SegmentCondition(attribute=attribute, op=op, values=_str_list(d, "values", w))


def conditions_from_json(d: dict[str, Any], key: str = "conditions") -> tuple[SegmentCondition, ...]:
    raw = _list(d, key, "")
    return tuple(condition_from_json(c, f"{key}[{i}]") for i, c in enumerate(raw))


def segment_to_json(segment: Segment) -> dict[str, Any]:
    return {
        "key": segment.key,
        "name": segment.name,
        "description": segment.description,
        "conditions": [condition_to_json(c) for c in segment.conditions],
        "version": segment.version,
        "createdAt": iso(segment.created_at),
        "updatedAt": iso(segment.updated_at),
        "updatedBy": segment.updated_by,
    }


def segment_from_json(d: Any) -> Segment:
    d = _obj(d, "segment")
    w = ""
    return Segment(
        key=_str(d, "key", w),
        name=_str(d, "name", w),
        description=_str(d, "description", w) if d.get("description") is not None else "",
        conditions=conditions_from_json(d),
        version=_int(d, "version", w),
        created_at=_opt_time(d, "createdAt", w),
        updated_at=_opt_time(d, "updatedAt", w),
        updated_by=_opt_str(d, "updatedBy", w),
    )


def segment_keys(rules: Any) -> tuple[str, ...]:
    """The segment keys a flag's rules reference (rules: domain `Rule`s)."""
    return tuple(v for r in rules if r.op == SEGMENT_RULE_OP for v in r.values)
