"""Unleash OSS has no change requests: every approval command says so plainly, none pretends to hold a change."""

from __future__ import annotations

import json
from collections.abc import Callable

from flagops.errors import ExitCode

from .test_cli_unleash import Run, flagops  # noqa: F401  (the CLI fixture against the real Unleash)

NOTE = "approvals are not enforced by the Unleash backend"


def test_requests_and_reviews_say_approvals_are_not_enforced(flagops: Run) -> None:  # noqa: F811
    listed = flagops("requests")
    assert listed.returncode == 0, listed.stderr
    assert NOTE in listed.stdout
    as_json = json.loads(flagops("requests", "--json").stdout)
    assert as_json == {"enforced": False, "note": NOTE, "changeRequests": []}
    reviews = flagops("reviews")
    assert reviews.returncode == 0 and NOTE in reviews.stdout, reviews.stderr


def test_a_change_request_is_refused_and_the_direct_write_works(
    flagops: Run,  # noqa: F811
    make_feature: Callable[..., str],
) -> None:
    key = make_feature("cli-approval", prod_rollout=25)
    asked = flagops("request", "kill", key, "--env", "production", "--reason", "errors on checkout", "--yes")
    assert asked.returncode == ExitCode.REFUSED, asked.stdout + asked.stderr
    assert NOTE in asked.stderr and "Changes are applied directly" in asked.stderr
    approve = flagops("approve", "cr-1", "--comment", "looks fine to me")
    assert approve.returncode == ExitCode.REFUSED and NOTE in approve.stderr, approve.stderr
    killed = flagops("kill", key, "--env", "production", "--reason", "errors on checkout", "--yes")
    assert killed.returncode == 0, killed.stderr
    assert "Break-glass" not in killed.stdout
