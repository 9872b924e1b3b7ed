"""Four eyes from the command line, against the real service: two operators (alice, bob: two tokens), the demo
policy (prod, high/critical risk, one approval). Every effect is checked over HTTP, not through flagops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.clitools import Result, cli_env, flagops
from tests.conftest import RunningService
from tests.server.governance_helpers import create_flag, start_governed

HOSTILE = "ok \x1b[31mred\x1b[0m \u202eevil\u202c [bold]markup[/bold]"


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    svc, bob = start_governed(tmp_path_factory.mktemp("governed-cli"))
    yield svc, bob
    svc.stop()


@pytest.fixture
def alice(governed: tuple[RunningService, str], tmp_path: Path) -> dict[str, str]:
    svc, _ = governed
    return cli_env(tmp_path / "alice", url=svc.url, token=svc.admin_token)


@pytest.fixture
def bob(governed: tuple[RunningService, str], tmp_path: Path) -> dict[str, str]:
    svc, token = governed
    return cli_env(tmp_path / "bob", url=svc.url, token=token)


def _flag(svc: RunningService, key: str, **kwargs: Any) -> None:
    with svc.client() as c:
        create_flag(c, key, **kwargs)


def _prod(svc: RunningService, key: str) -> dict[str, Any]:
    with svc.client() as c:
        state: dict[str, Any] = c.get(f"/v1/flags/{key}", params={"environment": "prod"}).json()["environments"]["prod"]
    return state


def _json(result: Result) -> Any:
    assert result.code == 0, result.both
    return json.loads(result.out)


def test_a_governed_kill_is_refused_with_the_request_line(governed: tuple[RunningService, str], alice: dict) -> None:
    svc, _ = governed
    _flag(svc, "cli-gov-kill")
    r = flagops(["kill", "cli-gov-kill", "--env", "prod", "--reason", "errors on checkout", "--yes"], alice)
    assert r.code == 13, r.both
    assert "needs 1 approval" in r.err and "Nothing was changed" in r.err
    assert "flagops request kill cli-gov-kill --env prod --reason" in r.err
    assert _prod(svc, "cli-gov-kill")["enabled"] is True


def test_request_approved_by_the_other_operator_then_applied(
    governed: tuple[RunningService, str], alice: dict, bob: dict
) -> None:
    svc, _ = governed
    _flag(svc, "cli-gov-ramp")
    opened = _json(
        flagops(
            [
                "request",
                "rollout",
                "cli-gov-ramp",
                "50",
                "--env",
                "prod",
                "--reason",
                "ramp after load test",
                "--yes",
                "--json",
            ],
            alice,
        )
    )["changeRequest"]
    rid = opened["id"]
    assert opened["status"] == "pending" and opened["change"] == {"rollout": 50.0} and opened["author"] == "alice"
    assert _prod(svc, "cli-gov-ramp")["rollout"] == 10  # nothing written yet

    listed = _json(flagops(["requests", "--env", "prod", "--json"], bob))
    assert listed["enforced"] is True and rid in [r["id"] for r in listed["changeRequests"]]
    table = flagops(["requests", "--env", "prod"], bob)
    assert rid in table.out and "cli-gov-ramp" in table.out and "0/1" in table.out

    self_approval = flagops(["approve", rid, "--comment", "looks fine to me"], alice)
    assert self_approval.code == 3, self_approval.both
    assert "four eyes are two people" in self_approval.err

    not_yet = flagops(["apply", rid, "--yes"], alice)
    assert not_yet.code == 5 and "409" in not_yet.err, not_yet.both

    approved = flagops(["approve", rid, "--comment", "load test numbers are fine"], bob)
    assert approved.code == 0, approved.both
    assert "now approved, 1/1 approvals" in approved.out and f"flagops apply {rid}" in approved.out

    applied = flagops(["apply", rid, "--yes"], alice)
    assert applied.code == 0, applied.both
    assert f"Applied {rid}" in applied.out and "rollout 50%" in applied.out and "served after" in applied.out
    assert _prod(svc, "cli-gov-ramp")["rollout"] == 50
    done = _json(flagops(["requests", "--status", "applied", "--flag", "cli-gov-ramp", "--json"], bob))
    assert [r["id"] for r in done["changeRequests"]] == [rid]


def test_a_stale_request_is_refused_with_412(governed: tuple[RunningService, str], alice: dict, bob: dict) -> None:
    svc, _ = governed
    _flag(svc, "cli-gov-stale", kill_switch=True)
    opened = flagops(
        ["request", "rollout", "cli-gov-stale", "40", "--env", "prod", "--reason", "ramp after the load test", "--yes"],
        alice,
    )
    assert opened.code == 0, opened.both
    rid = opened.out.split("Opened change request ")[1].split(":")[0]
    # the flag moves on (a break-glass kill needs no approval), so the request's diff is from an old state
    killed = flagops(["kill", "cli-gov-stale", "--env", "prod", "--reason", "errors on checkout", "--yes"], alice)
    assert killed.code == 0, killed.both
    stale = flagops(["approve", rid, "--comment", "load test numbers are fine"], bob)
    assert stale.code == 5, stale.both
    assert "changed since the change request was written" in stale.err and "Open a new change request" in stale.err


def test_break_glass_kill_opens_a_review_that_someone_else_acknowledges(
    governed: tuple[RunningService, str], alice: dict, bob: dict
) -> None:
    svc, _ = governed
    _flag(svc, "cli-gov-panic", kill_switch=True, risk="critical")
    killed = flagops(["kill", "cli-gov-panic", "--env", "prod", "--reason", "checkout is on fire", "--yes"], alice)
    assert killed.code == 0, killed.both
    assert "Killed cli-gov-panic in prod" in killed.out and "Break-glass: this kill opened review" in killed.out
    assert _prod(svc, "cli-gov-panic")["enabled"] is False
    review_id = killed.out.split("opened review ")[1].split(";")[0]

    open_reviews = _json(flagops(["reviews", "--env", "prod", "--json"], bob))["reviews"]
    assert any(r["id"] == review_id and r["actor"] == "alice" for r in open_reviews)

    own = flagops(["ack", review_id, "--comment", "it was me, fine"], alice)
    assert own.code == 3 and "someone else must acknowledge" in own.err, own.both
    acked = flagops(["ack", review_id, "--comment", HOSTILE], bob)
    assert acked.code == 0 and f"Acknowledged {review_id}" in acked.out, acked.both
    again = flagops(["ack", review_id, "--comment", "second time round"], bob)
    assert again.code == 5, again.both
    assert review_id not in [r["id"] for r in _json(flagops(["reviews", "--json"], bob))["reviews"]]
    shown = flagops(["reviews", "--all"], bob)
    assert review_id in shown.out and "\x1b" not in shown.out and "\u202e" not in shown.out
    assert "\\x1b[31mred" in shown.out and "[bold]ma" in shown.out  # markup stays text (cut to the column)


def test_hostile_reasons_and_comments_are_printed_inert(
    governed: tuple[RunningService, str], alice: dict, bob: dict
) -> None:
    svc, _ = governed
    _flag(svc, "cli-gov-hostile")
    opened = flagops(
        ["request", "kill", "cli-gov-hostile", "--env", "prod", "--reason", HOSTILE, "--yes", "--json"], alice
    )
    rid = _json(opened)["changeRequest"]["id"]
    rejected = flagops(["reject", rid, "--comment", HOSTILE], bob)
    assert rejected.code == 0 and "now rejected" in rejected.out, rejected.both
    listed = flagops(["requests", "--status", "all", "--flag", "cli-gov-hostile"], bob)
    assert rid in listed.out and "rejected" in listed.out
    assert "\x1b" not in listed.out and "\u202e" not in listed.out and "\\u202e" in listed.out
    stored = _json(flagops(["requests", "--status", "rejected", "--flag", "cli-gov-hostile", "--json"], bob))
    request = stored["changeRequests"][0]
    assert request["changeReason"] == HOSTILE and request["verdicts"][0]["comment"] == HOSTILE  # verbatim
    assert _prod(svc, "cli-gov-hostile")["enabled"] is True


def test_author_cancels_and_ungoverned_environments_write_directly(
    governed: tuple[RunningService, str], alice: dict
) -> None:
    svc, _ = governed
    _flag(svc, "cli-gov-cancel", risk="low")
    # a low-risk flag in prod is not governed: the kill goes through at once, and no review is opened
    killed = flagops(["kill", "cli-gov-cancel", "--env", "prod", "--reason", "errors on checkout", "--yes"], alice)
    assert killed.code == 0 and "Break-glass" not in killed.out, killed.both
    # a voluntary change request is allowed; its author withdraws it
    opened = _json(
        flagops(
            [
                "request",
                "rollout",
                "cli-gov-cancel",
                "30",
                "--env",
                "prod",
                "--reason",
                "second pair of eyes",
                "--yes",
                "--json",
            ],
            alice,
        )
    )["changeRequest"]
    cancelled = flagops(["cancel", opened["id"], "--comment", "not needed after all"], alice)
    assert cancelled.code == 0 and "now cancelled" in cancelled.out, cancelled.both
    short = flagops(["approve", opened["id"], "--comment", "ok"], alice)
    assert short.code == 7 and "too short" in short.err, short.both
