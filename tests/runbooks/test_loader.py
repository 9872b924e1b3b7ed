"""Loading runbooks: the shipped ones load, and every malformed file gives errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagops.errors import ConfigError, ExitCode
from flagops.runbooks.catalog import load_catalog, shipped_dir
from flagops.runbooks.loader import loads
from flagops.runbooks.params import ParamError, bind, parse_assignments
from flagops.runbooks.problems import RunbookError
from flagops.runbooks.schema import Ref, StepKind

GOOD = """\
id: demo
title: Demo
environment: ${env}
params:
  env: {type: environment, default: dev}
  flag: {type: flag, default: checkout-new-flow}
  pct: {type: percent, default: 10}
steps:
  - note: hello ${flag}
  - check: error_rate
    flag: ${flag}
    above: 2%
  - rollout: ${flag}
    percent: ${pct}
  - wait: state
    flag: ${flag}
    enabled: true
    timeout: 1s
    poll: 100ms
  - kill: {owner: payments, kill_switch: true}
  - progressive: ${flag}
    percents: [1, 5]
    hold: 2s
    guard: {error_rate_above: 5}
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(RunbookError) as info:
        loads(text, "rb.yaml")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_good_runbook_loads_with_types_and_defaults() -> None:
    rb = loads(GOOD, "rb.yaml")
    assert [s.kind for s in rb.steps] == [
        StepKind.NOTE,
        StepKind.CHECK,
        StepKind.ROLLOUT,
        StepKind.WAIT,
        StepKind.KILL,
        StepKind.PROGRESSIVE,
    ]
    assert rb.steps[1].condition is not None and rb.steps[1].condition.above == 2.0
    assert rb.steps[1].condition.window == 60.0  # default
    assert rb.steps[2].percent == Ref("pct", rb.steps[2].percent.type)
    assert rb.steps[3].timeout == 1.0 and rb.steps[3].poll == 0.1
    assert rb.steps[5].hold == 2.0 and rb.steps[5].percents == (1.0, 5.0)
    bound, values = bind(rb, {"pct": "25"})
    assert values == {"env": "dev", "flag": "checkout-new-flow", "pct": 25.0}
    assert bound.environment == "dev" and bound.steps[2].percent == 25.0
    assert bound.steps[0].text == "hello checkout-new-flow"
    assert bound.flag_keys() == {"checkout-new-flow"}
    assert rb.flag_keys() == {"checkout-new-flow"}  # through the param default


def test_errors_name_line_and_field() -> None:
    text = GOOD.replace("percent: ${pct}", "percent: 150").replace("above: 2%", "abvoe: 2%")
    found = problems(text)
    assert (14, "steps[3].percent", "expected a percent 0-100, got 150") in found
    assert any(line == 12 and field == "steps[2].abvoe" and "did you mean 'above'" in msg for line, field, msg in found)
    with pytest.raises(RunbookError) as info:
        loads(text, "rb.yaml")
    assert "rb.yaml:14: steps[3].percent" in str(info.value)
    assert info.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        ("id: x\ntitle: t\nenvironment: dev\nsteps: []\n", 4, "steps", "non-empty"),
        ("id: x\ntitle: t\nenvironment: dev\nsteps:\n  - kill: a\n    rollout: b\n", 5, "steps[1]", "more than one"),
        ("id: x\ntitle: t\nenvironment: ${nope}\nsteps:\n  - kill: a\n", 3, "environment", "unknown param"),
        (
            "id: x\ntitle: t\nenvironment: dev\nparams:\n  p: {type: duration, default: 5m}\nsteps:\n  - rollout: a\n"
            "    percent: ${p}\n",
            8,
            "steps[1].percent",
            "is a duration",
        ),
        (
            "id: x\ntitle: t\nenvironment: dev\nsteps:\n  - wait: error_rate\n    flag: a\n    below: 1\n"
            "    timeout: forever\n",
            8,
            "steps[1].timeout",
            "duration",
        ),
        ("id: x\ntitle: t\nid: y\nenvironment: dev\nsteps: [{kill: a}]\n", 3, "", "duplicate key 'id'"),
        ("id: x\ntitle: t\nenvironment: dev\nsteps:\n  - kill: a\n   - kill: b\n", 6, "", ""),
        ("id: X Y\ntitle: t\nenvironment: dev\nsteps: [{kill: a}]\n", 1, "id", "lowercase"),
        (
            "id: x\ntitle: t\nenvironment: dev\nsteps:\n  - progressive: a\n    percents: [10, 5]\n"
            "    guard: {error_rate_above: 2}\n",
            6,
            "steps[1].percents",
            "go up",
        ),
        ("id: x\ntitle: t\nenvironment: dev\nsteps:\n  - progressive: a\n", 5, "steps[1].guard", "required"),
        (
            "id: x\ntitle: t\nenvironment: dev\nsteps:\n  - check: vibes\n    flag: a\n",
            5,
            "steps[1].check",
            "error_rate or state",
        ),
        ("id: x\ntitle: t\nenvironment: dev\nsteps:\n  - kill: !!python/object:os.system {}\n", 5, "", "tag"),
        (
            "id: x\ntitle: t\nenvironment: dev\nsteps:\n  - kill: {owner: payments, colour: red}\n",
            5,
            "steps[1].kill.colour",
            "unknown field",
        ),
    ],
)
def test_each_kind_of_mistake(text: str, line: int, field: str, fragment: str) -> None:
    found = problems(text)
    assert any(p_line == line and p_field == field and fragment in msg for p_line, p_field, msg in found), found


def test_alias_bomb_is_refused_plainly() -> None:
    # each level is a list of nine aliases to the level before: 9**9 nodes once expanded
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
    )
    assert any("too many YAML nodes" in msg for _, _, msg in problems(bomb))


def test_params_from_the_command_line() -> None:
    rb = loads(GOOD, "rb.yaml")
    with pytest.raises(ParamError, match="pct: expected a percent"):
        bind(rb, parse_assignments(["pct=lots"]))
    with pytest.raises(ParamError, match="no param 'nope'"):
        bind(rb, {"nope": "1"})
    with pytest.raises(ParamError, match="NAME=VALUE"):
        parse_assignments(["novalue"])
    needs = loads(
        "id: x\ntitle: t\nenvironment: dev\nparams:\n  team: {type: team}\nsteps:\n  - kill: {owner: '${team}'}\n",
        "rb.yaml",
    )
    with pytest.raises(ParamError, match="needs --param team"):
        bind(needs)
    assert bind(needs, {"team": "payments"})[0].steps[0].selector.owner == "payments"  # type: ignore[union-attr]


def test_shipped_runbooks_all_load() -> None:
    folder = shipped_dir()
    assert folder is not None
    catalog = load_catalog([folder])
    assert not catalog.broken, [str(e) for e in catalog.broken]
    assert {"checkout-error-spike", "panic-service", "guarded-rollout", "rollback-last-change", "freeze-team"} <= set(
        catalog.runbooks
    )
    for rb in catalog.runbooks.values():
        bind(rb)  # every param has a default that fits


# --- hypothesis: whatever the bytes, a clear RunbookError or a runbook; never anything else ---------


def _check_never_crashes(text: str | bytes) -> None:
    try:
        loads(text, "fuzz.yaml")
    except RunbookError as err:
        assert isinstance(err, ConfigError)
        assert str(err).startswith("fuzz.yaml")
        for p in err.problems:
            assert p.line is None or p.line >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_never_crashes(text: str) -> None:
    _check_never_crashes(text)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crashes(data: bytes) -> None:
    _check_never_crashes(data)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["${flag}", "${nope}", "${", "5m", "2%", "error_rate", "state", "checkout-new-flow"]),
)
_keys = st.sampled_from(
    [
        "id",
        "title",
        "environment",
        "params",
        "steps",
        "kill",
        "rollout",
        "percent",
        "flag",
        "check",
        "wait",
        "above",
        "below",
        "note",
        "progressive",
        "guard",
        "percents",
        "type",
        "default",
        "owner",
        "timeout",
        "poll",
        "window",
        "restore",
        "to_version",
        "x",
    ]
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_generated_yaml_structures_never_crash(value: object) -> None:
    _check_never_crashes(yaml.safe_dump(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_good_runbook_never_crashes(data: st.DataObject) -> None:
    lines = GOOD.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    replacement = data.draw(
        st.one_of(st.just(""), st.text(max_size=30), _keys.map(lambda k: f"  {k}: ${{x}}"), st.just("    - ["))
    )
    lines[i] = replacement
    _check_never_crashes("\n".join(lines))


def test_shipped_examples_have_no_yaml_surprises(tmp_path: Path) -> None:
    # a file that is not a mapping at all
    assert problems("- just\n- a list\n")[0][2].startswith("expected a mapping")
    assert problems("")[0][2] == "the file is empty"


def test_rollout_is_a_field_of_state_conditions_not_a_second_kind() -> None:
    rb = loads("id: x\ntitle: t\nenvironment: dev\nsteps:\n  - wait: state\n    flag: a\n    rollout: 0\n", "rb.yaml")
    assert rb.steps[0].kind is StepKind.WAIT and rb.steps[0].condition is not None
    assert rb.steps[0].condition.rollout == 0.0


def test_runbooks_touching_a_flag_include_selectors_at_their_defaults() -> None:
    from flagops.model import Flag, FlagState

    def flag(key: str, owner: str, tags: tuple[str, ...], kill: bool, enabled: bool, rollout: float) -> Flag:
        state = FlagState("prod", enabled, rollout, "on", "off", 1)
        return Flag(key=key, name=key, owner=owner, tags=tags, kill_switch=kill, states={"prod": state})

    catalog = load_catalog([shipped_dir()])  # type: ignore[list-item]
    incident = flag("checkout-new-flow", "checkout", ("checkout", "kill-switch"), True, True, 1)
    assert [rb.id for rb in catalog.touching(incident)] == [
        "checkout-error-spike",
        "guarded-rollout",
        "panic-service",
        "rollback-last-change",
    ]
    partial = flag("payments-sepa-debit", "payments", ("payments",), False, True, 10)
    assert [rb.id for rb in catalog.touching(partial)] == ["freeze-team"]
    assert catalog.touching(flag("payments-sepa-debit", "payments", ("payments",), False, True, 100)) == []


def test_durations_and_percents_in_every_spelling() -> None:
    from flagops.runbooks.values import parse_duration, parse_percent

    assert [parse_duration(v) for v in ("30s", "5m", "1h30m", "500ms", 90, "120", "2.5")] == [
        30.0,
        300.0,
        5400.0,
        0.5,
        90.0,
        120.0,
        2.5,
    ]
    assert [parse_percent(v) for v in (2, "2.5%", " 7 ", 100)] == [2.0, 2.5, 7.0, 100.0]
    for bad in ("soon", "5 minutes", "-1s", True, None, "1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    for bad in ("lots", 101, -1, float("nan"), False):
        with pytest.raises(ValueError):
            parse_percent(bad)
