"""Unleash feature-environments as flagops states, and their history rebuilt from the event log. No I/O.

How an Unleash environment maps onto a `FlagState`:
- `enabled` is the environment toggle.
- `rollout` is what the unconstrained ("plain") strategies give everyone: a plain `default` strategy or an
  enabled environment without strategies means 100; otherwise the largest plain `flexibleRollout` percentage;
  with only targeted strategies, 0.
- Strategies with constraints, segments or other strategy types are shown as `rules` (read-only).
- `version` is the id of the newest Unleash event that changed this feature in this environment (toggles and
  strategy add/update/remove), 0 when there is none. Event ids only grow, so a changed version means a change.

History runs backwards from the current state: each event's `preData` (the strategy before an update or a
removal) undoes it, so the state before every change is known even when older events are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flagops.model import Flag, FlagKind, FlagState, Rule, Stage
from flagops.v1.wire import parse_time

PLAIN_STRATEGIES = ("default", "flexibleRollout")
OPERATORS = {
    "IN": "in",
    "NOT_IN": "not_in",
    "STR_CONTAINS": "contains",
    "STR_STARTS_WITH": "starts_with",
    "STR_ENDS_WITH": "ends_with",
    "NUM_EQ": "eq",
    "NUM_GT": "gt",
    "NUM_GTE": "gte",
    "NUM_LT": "lt",
    "NUM_LTE": "lte",
    "SEMVER_GT": "semver_gt",
    "SEMVER_LT": "semver_lt",
    "SEMVER_EQ": "semver_eq",
    "DATE_AFTER": "date_after",
    "DATE_BEFORE": "date_before",
}
STRATEGY_FIELDS = ("name", "title", "disabled", "parameters", "constraints", "segments", "variants")


def normalize_constraint(raw: Any) -> dict[str, Any]:
    c = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {
        "contextName": str(c.get("contextName", "")),
        "operator": str(c.get("operator", "")),
        "values": [str(v) for v in c.get("values") or []],
    }
    if c.get("value") is not None:
        out["value"] = str(c["value"])
    for flag in ("inverted", "caseInsensitive"):  # some endpoints omit them when false: only keep a true one
        if c.get(flag):
            out[flag] = True
    return out


def normalize_strategy(raw: Any) -> dict[str, Any]:
    """The fields that define a strategy's behaviour, in one shape whatever endpoint it came from."""
    s = raw if isinstance(raw, dict) else {}
    segments = s.get("segments") or []
    return {
        "id": str(s.get("id", "")),
        "name": str(s.get("name", "")),
        "title": s.get("title") or None,
        "disabled": bool(s.get("disabled") or False),
        "parameters": {str(k): str(v) for k, v in (s.get("parameters") or {}).items()},
        "constraints": [normalize_constraint(c) for c in s.get("constraints") or []],
        "segments": sorted(int(x["id"] if isinstance(x, dict) else x) for x in segments),
        "variants": list(s.get("variants") or []),
        "sortOrder": int(s.get("sortOrder") or 0),
    }


def same_strategy(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(f) == b.get(f) for f in STRATEGY_FIELDS)


def is_plain(s: dict[str, Any]) -> bool:
    return s["name"] in PLAIN_STRATEGIES and not s["constraints"] and not s["segments"] and not s["disabled"]


def percent(s: dict[str, Any]) -> float:
    if s["name"] == "default":
        return 100.0
    try:
        return max(0.0, min(100.0, float(s["parameters"].get("rollout", "100"))))
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class EnvState:
    enabled: bool
    strategies: tuple[dict[str, Any], ...] = ()
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None

    def with_strategies(self, strategies: list[dict[str, Any]]) -> EnvState:
        ordered = sorted(strategies, key=lambda s: (s["sortOrder"], s["id"]))
        return replace(self, strategies=tuple(ordered))

    def strategy(self, strategy_id: str) -> dict[str, Any] | None:
        return next((s for s in self.strategies if s["id"] == strategy_id), None)

    def same_behaviour(self, other: EnvState) -> bool:
        if self.enabled != other.enabled or len(self.strategies) != len(other.strategies):
            return False
        return all(same_strategy(a, b) for a, b in zip(self.strategies, other.strategies, strict=True))

    @property
    def rollout(self) -> float:
        active = [s for s in self.strategies if not s["disabled"]]
        if not active:
            return 100.0  # an enabled environment without strategies is on for everyone
        plain = [percent(s) for s in active if is_plain(s)]
        return max(plain) if plain else 0.0

    @property
    def rules(self) -> tuple[Rule, ...]:
        rules: list[Rule] = []
        for s in self.strategies:
            if s["disabled"] or is_plain(s):
                continue
            variant = "on"
            for i, c in enumerate(s["constraints"]):
                op = OPERATORS.get(c["operator"], c["operator"].lower())
                values = tuple(c["values"]) or ((c["value"],) if "value" in c else ())
                rules.append(
                    Rule(f"{s['id']}:{i}", c["contextName"], f"not {op}" if c.get("inverted") else op, values, variant)
                )
            for seg in s["segments"]:
                rules.append(Rule(f"{s['id']}:segment:{seg}", "segment", "in", (str(seg),), variant))
            if not s["constraints"] and not s["segments"]:  # a targeting strategy type (userWithId, ...)
                params = tuple(f"{k}={v}" for k, v in sorted(s["parameters"].items()))
                rules.append(Rule(s["id"], f"strategy:{s['name']}", "eq", params, variant))
        return tuple(rules)

    def flag_state(self, environment: str) -> FlagState:
        return FlagState(
            environment=environment,
            enabled=self.enabled,
            rollout=self.rollout,
            default_variant="on",
            off_variant="off",
            version=self.version,
            rules=self.rules,
            updated_at=self.updated_at,
            updated_by=self.updated_by,
        )


def env_state(enabled: bool, strategies: list[Any], version: int = 0, event: dict[str, Any] | None = None) -> EnvState:
    state = EnvState(enabled=enabled, version=version)
    if event is not None:
        state = replace(state, updated_at=parse_time(event.get("createdAt")), updated_by=event.get("createdBy"))
    return state.with_strategies([normalize_strategy(s) for s in strategies])


def undo(after: EnvState, event: dict[str, Any]) -> EnvState:
    """The state before `event`, given the state after it (Unleash's preData is the strategy before)."""
    kind = event.get("type")
    strategies = list(after.strategies)
    if kind == "feature-environment-enabled":
        return replace(after, enabled=False)
    if kind == "feature-environment-disabled":
        return replace(after, enabled=True)
    if kind == "feature-strategy-add":
        added = normalize_strategy(event.get("data"))
        return after.with_strategies([s for s in strategies if s["id"] != added["id"]])
    if kind == "feature-strategy-update":
        previous = normalize_strategy(event.get("preData"))
        return after.with_strategies([s for s in strategies if s["id"] != previous["id"]] + [previous])
    if kind == "feature-strategy-remove":
        removed = normalize_strategy(event.get("preData"))
        return after.with_strategies([s for s in strategies if s["id"] != removed["id"]] + [removed])
    return after


@dataclass(frozen=True)
class Step:
    """One change in one environment: the Unleash events of one transaction (groupId), oldest first."""

    events: tuple[dict[str, Any], ...]
    before: EnvState
    after: EnvState

    @property
    def version(self) -> int:
        return max(int(e["id"]) for e in self.events)

    @property
    def event_ids(self) -> tuple[int, ...]:
        return tuple(int(e["id"]) for e in self.events)


def _group(events_desc: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: list[list[dict[str, Any]]] = []
    for event in events_desc:
        gid = event.get("groupId")
        if groups and gid is not None and groups[-1][0].get("groupId") == gid:
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def history(current: EnvState, events_desc: list[dict[str, Any]]) -> list[Step]:
    """The changes that led to `current`, newest first; `events_desc` are this environment's state events."""
    steps: list[Step] = []
    after = current
    groups = _group(events_desc)
    for index, group in enumerate(groups):
        before = after
        for event in group:  # newest first within the group too
            before = undo(before, event)
        last = group[0]
        older = groups[index + 1][0] if index + 1 < len(groups) else None
        after_state = replace(
            after,
            version=max(int(e["id"]) for e in group),
            updated_at=parse_time(last.get("createdAt")),
            updated_by=last.get("createdBy"),
        )
        before_state = replace(
            before,
            version=int(older["id"]) if older else 0,
            updated_at=parse_time(older.get("createdAt")) if older else None,
            updated_by=older.get("createdBy") if older else None,
        )
        steps.append(Step(tuple(reversed(group)), before_state, after_state))
        after = before_state
    return steps


def flag_from_feature(feature: dict[str, Any], states: dict[str, FlagState]) -> Flag:
    """A flag from a feature-search row (or a feature document) plus the states already built."""
    tags = tuple(
        f"{t.get('type', 'simple')}:{t.get('value', '')}"
        if t.get("type") not in (None, "simple")
        else str(t.get("value", ""))
        for t in feature.get("tags") or []
        if isinstance(t, dict)
    )
    creator = feature.get("createdBy")
    variants = feature.get("variants") or []
    return Flag(
        key=str(feature["name"]),
        name=str(feature["name"]),
        description=str(feature.get("description") or ""),
        kind=FlagKind.MULTIVARIATE if variants else FlagKind.BOOLEAN,
        tags=tags,
        owner=str(creator.get("name") or "") if isinstance(creator, dict) else "",
        stage=Stage.DEPRECATED if feature.get("stale") else Stage.ACTIVE,
        kill_switch=feature.get("type") == "kill-switch",
        created_at=parse_time(feature.get("createdAt")),
        archived=bool(feature.get("archived") or feature.get("archivedAt")),
        project=str(feature.get("project") or feature.get("projectId") or "") or None,
        states=states,
    )
