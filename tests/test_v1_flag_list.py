"""The flag list parser (flagops/v1/flag_list.py): flag by flag, the same flags as json.loads + flag_from_json,
repeated values held once (but never mutable ones, and never True for 1), and malformed bodies rejected as
not-JSON or with the field and the flag's position named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from flagops.model import Flag, FlagKind, FlagState, Rule, Variant
from flagops.v1 import wire
from flagops.v1.flag_list import flag_list_from_json

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _flag(
    key: str,
    *,
    owner: str = "team-payments",
    tags: tuple[str, ...] = ("checkout", "web"),
    variants: tuple[Variant, ...] = (Variant("on", True), Variant("off", False)),
    rules: tuple[Rule, ...] = (),
    kind: FlagKind = FlagKind.BOOLEAN,
) -> Flag:
    states = {
        env: FlagState(
            environment=env,
            enabled=True,
            rollout=25.0,
            default_variant="on",
            off_variant="off",
            version=3,
            rules=rules,
            updated_at=AT,
            updated_by="alice",
        )
        for env in ("prod", "staging")
    }
    return Flag(
        key=key,
        name=key.title(),
        description=f"{key} does things",
        kind=kind,
        variants=variants,
        tags=tags,
        owner=owner,
        ticket=f"T-{key}",
        created_at=AT,
        states=states,
    )


def _body(flags: list[Flag], **dumps: Any) -> str:
    return json.dumps({"environment": "prod", "version": 9, "flags": [wire.flag_to_json(f) for f in flags]}, **dumps)


FLAGS = [
    _flag("a-flag"),
    _flag("b-flag", owner="team-search", tags=("search",), rules=(Rule("r1", "plan", "in", ("pro", "team"), "on"),)),
    _flag("c-flag", rules=(Rule("r1", "plan", "in", ("pro", "team"), "on"),)),
    _flag("d-json", kind=FlagKind.JSON, variants=(Variant("big", {"limit": 10}), Variant("small", {"limit": 1}))),
    _flag("e-json", kind=FlagKind.JSON, variants=(Variant("big", {"limit": 10}), Variant("small", {"limit": 1}))),
    _flag("f-numbers", kind=FlagKind.MULTIVARIATE, variants=(Variant("on", 1), Variant("off", 0))),
    _flag("g-bools"),
]


@pytest.mark.parametrize("dumps", [{}, {"indent": 2}, {"separators": (",", ":")}, {"ensure_ascii": False}])
def test_same_flags_as_parsing_the_whole_document(dumps: dict[str, Any]) -> None:
    body = _body(FLAGS, **dumps)
    expected = [wire.flag_from_json(f) for f in json.loads(body)["flags"]]
    assert flag_list_from_json(body) == expected == FLAGS


def test_empty_list_and_other_members_in_any_order() -> None:
    assert flag_list_from_json(' \n{ "flags" : [ ] , "x" : {"y": [1, "]"]} }\n ') == []
    assert flag_list_from_json('{"extra": "}", "flags": []}') == []
    assert flag_list_from_json('{"flags": [{"key": "x"}], "flags": []}') == []  # the last one wins, as json.loads


def test_repeated_values_are_held_once() -> None:
    a, b, c, _, _, _, g = flag_list_from_json(_body(FLAGS))
    assert a.owner is c.owner and a.tags is c.tags and a.variants is c.variants is g.variants
    assert a.states["prod"].updated_by is b.states["staging"].updated_by
    assert a.states["prod"].rollout is b.states["prod"].rollout
    assert b.states["prod"].rules is c.states["prod"].rules
    assert a.states["prod"].updated_at is a.created_at  # the same time text: one datetime
    assert next(iter(a.states)) is next(iter(b.states)) is a.states["prod"].environment


def test_mutable_and_look_alike_values_are_not_shared() -> None:
    _, _, _, d, e, f, g = flag_list_from_json(_body(FLAGS))
    assert d.variants == e.variants and d.variants is not e.variants  # dict values: mutable
    assert d.variants[0].value is not e.variants[0].value
    assert f.variants == g.variants  # 1 == True to Python ...
    assert [v.value for v in f.variants] == [1, 0] and [v.value for v in g.variants] == [True, False]  # ... not here
    assert type(f.variants[0].value) is int and type(g.variants[0].value) is bool


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "<html><body>502 Bad Gateway</body></html>",
        '{"flags": [',
        '{"flags": [] ',
        '{"flags": []} trailing',
        "{'flags': []}",
        '{"flags": [],}',
        '{"flags" []}',
        '{"flags": [{"key": "a"} {"key": "b"}]}',
        '{"flags": [}',
    ],
)
def test_not_json_is_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        flag_list_from_json(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "expected an object with a flags list"),
        ('"flags"', "expected an object with a flags list"),
        ("{}", "flags: missing"),
        ('{"environment": "prod"}', "flags: missing"),
        ('{"flags": {}}', "flags: expected a list"),
        ('{"flags": null}', "flags: expected a list"),
        ('{"flags": [3]}', r"flags\[0\]: flag: expected an object"),
        ('{"flags": [{"key": "a"}, {"key": 1}]}', r"flags\[1\]: key: expected a string"),
        (
            '{"flags": [{"key": "a", "environments": {"prod": {"enabled": true, "rollout": "lots", "version": 1}}}]}',
            r"flags\[0\]: environments\.prod\.rollout",
        ),
    ],
)
def test_wrong_shape_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        flag_list_from_json(text)
    assert not isinstance(info.value, json.JSONDecodeError)
