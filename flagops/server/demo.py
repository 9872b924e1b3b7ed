"""Demo data: about 300 realistic flags across 10 teams and dev/staging/prod, generated from a seed.

The incident flag is `checkout-new-flow`: on in prod at 1% when the demo starts; the traffic simulator's
"deploy-bot" then ramps it (2, 5, 10, 25, 50%) and its error rate climbs with the rollout.

Governance in the demo: prod needs one approval for high and critical flags (policy.DEMO_POLICY). The incident
flag is high risk and a kill switch, so killing it is break-glass (applied at once, review opened); the
deploy-bot is the documented exception: it is the service's own simulator of an approved deploy pipeline and
writes through the store, not through the HTTP write path the policy guards.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from flagops.governance import Segment, SegmentCondition
from flagops.model import Flag, FlagKind, FlagState, RiskLevel, Rule, Stage, Variant

INCIDENT_FLAG = "checkout-new-flow"
ENVIRONMENTS = ("dev", "staging", "prod")

TEAMS: dict[str, tuple[str, list[str]]] = {
    "payments": (
        "PAY",
        [
            "3ds-challenge",
            "apple-pay",
            "retry-declined",
            "refund-automation",
            "sepa-debit",
            "klarna-checkout",
            "fraud-score-v2",
            "split-tender",
            "wallet-topup",
            "invoice-pdf",
        ],
    ),
    "checkout": (
        "CHK",
        [
            "express-checkout",
            "address-autocomplete",
            "guest-checkout",
            "cart-recovery",
            "one-click-reorder",
            "coupon-stacking",
            "order-summary-redesign",
            "tax-estimate",
            "delivery-slots",
            "gift-wrap",
        ],
    ),
    "search": (
        "SRCH",
        [
            "semantic-ranking",
            "typo-tolerance",
            "facet-counts",
            "query-suggestions",
            "vector-index",
            "synonyms-v3",
            "personalized-boost",
            "zero-results-fallback",
            "search-cache",
            "autocomplete-images",
        ],
    ),
    "growth": (
        "GRW",
        [
            "referral-bonus",
            "onboarding-checklist",
            "welcome-email-v2",
            "trial-extension",
            "exit-intent-offer",
            "social-login-prompt",
            "streak-rewards",
            "pricing-page-test",
            "signup-captcha",
            "nps-survey",
        ],
    ),
    "identity": (
        "IAM",
        [
            "passkeys",
            "mfa-enforcement",
            "session-rotation",
            "sso-okta",
            "password-breach-check",
            "login-rate-limit",
            "device-trust",
            "magic-link",
            "scim-provisioning",
            "jwt-rs256",
        ],
    ),
    "platform": (
        "PLAT",
        [
            "grpc-gateway",
            "db-read-replicas",
            "cache-warmup",
            "circuit-breaker-v2",
            "kafka-batching",
            "tls13-only",
            "region-failover",
            "log-sampling",
            "http3",
            "connection-pooling",
        ],
    ),
    "mobile": (
        "MOB",
        [
            "dark-mode",
            "offline-cart",
            "push-deeplinks",
            "biometric-login",
            "in-app-review",
            "tablet-layout",
            "image-prefetch",
            "haptics",
            "widget-orders",
            "app-rating-prompt",
        ],
    ),
    "notifications": (
        "NTF",
        [
            "digest-emails",
            "sms-fallback",
            "quiet-hours",
            "webpush",
            "order-status-push",
            "template-engine-v2",
            "unsubscribe-one-click",
            "slack-alerts",
            "batch-sender",
            "locale-templates",
        ],
    ),
    "pricing": (
        "PRC",
        [
            "dynamic-discounts",
            "regional-pricing",
            "bundle-offers",
            "price-rounding",
            "currency-conversion-v2",
            "subscription-annual",
            "price-anchoring",
            "tiered-shipping",
            "member-prices",
            "flash-sales",
        ],
    ),
    "data": (
        "DATA",
        [
            "event-schema-v4",
            "clickstream-sampling",
            "warehouse-sync",
            "gdpr-export",
            "pii-redaction",
            "realtime-dashboards",
            "attribution-model",
            "ab-analysis-v2",
            "consent-mode",
            "etl-parallel",
        ],
    ),
}
SUFFIXES = ("", "-v2", "-beta", "-eu", "-rollout", "-experiment", "-killswitch")
EXTRA_TAGS = ("ui", "backend", "experiment", "ops", "migration", "performance", "web", "api", "compliance")


def _state(
    env: str, enabled: bool, rollout: float, default: str, off: str, rules: tuple[Rule, ...], at: datetime
) -> FlagState:
    return FlagState(
        environment=env,
        enabled=enabled,
        rollout=rollout,
        default_variant=default,
        off_variant=off,
        version=1,
        rules=rules,
        updated_at=at,
    )


def _flag(rng: random.Random, team: str, prefix: str, key: str, now: datetime) -> Flag:
    kill = key.endswith("-killswitch") or rng.random() < 0.06
    variants: tuple[Variant, ...]
    roll = rng.random()
    if roll < 0.8 or kill:
        kind, variants = FlagKind.BOOLEAN, (Variant("on", True), Variant("off", False))
    elif roll < 0.95:
        kind = FlagKind.MULTIVARIATE
        variants = (Variant("treatment-a", "a"), Variant("treatment-b", "b"), Variant("control", "control"))
    else:
        kind = FlagKind.JSON
        variants = (
            Variant("config-new", {"timeoutMs": 800, "retries": 2}),
            Variant("config-old", {"timeoutMs": 2000, "retries": 0}),
        )
    default, off = variants[0].key, variants[-1].key
    stage = rng.choices(list(Stage), weights=(8, 65, 17, 10))[0]
    created = now - timedelta(days=rng.randint(3, 700), minutes=rng.randint(0, 1440))
    sunset = None
    if stage in (Stage.DEPRECATED, Stage.RETIRED) or rng.random() < 0.3:
        sunset = now + timedelta(days=rng.randint(-200, 180))  # negative: a zombie flag past its sunset
    rules: tuple[Rule, ...] = ()
    if rng.random() < 0.25:
        rules = (
            rng.choice(
                [
                    Rule("internal-staff", "email", "ends_with", ("@example.com",), default),
                    Rule("enterprise", "", "in_segment", ("enterprise_accounts",), default),
                    Rule("eu-only", "", "in_segment", ("eu_users",), default),
                    Rule("new-app", "appVersion", "semver_gte", ("2.4.0",), default),
                ]
            ),
        )
    if stage is Stage.PLANNED:
        prod_on, prod_rollout = False, 0.0
    elif stage is Stage.RETIRED:
        prod_on, prod_rollout = rng.random() < 0.5, 100.0
    else:
        prod_on = kill or rng.random() < 0.8
        prod_rollout = rng.choice((1, 5, 10, 25, 50, 100, 100, 100, 100))
    at = created + timedelta(days=1)
    states = {
        "dev": _state("dev", stage is not Stage.RETIRED, 100.0, default, off, rules, at),
        "staging": _state(
            "staging",
            stage is not Stage.PLANNED or rng.random() < 0.5,
            rng.choice((50.0, 100.0, 100.0)),
            default,
            off,
            rules,
            at,
        ),
        "prod": _state("prod", prod_on, float(prod_rollout), default, off, rules, at),
    }
    noun = key.removeprefix(team + "-")
    tags = sorted({team, *rng.sample(EXTRA_TAGS, rng.randint(1, 2)), *(["kill-switch"] if kill else [])})
    return Flag(
        key=key,
        name=noun.replace("-", " ").capitalize(),
        description=f"{team.capitalize()}: {noun.replace('-', ' ')}" + (" (kill switch)" if kill else ""),
        kind=kind,
        variants=variants,
        tags=tuple(tags),
        owner=team,
        stage=stage,
        kill_switch=kill,
        risk_level=rng.choices(list(RiskLevel), weights=(40, 35, 18, 7))[0],
        ticket=f"{prefix}-{rng.randint(100, 9999)}",
        sunset_at=sunset,
        dashboards=(f"https://grafana.example.com/d/{team}/{key}",),
        created_at=created,
        states=states,
    )


def incident_flag(now: datetime) -> Flag:
    at = now - timedelta(minutes=20)
    variants = (Variant("on", True, "new single-page flow"), Variant("off", False, "legacy flow"))
    return Flag(
        key=INCIDENT_FLAG,
        name="Checkout: new payment flow",
        description="The new single-page checkout flow, ramped by the deploy pipeline. Demo incident: its error "
        "rate in prod climbs with its rollout.",
        kind=FlagKind.BOOLEAN,
        variants=variants,
        tags=("checkout", "payments", "web", "kill-switch"),
        owner="checkout",
        stage=Stage.ACTIVE,
        kill_switch=True,
        risk_level=RiskLevel.HIGH,
        ticket="CHK-4821",
        sunset_at=now + timedelta(days=60),
        dashboards=("https://grafana.example.com/d/checkout/checkout-new-flow",),
        created_at=now - timedelta(days=9),
        states={
            "dev": _state("dev", True, 100.0, "on", "off", (), at),
            "staging": _state("staging", True, 100.0, "on", "off", (), at),
            "prod": _state("prod", True, 1.0, "on", "off", (), at),
        },
    )


def demo_flags(seed: int = 7, count: int = 300, now: datetime | None = None) -> list[Flag]:
    now = now or datetime.now(UTC)
    rng = random.Random(seed)  # noqa: S311 - the same demo data for the same seed, not a secret
    combos = [
        (team, prefix, f"{team}-{noun}{suffix}")
        for team, (prefix, nouns) in TEAMS.items()
        for noun in nouns
        for suffix in SUFFIXES
    ]
    rng.shuffle(combos)
    flags = [incident_flag(now)]
    seen = {INCIDENT_FLAG}
    for team, prefix, key in combos:
        if len(flags) >= count:
            break
        if key not in seen:
            seen.add(key)
            flags.append(_flag(rng, team, prefix, key, now))
    return sorted(flags, key=lambda f: f.key)


# referenced by demo flags' rules (`in_segment`); seeded with the flags
DEMO_SEGMENTS = (
    Segment(
        "beta_testers",
        "Beta testers",
        "Staff and opted-in customers who get features first",
        (SegmentCondition("betaTester", "eq", ("true",)),),
        1,
    ),
    Segment(
        "enterprise_accounts",
        "Enterprise accounts",
        "Accounts on the enterprise plan",
        (SegmentCondition("plan", "in", ("enterprise",)),),
        1,
    ),
    Segment("eu_users", "EU users", "Users served from the EU region", (SegmentCondition("region", "in", ("EU",)),), 1),
)
