"""The v1 governance JSON: every shape survives a round trip; malformed input names the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
from flagops.model import RiskLevel, Rule, StateChange
from flagops.v1 import governance as g

AT = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def test_policy_round_trip() -> None:
    policy = ApprovalPolicy(rules=(ApprovalRule("prod", (RiskLevel.HIGH, RiskLevel.CRITICAL), 2, "flags:approve", 60),))
    assert g.policy_from_json(g.policy_to_json(policy)) == policy


def test_change_request_round_trip() -> None:
    rule = Rule("r1", "", "in_segment", ("beta_testers",), "on")
    cr = ChangeRequest(
        id="cr-1",
        flag_key="checkout",
        environment="prod",
        base_version=3,
        change=StateChange(rollout=50.0, rules=(rule,)),
        restore_to_version=None,
        reason="ramp \x1b[31m[bold]x[/]",
        ticket="OPS-1",
        author="alice",
        created_at=AT,
        expires_at=AT,
        status=RequestStatus.APPROVED,
        required_approvals=1,
        verdicts=(Verdict("bob", AT, "looks fine", True),),
        applied_by=None,
    )
    assert g.change_request_from_json(g.change_request_to_json(cr)) == cr


def test_review_and_segment_round_trip() -> None:
    review = Review("rv-1", "checkout", "prod", 9, "alice", "fire", AT, "bob", AT, "ok then")
    assert g.review_from_json(g.review_to_json(review)) == review
    segment = Segment("eu", "EU", "", (SegmentCondition("country", "in", ("DE", "FR")),), 2, AT, AT, "alice")
    assert g.segment_from_json(g.segment_to_json(segment)) == segment


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"enabled": "yes"}, "change.enabled"),
        ({"rollout": 101}, "change.rollout"),
        ({}, "change"),
        ({"colour": 1}, "change.colour"),
        ({"rules": [{"id": "r", "attribute": "a", "op": "like", "values": [], "variant": "on"}]}, "change.rules[0].op"),
    ],
)
def test_bad_change_names_the_field(value: object, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        g.change_from_json(value)


def test_condition_may_not_nest_segments() -> None:
    with pytest.raises(ValueError, match=r"conditions\[0\]\.op"):
        g.conditions_from_json({"conditions": [{"attribute": "a", "op": "in_segment", "values": ["x"]}]})
    with pytest.raises(ValueError, match=r"approvals\[0\]\.approvers"):
        g.policy_from_json({"approvals": [{"environment": "prod", "riskLevels": [], "approvers": 0}]})
