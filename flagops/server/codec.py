"""Server-side JSON: request-body parsers and the encoders the client never needs.

Shapes follow flagops/v1/wire.py (the contract); this module adds the strict parsing of write bodies, where
an unknown field is an error (a typo such as "rolout" must not become a silent no-op).
Every parser raises ValueError("field: what is wrong"); the app turns that into a 422 naming the field.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from flagops.model import AuditEntry, ChangeOrigin, Flag, FlagKind, FlagState, Rule, StateChange, Variant
from flagops.server.limits import utc_time
from flagops.v1 import wire

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
MAX_REASON = 1000
MAX_TICKET = 200
# text caps of a new flag (characters). The name cap leaves room for the console's long-name test data;
# what they bound is storage and every list response, which carries name and description of every flag.
MAX_NAME = 5000
MAX_DESCRIPTION = 10000
MAX_OWNER = 200
MAX_LIST = 100  # tags, dashboards, variants
MAX_ITEM = 2000  # one tag, dashboard URL, variant key or description

PATCH_FIELDS = {"enabled", "rollout", "rules", "defaultVariant", "changeReason", "ticket", "origin"}
RESTORE_FIELDS = {"toVersion", "changeReason", "ticket", "origin"}
ARCHIVE_FIELDS = {"changeReason", "ticket", "origin"}
CREATE_FIELDS = {
    "key",
    "name",
    "description",
    "kind",
    "variants",
    "tags",
    "owner",
    "stage",
    "killSwitch",
    "riskLevel",
    "ticket",
    "sunsetAt",
    "dashboards",
    "environments",
    "changeReason",
    "origin",
}
CREATE_STATE_FIELDS = {"enabled", "rollout", "rules", "defaultVariant", "offVariant"}


def flag_json(flag: Flag, environment: str | None = None) -> dict[str, Any]:
    """The wire Flag; with `environment`, only that environment's state (as the list endpoint serves it)."""
    if environment is not None:
        state = flag.states.get(environment)
        flag = replace(flag, states={environment: state} if state is not None else {})
    return wire.flag_to_json(flag)


def _visible_states(value: Any, visible: frozenset[str] | None) -> Any:
    if visible is None or not isinstance(value, dict) or not isinstance(value.get("environments"), dict):
        return value
    return dict(value, environments={k: v for k, v in value["environments"].items() if k in visible})


def audit_to_json(entry: AuditEntry, visible: frozenset[str] | None = None) -> dict[str, Any]:
    """An audit entry for the wire. With `visible` (a token's environments), a flag-wide entry (created,
    archived: its before/after hold a whole flag) keeps only those environments' states; `hash` is still
    the stored one, so only an every-environment token can re-check it (GET /v1/audit/verify). Entries come
    from audit.row_to_entry, which already cut stored values too deep to serve."""
    before, after = _visible_states(entry.before, visible), _visible_states(entry.after, visible)
    return {
        "sequence": entry.sequence,
        "at": wire.iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "flag": entry.flag_key,
        "environment": entry.environment,
        "reason": entry.reason,
        "ticket": entry.ticket,
        "idempotencyKey": entry.idempotency_key,
        "before": before,
        "after": after,
        "origin": wire.origin_to_json(entry.origin),
        "prevHash": entry.prev_hash,
        "hash": entry.hash,
        "entity": entry.entity or f"flag:{entry.flag_key}",
        "changeRequest": entry.change_request,
    }


def _create_types(d: dict[str, Any]) -> None:
    """Types and sizes of a new flag's metadata, checked before wire.flag_from_json (which, as the shared
    client-side parser, is lenient: it would store `"killSwitch": "false"` as true)."""
    if "killSwitch" in d and not isinstance(d["killSwitch"], bool):
        raise ValueError("killSwitch: expected true or false")
    for name, cap in (
        ("name", MAX_NAME),
        ("description", MAX_DESCRIPTION),
        ("owner", MAX_OWNER),
        ("ticket", MAX_TICKET),
    ):
        value = d.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string")
        if len(value) > cap:
            raise ValueError(f"{name}: longer than {cap} characters")
    for name in ("tags", "dashboards", "variants"):
        value = d.get(name)
        if isinstance(value, list) and len(value) > MAX_LIST:
            raise ValueError(f"{name}: at most {MAX_LIST} entries")
    for name in ("tags", "dashboards"):
        for i, item in enumerate(d.get(name) or []):
            if isinstance(item, str) and len(item) > MAX_ITEM:
                raise ValueError(f"{name}[{i}]: longer than {MAX_ITEM} characters")
    variants = d.get("variants")
    for i, v in enumerate(variants if isinstance(variants, list) else []):
        for part in ("key", "description"):
            text = v.get(part) if isinstance(v, dict) else None
            if isinstance(text, str) and len(text) > MAX_ITEM:
                raise ValueError(f"variants[{i}].{part}: longer than {MAX_ITEM} characters")
    utc_time(d.get("sunsetAt"), "sunsetAt")


def _object(d: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ValueError(f"body: expected a JSON object ({what})")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field; allowed: {', '.join(sorted(allowed))}")
    return d


def _reason(d: dict[str, Any]) -> tuple[str, str | None, ChangeOrigin | None]:
    reason = d.get("changeReason")
    if reason is None:
        raise ValueError("changeReason: required on every write (why is this change being made?)")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("changeReason: expected a non-empty string")
    if len(reason) > MAX_REASON:
        raise ValueError(f"changeReason: longer than {MAX_REASON} characters")
    ticket = d.get("ticket")
    if ticket is not None and (not isinstance(ticket, str) or len(ticket) > MAX_TICKET):
        raise ValueError(f"ticket: expected a string of at most {MAX_TICKET} characters, or null")
    return reason.strip(), (ticket or None), wire.origin_from_json(d.get("origin"))


def _rollout(value: Any, field: str = "rollout") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValueError(f"{field}: expected a number from 0 to 100")
    return float(value)


def _rules(value: Any, variants: set[str], field: str = "rules") -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{field}: expected a list")
    rules = tuple(wire.rule_from_json(r, f"{field}[{i}]") for i, r in enumerate(value))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{field}: rule ids must be unique")
    for i, r in enumerate(rules):
        if r.variant not in variants:
            raise ValueError(f"{field}[{i}].variant: {r.variant[:40]!r} is not a variant of this flag")
    return rules


def parse_patch(d: Any, flag: Flag) -> tuple[StateChange, str, str | None, ChangeOrigin | None]:
    d = _object(d, PATCH_FIELDS, "a PATCH body")
    variants = {v.key for v in flag.variants}
    enabled = d.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ValueError("enabled: expected true or false")
    rollout = _rollout(d["rollout"]) if d.get("rollout") is not None else None
    rules = _rules(d["rules"], variants) if d.get("rules") is not None else None
    default_variant = d.get("defaultVariant")
    if default_variant is not None and (not isinstance(default_variant, str) or default_variant not in variants):
        raise ValueError(f"defaultVariant: expected one of {', '.join(sorted(variants))}")
    change = StateChange(enabled=enabled, rollout=rollout, rules=rules, default_variant=default_variant)
    reason, ticket, origin = _reason(d)
    if change.is_empty():
        raise ValueError("body: nothing to change; send enabled, rollout, rules or defaultVariant")
    return change, reason, ticket, origin


def parse_restore(d: Any) -> tuple[int, str, str | None, ChangeOrigin | None]:
    d = _object(d, RESTORE_FIELDS, "a restore body")
    to_version = d.get("toVersion")
    if isinstance(to_version, bool) or not isinstance(to_version, int) or not 1 <= to_version < 2**63:
        raise ValueError("toVersion: expected a positive integer (an earlier version of this state)")
    reason, ticket, origin = _reason(d)
    return to_version, reason, ticket, origin


def parse_archive(d: Any) -> tuple[str, str | None, ChangeOrigin | None]:
    return _reason(_object(d, ARCHIVE_FIELDS, "a DELETE body"))


def parse_create(d: Any, environments: list[str], now: datetime) -> tuple[Flag, str, str | None, ChangeOrigin | None]:
    d = _object(d, CREATE_FIELDS, "a new flag")
    key = d.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ValueError("key: expected 1-100 characters: lower-case letters, digits, '.', '_' or '-'")
    reason, ticket_unused, origin = _reason({"changeReason": d.get("changeReason")})
    del ticket_unused  # on create, `ticket` is the flag's own ticket field
    envs = d.get("environments", {})
    if not isinstance(envs, dict):
        raise ValueError("environments: expected an object keyed by environment")
    for env in envs:
        if env not in environments:
            raise ValueError(f"environments.{str(env)[:40]}: unknown environment; known: {', '.join(environments)}")
    _create_types(d)
    meta = {k: v for k, v in d.items() if k not in ("environments", "changeReason", "origin")}
    meta["createdAt"] = wire.iso(now)
    meta["archived"] = False
    base = wire.flag_from_json(meta)
    variants = base.variants
    if not variants:
        if base.kind is not FlagKind.BOOLEAN:
            raise ValueError("variants: required for multivariate and json flags")
        variants = (Variant("on", True), Variant("off", False))
    keys = [v.key for v in variants]
    if len(set(keys)) != len(keys) or not all(keys):
        raise ValueError("variants: keys must be unique and non-empty")
    states = {}
    for env in environments:
        raw = envs.get(env, {})
        raw = _object(raw, CREATE_STATE_FIELDS, f"environments.{env}")
        where = f"environments.{env}."
        enabled = raw.get("enabled", False)
        if not isinstance(enabled, bool):
            raise ValueError(f"{where}enabled: expected true or false")
        default_variant = raw.get("defaultVariant", keys[0])
        off_variant = raw.get("offVariant", keys[-1])
        for name, value in (("defaultVariant", default_variant), ("offVariant", off_variant)):
            if value not in keys:
                raise ValueError(f"{where}{name}: expected one of {', '.join(keys)}")
        states[env] = FlagState(
            environment=env,
            enabled=enabled,
            rollout=_rollout(raw.get("rollout", 100), f"{where}rollout"),
            rules=_rules(raw.get("rules", []), set(keys), f"{where}rules"),
            default_variant=default_variant,
            off_variant=off_variant,
            version=1,
            updated_at=now,
        )
    flag = replace(base, variants=variants, states=states)
    return flag, reason, base.ticket, origin
