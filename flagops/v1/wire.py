"""The v1 Flag API's JSON shapes, and conversion to and from the domain model.

Shared by the reference service (flagops/server) and the flagapi adapter, so both sides agree on one
contract. Field names are camelCase on the wire. The shapes:

Flag:
    {"key", "name", "description", "kind", "variants": [{"key", "value", "description"}], "tags": [..],
     "owner", "stage", "killSwitch", "riskLevel", "ticket", "sunsetAt", "dashboards": [..], "createdAt",
     "archived", "environments": {"prod": State, ...}}
State:
    {"enabled", "rollout", "rules": [Rule], "defaultVariant", "offVariant", "version", "updatedAt", "updatedBy"}
Rule:
    {"id", "attribute", "op", "values": [..], "variant"}
PATCH body:
    {"enabled"?, "rollout"?, "rules"?, "defaultVariant"?, "changeReason", "ticket"?, "origin"?}
Origin (a runbook run that made the change):
    {"runbook"?, "runId"?, "step"?, "tool"?}
Audit entry:
    {"sequence", "at", "actor", "action", "flag", "environment", "reason", "ticket", "idempotencyKey",
     "before", "after", "origin", "prevHash", "hash", "entity", "changeRequest"}
Metric series:
    {"flag", "environment", "step", "hasErrors",
     "points": [{"at", "evaluations": {variant: n}, "errors", "errorsByVariant": {variant: n}}]}
Collections: GET /v1/environments -> {"environments": [{"key", "name", "protected"}]};
    GET /v1/flags?environment=E -> {"environment", "version", "flags": [Flag with only E in "environments"]};
    GET /v1/audit -> {"entries": [Audit entry, newest first]}.
SSE events (`event:` flag.updated | flag.created | flag.archived, `id:` audit sequence), `data:`
    {"flag", "environment", "actor", "reason", "flagState": Flag with that environment's state}

Parsing is strict about types and raises ValueError naming the field; callers turn that into their own
error (a 422 on the server, `Invalid` in the client). A whole flag list (50,000 flags are a 33 MB body) is
parsed by `flagops.v1.flag_list`, one flag at a time and with repeated values shared (see `Sharing`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flagops.model import (
    AuditEntry,
    ChangeEvent,
    ChangeOrigin,
    Environment,
    Flag,
    FlagKind,
    FlagState,
    MetricPoint,
    MetricSeries,
    RiskLevel,
    Rule,
    Stage,
    StateChange,
    Variant,
)

RULE_OPS = frozenset(
    {
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
        "in_segment",  # values: [segmentKey]; attribute unused (flagops.v1.governance)
    }
)


class Sharing:
    """How parsing holds values that repeat from flag to flag. This one keeps each value as parsed; the
    flag list parser (`flagops.v1.flag_list.SharedValues`) gives equal values across a whole list one object."""

    def string(self, value: str) -> str:
        return value

    def opt_string(self, value: str | None) -> str | None:
        return value

    def strings(self, value: tuple[str, ...]) -> tuple[str, ...]:
        return value

    def rules(self, value: tuple[Rule, ...]) -> tuple[Rule, ...]:
        return value

    def variants(self, value: tuple[Variant, ...]) -> tuple[Variant, ...]:
        return value

    def number(self, value: float) -> float:
        return value

    def time(self, value: Any, field: str) -> datetime | None:
        return parse_time(value, field)


AS_PARSED = Sharing()


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any, field: str = "time") -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected an ISO 8601 string")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{field}: not an ISO 8601 time: {value[:40]!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _str(d: dict[str, Any], key: str, default: str | None = None, *, where: str = "") -> str:
    value = d.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{where}{key}: expected a string")
    return value


def _opt_str(d: dict[str, Any], key: str, *, where: str = "") -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}{key}: expected a string or null")
    return value


def _str_list(d: dict[str, Any], key: str, *, where: str = "") -> tuple[str, ...]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}{key}: expected a list of strings")
    return tuple(value)


# --- rules and states -------------------------------------------------------------------------


def rule_to_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "attribute": rule.attribute,
        "op": rule.op,
        "values": list(rule.values),
        "variant": rule.variant,
    }


def rule_from_json(d: Any, where: str = "rules[]", *, share: Sharing = AS_PARSED) -> Rule:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected an object")
    op = _str(d, "op", where=f"{where}.")
    if op not in RULE_OPS:
        raise ValueError(f"{where}.op: unknown operator {op[:40]!r}")
    return Rule(
        id=share.string(_str(d, "id", where=f"{where}.")),
        attribute=share.string(_str(d, "attribute", where=f"{where}.")),
        op=share.string(op),
        values=share.strings(_str_list(d, "values", where=f"{where}.")),
        variant=share.string(_str(d, "variant", where=f"{where}.")),
    )


def state_to_json(state: FlagState) -> dict[str, Any]:
    return {
        "enabled": state.enabled,
        "rollout": state.rollout,
        "rules": [rule_to_json(r) for r in state.rules],
        "defaultVariant": state.default_variant,
        "offVariant": state.off_variant,
        "version": state.version,
        "updatedAt": iso(state.updated_at),
        "updatedBy": state.updated_by,
    }


def state_from_json(environment: str, d: Any, *, share: Sharing = AS_PARSED) -> FlagState:
    where = f"environments.{environment}."
    if not isinstance(d, dict):
        raise ValueError(f"environments.{environment}: expected an object")
    enabled = d.get("enabled")
    rollout = d.get("rollout")
    version = d.get("version")
    if not isinstance(enabled, bool):
        raise ValueError(f"{where}enabled: expected true or false")
    if isinstance(rollout, bool) or not isinstance(rollout, (int, float)):
        raise ValueError(f"{where}rollout: expected a number 0-100")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"{where}version: expected an integer")
    rules = d.get("rules", [])
    if not isinstance(rules, list):
        raise ValueError(f"{where}rules: expected a list")
    parsed_rules = tuple(rule_from_json(r, f"{where}rules[{i}]", share=share) for i, r in enumerate(rules))
    return FlagState(
        environment=share.string(environment),
        enabled=enabled,
        rollout=share.number(float(rollout)),
        rules=share.rules(parsed_rules),
        default_variant=share.string(_str(d, "defaultVariant", "on", where=where)),
        off_variant=share.string(_str(d, "offVariant", "off", where=where)),
        version=version,
        updated_at=share.time(d.get("updatedAt"), f"{where}updatedAt"),
        updated_by=share.opt_string(_opt_str(d, "updatedBy", where=where)),
    )


# --- flags ------------------------------------------------------------------------------------


def flag_to_json(flag: Flag) -> dict[str, Any]:
    return {
        "key": flag.key,
        "name": flag.name,
        "description": flag.description,
        "kind": flag.kind.value,
        "variants": [{"key": v.key, "value": v.value, "description": v.description} for v in flag.variants],
        "tags": list(flag.tags),
        "owner": flag.owner,
        "stage": flag.stage.value,
        "killSwitch": flag.kill_switch,
        "riskLevel": flag.risk_level.value,
        "ticket": flag.ticket,
        "sunsetAt": iso(flag.sunset_at),
        "dashboards": list(flag.dashboards),
        "createdAt": iso(flag.created_at),
        "archived": flag.archived,
        "environments": {env: state_to_json(s) for env, s in flag.states.items()},
    }


def _enum(enum_type: Any, value: Any, field: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise ValueError(f"{field}: expected one of {allowed}") from None


def flag_from_json(d: Any, *, share: Sharing = AS_PARSED) -> Flag:
    """One flag; pass a `Sharing` when parsing many, so their repeated values are held once."""
    if not isinstance(d, dict):
        raise ValueError("flag: expected an object")
    one = share.string
    variants_raw = d.get("variants", [])
    if not isinstance(variants_raw, list):
        raise ValueError("variants: expected a list")
    variants = []
    for i, v in enumerate(variants_raw):
        if not isinstance(v, dict):
            raise ValueError(f"variants[{i}]: expected an object")
        variants.append(
            Variant(
                key=one(_str(v, "key", where=f"variants[{i}].")),
                value=v.get("value"),
                description=one(_str(v, "description", "", where=f"variants[{i}].")),
            )
        )
    envs = d.get("environments", {})
    if not isinstance(envs, dict):
        raise ValueError("environments: expected an object")
    return Flag(
        key=_str(d, "key"),
        name=_str(d, "name", d.get("key")),
        description=_str(d, "description", ""),
        kind=_enum(FlagKind, d.get("kind", "boolean"), "kind"),
        variants=share.variants(tuple(variants)),
        tags=share.strings(_str_list(d, "tags")),
        owner=one(_str(d, "owner", "")),
        stage=_enum(Stage, d.get("stage", "active"), "stage"),
        kill_switch=bool(d.get("killSwitch", False)),
        risk_level=_enum(RiskLevel, d.get("riskLevel", "low"), "riskLevel"),
        ticket=_opt_str(d, "ticket"),
        sunset_at=share.time(d.get("sunsetAt"), "sunsetAt"),
        dashboards=share.strings(_str_list(d, "dashboards")),
        created_at=share.time(d.get("createdAt"), "createdAt"),
        archived=bool(d.get("archived", False)),
        states={one(str(env)): state_from_json(str(env), s, share=share) for env, s in envs.items()},
    )


def environment_from_json(d: Any) -> Environment:
    if not isinstance(d, dict):
        raise ValueError("environment: expected an object")
    return Environment(
        key=_str(d, "key"), name=_str(d, "name", d.get("key")), protected=bool(d.get("protected", False))
    )


# --- writes -----------------------------------------------------------------------------------


def origin_to_json(origin: ChangeOrigin | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    return {"runbook": origin.runbook, "runId": origin.run_id, "step": origin.step, "tool": origin.tool}


def origin_from_json(d: Any) -> ChangeOrigin | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError("origin: expected an object")
    step = d.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise ValueError("origin.step: expected an integer")
    return ChangeOrigin(
        runbook=_opt_str(d, "runbook", where="origin."),
        run_id=_opt_str(d, "runId", where="origin."),
        step=step,
        tool=_str(d, "tool", "flagops", where="origin."),
    )


def patch_body(change: StateChange, reason: str, ticket: str | None, origin: ChangeOrigin | None) -> dict[str, Any]:
    body: dict[str, Any] = {"changeReason": reason}
    if change.enabled is not None:
        body["enabled"] = change.enabled
    if change.rollout is not None:
        body["rollout"] = change.rollout
    if change.rules is not None:
        body["rules"] = [rule_to_json(r) for r in change.rules]
    if change.default_variant is not None:
        body["defaultVariant"] = change.default_variant
    if ticket:
        body["ticket"] = ticket
    if origin is not None:
        body["origin"] = origin_to_json(origin)
    return body


# --- audit, metrics, events -------------------------------------------------------------------


def audit_from_json(d: Any) -> AuditEntry:
    if not isinstance(d, dict):
        raise ValueError("audit entry: expected an object")
    at = parse_time(d.get("at"), "at")
    if at is None:
        raise ValueError("at: missing")
    return AuditEntry(
        sequence=int(d["sequence"]),
        at=at,
        actor=_str(d, "actor", ""),
        action=_str(d, "action", ""),
        flag_key=_opt_str(d, "flag") or "",  # null in a segment's governance event
        environment=_opt_str(d, "environment"),
        reason=_str(d, "reason", ""),
        ticket=_opt_str(d, "ticket"),
        idempotency_key=_opt_str(d, "idempotencyKey"),
        before=d.get("before"),
        after=d.get("after"),
        origin=origin_from_json(d.get("origin")),
        prev_hash=_opt_str(d, "prevHash"),
        hash=_opt_str(d, "hash"),
        entity=_opt_str(d, "entity"),
        change_request=_opt_str(d, "changeRequest"),
    )


def metrics_from_json(d: Any) -> MetricSeries:
    if not isinstance(d, dict):
        raise ValueError("metrics: expected an object")
    points = []
    split = False
    for i, p in enumerate(d.get("points", [])):
        split = split or "errorsByVariant" in p
        at = parse_time(p.get("at"), f"points[{i}].at")
        assert at is not None
        evals = p.get("evaluations", {})
        by_variant = p.get("errorsByVariant") or {}  # absent from services older than per-variant errors
        points.append(
            MetricPoint(
                at=at,
                evaluations={str(k): int(v) for k, v in evals.items()},
                errors=int(p.get("errors", 0)),
                errors_by_variant={str(k): int(v) for k, v in by_variant.items()},
            )
        )
    return MetricSeries(
        flag_key=_str(d, "flag"),
        environment=_str(d, "environment"),
        step_seconds=int(d.get("step", 10)),
        points=tuple(points),
        has_errors=bool(d.get("hasErrors", True)),
        errors_split=split,
    )


def event_from_json(event_id: int, event_type: str, d: Any) -> ChangeEvent:
    if not isinstance(d, dict):
        raise ValueError("event: expected an object")
    flag = d.get("flagState")
    return ChangeEvent(
        id=event_id,
        type=event_type,
        flag_key=_str(d, "flag", ""),
        environment=_opt_str(d, "environment"),
        flag=flag_from_json(flag) if isinstance(flag, dict) else None,
        actor=_opt_str(d, "actor"),
        reason=_opt_str(d, "reason"),
    )
