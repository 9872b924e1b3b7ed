"""The v1 wire format round-trips the domain model and rejects malformed input with the field named."""

from datetime import UTC, datetime

import pytest

from flagops.model import Flag, FlagState, Rule, StateChange, Variant
from flagops.v1 import wire


def _flag() -> Flag:
    state = FlagState(
        environment="prod",
        enabled=True,
        rollout=25.0,
        default_variant="on",
        off_variant="off",
        version=7,
        rules=(Rule("r1", "plan", "in", ("pro",), "on"),),
        updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        updated_by="alice",
    )
    return Flag(
        key="checkout-new-flow",
        name="Checkout new flow",
        variants=(Variant("on", True), Variant("off", False)),
        tags=("checkout",),
        owner="payments",
        states={"prod": state},
    )


def test_flag_round_trip() -> None:
    flag = _flag()
    assert wire.flag_from_json(wire.flag_to_json(flag)) == flag


def test_bad_rollout_type_names_field() -> None:
    data = wire.flag_to_json(_flag())
    data["environments"]["prod"]["rollout"] = "lots"
    with pytest.raises(ValueError, match=r"environments\.prod\.rollout"):
        wire.flag_from_json(data)


def test_unknown_rule_operator_is_rejected() -> None:
    data = wire.flag_to_json(_flag())
    data["environments"]["prod"]["rules"][0]["op"] = "regex"
    with pytest.raises(ValueError, match="unknown operator"):
        wire.flag_from_json(data)


def test_with_changes_and_patch_body() -> None:
    state = _flag().states["prod"]
    after = state.with_changes(StateChange(enabled=False))
    assert (after.enabled, after.rollout, after.effective_rollout) == (False, 25.0, 0.0)
    body = wire.patch_body(StateChange(rollout=5.0), "error spike INC-1", "INC-1", None)
    assert body == {"changeReason": "error spike INC-1", "rollout": 5.0, "ticket": "INC-1"}
