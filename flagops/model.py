"""The domain model: plain typed dataclasses, no I/O, no Textual.

Everything above the backend port (ops, search, CLI, TUI, runbooks) speaks these types; each adapter
translates its platform's data into them. `flagops.v1.wire` converts them to and from the v1 Flag API's JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

JSON = Any  # a value that came from / goes to JSON; kept opaque on purpose


class Stage(str, Enum):
    PLANNED = "planned"
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class FlagKind(str, Enum):
    BOOLEAN = "boolean"
    MULTIVARIATE = "multivariate"
    JSON = "json"


class RiskLevel(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Environment:
    key: str
    name: str
    protected: bool = False


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    value: JSON = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """A targeting rule: when `attribute <op> values` holds for the context, serve `variant`.

    Operators: in, not_in, eq, neq, starts_with, ends_with, contains, gt, gte, lt, lte,
    semver_gte, semver_lt. Rules are evaluated in order before percentage bucketing.
    """

    id: str
    attribute: str
    op: str
    values: tuple[str, ...]
    variant: str


@dataclass(frozen=True, slots=True)
class FlagState:
    """One flag's state in one environment. `version` is the optimistic-concurrency token (If-Match)."""

    environment: str
    enabled: bool
    rollout: float  # 0..100: share of contexts (after rules) that get default_variant
    default_variant: str
    off_variant: str
    version: int
    rules: tuple[Rule, ...] = ()
    updated_at: datetime | None = None
    updated_by: str | None = None

    def with_changes(self, change: StateChange) -> FlagState:
        """The state `change` would produce (version and timestamps are the server's business)."""
        return replace(
            self,
            enabled=self.enabled if change.enabled is None else change.enabled,
            rollout=self.rollout if change.rollout is None else change.rollout,
            rules=self.rules if change.rules is None else change.rules,
            default_variant=(self.default_variant if change.default_variant is None else change.default_variant),
        )

    @property
    def effective_rollout(self) -> float:
        """What share of traffic actually gets the flag: 0 when it is off."""
        return self.rollout if self.enabled else 0.0


@dataclass(frozen=True, slots=True)
class Flag:
    key: str
    name: str
    description: str = ""
    kind: FlagKind = FlagKind.BOOLEAN
    variants: tuple[Variant, ...] = ()
    tags: tuple[str, ...] = ()
    owner: str = ""
    stage: Stage = Stage.ACTIVE
    kill_switch: bool = False
    risk_level: RiskLevel = RiskLevel.LOW
    ticket: str | None = None
    sunset_at: datetime | None = None
    dashboards: tuple[str, ...] = ()
    created_at: datetime | None = None
    archived: bool = False
    project: str | None = None  # platforms with projects (Unleash) fill this in
    states: dict[str, FlagState] = field(default_factory=dict)  # environment key -> state

    def state(self, environment: str) -> FlagState | None:
        return self.states.get(environment)

    def is_stale(self, now: datetime) -> bool:
        """A zombie flag: past its sunset date, or deprecated/retired but still around."""
        if self.sunset_at is not None and self.sunset_at <= now:
            return True
        return self.stage in (Stage.DEPRECATED, Stage.RETIRED)


@dataclass(frozen=True, slots=True)
class StateChange:
    """The fields of a PATCH; None means "leave as is"."""

    enabled: bool | None = None
    rollout: float | None = None
    rules: tuple[Rule, ...] | None = None
    default_variant: str | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.enabled, self.rollout, self.rules, self.default_variant))


@dataclass(frozen=True, slots=True)
class ChangeOrigin:
    """Where a change came from when not typed by hand: a runbook run and step."""

    runbook: str | None = None
    run_id: str | None = None
    step: int | None = None
    tool: str = "flagops"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    sequence: int
    at: datetime
    actor: str
    action: str  # flag.created | flag.updated | flag.restored | flag.archived
    flag_key: str
    environment: str | None
    reason: str
    ticket: str | None = None
    idempotency_key: str | None = None
    before: JSON = None  # state snapshot (wire JSON) before the change
    after: JSON = None
    origin: ChangeOrigin | None = None
    prev_hash: str | None = None
    hash: str | None = None
    entity: str | None = None  # "flag:KEY" | "segment:KEY" | "change-request:ID" | "review:ID"; None: flag:KEY
    change_request: str | None = None  # the change request this row belongs to (its steps, and its apply)


@dataclass(frozen=True, slots=True)
class AuditVerification:
    ok: bool
    checked: int
    broken_at: int | None = None  # sequence of the first row that does not verify
    problem: str | None = None  # what is wrong there (changed, deleted, reordered)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One step of a series. Counts are floats: a Prometheus source derives them from rates."""

    at: datetime
    evaluations: Mapping[str, float]  # variant -> count in this step
    errors: float  # every error in this step, attributed to a variant or not
    errors_by_variant: Mapping[str, float] = field(default_factory=dict)  # empty where the source cannot split

    @property
    def total(self) -> float:
        return sum(self.evaluations.values())


@dataclass(frozen=True, slots=True)
class MetricSeries:
    flag_key: str
    environment: str
    step_seconds: int
    points: tuple[MetricPoint, ...]
    has_errors: bool = True  # False where the platform has no error source (Unleash OSS)
    note: str | None = None  # what the source wants said about this series (no data, NaN samples dropped)
    errors_split: bool = False  # the source attributes errors to variants (a variant without any had 0)

    @property
    def evaluations(self) -> float:
        return sum(p.total for p in self.points)

    @property
    def errors(self) -> float:
        return sum(p.errors for p in self.points)

    @property
    def error_rate(self) -> float | None:
        """errors / evaluations over the whole series; None when unknown or no traffic."""
        if not self.has_errors:
            return None
        total = self.evaluations
        return self.errors / total if total else 0.0

    @property
    def split_by_variant(self) -> bool:
        """Whether errors are attributed to variants (so treatment and control can be compared)."""
        return self.has_errors and (self.errors_split or any(p.errors_by_variant for p in self.points))

    def evaluations_per_minute(self) -> float:
        span = len(self.points) * self.step_seconds
        return self.evaluations * 60.0 / span if span else 0.0


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One event from the live stream (SSE `flag.updated`, `flag.created`, `flag.archived`)."""

    id: int  # the audit sequence; resume point
    type: str
    flag_key: str
    environment: str | None
    flag: Flag | None = None  # the new state when the stream carries it
    actor: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    flag_key: str
    context: dict[str, JSON]
    default_value: JSON = None


@dataclass(frozen=True, slots=True)
class Decision:
    flag_key: str
    variant: str | None
    value: JSON
    reason: str  # "rule", "rollout", "off", "fallthrough", "default", "error"
    rule_id: str | None = None
    error: str | None = None
    segment: str | None = None  # the segment key when an in_segment rule decided


@dataclass(frozen=True, slots=True)
class BackendCapabilities:
    """What a backend can promise, so faces can say plainly what is not there."""

    error_metrics: bool = True  # an error-rate source exists
    change_reasons: bool = True  # the platform itself stores the reason
    if_match: bool = True  # the platform rejects stale writes atomically
    stream: bool = True  # push updates (else: polling)
    evaluate: bool = True
    restore_versions: bool = True  # restore to an arbitrary earlier version
    approvals: bool = False  # change requests, four-eyes approval and break-glass reviews (flagops.governance)
    segments: bool = False  # saved segments that flag rules reference
