"""The approvals core (flagops/approvals.py) on the flagapi adapter, against the real service with two operators:
what the console and runbooks build on (Ops.needs_approval, Approvals.submit, typed errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from flagops.backends.flagapi import FlagApiBackend
from flagops.errors import ApprovalRequired, Conflict, RequestClosed, SelfApproval
from flagops.governance import RequestStatus
from flagops.ops import Ops
from flagops.secrets import Secret
from tests.conftest import RunningService
from tests.server.governance_helpers import create_flag, start_governed

REASON = "ramp after the load test, INC-4"


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, str]]:
    svc, bob = start_governed(tmp_path_factory.mktemp("governed-core"))
    yield svc, bob
    svc.stop()


@pytest.fixture
async def two(governed: tuple[RunningService, str]) -> AsyncIterator[tuple[Ops, Ops]]:
    svc, bob = governed
    alice_backend, bob_backend = FlagApiBackend(svc.url, Secret(svc.admin_token)), FlagApiBackend(svc.url, Secret(bob))
    yield Ops(alice_backend), Ops(bob_backend)
    await alice_backend.aclose()
    await bob_backend.aclose()


def _flag(svc: RunningService, key: str, **kwargs: object) -> None:
    with svc.client() as c:
        create_flag(c, key, **kwargs)  # type: ignore[arg-type]


async def test_policy_and_needs_approval(governed: tuple[RunningService, str], two: tuple[Ops, Ops]) -> None:
    svc, _ = governed
    alice, _ = two
    _flag(svc, "core-gov-a")
    _flag(svc, "core-gov-panic", kill_switch=True)
    policy = await alice.approvals.policy()
    assert policy.enforced and [r.environment for r in policy.rules] == ["prod"]
    rule = await alice.needs_approval(await alice.plan_rollout("core-gov-a", "prod", 50))
    assert rule is not None and rule.approvers == 1
    assert await alice.needs_approval(await alice.plan_rollout("core-gov-a", "dev", 50)) is None
    assert await alice.needs_approval(await alice.plan_kill("core-gov-panic", "prod")) is None  # break-glass
    # the service refuses the write itself, typed, when a face skips the check
    with pytest.raises(ApprovalRequired) as refused:
        await alice.apply(await alice.plan_rollout("core-gov-a", "prod", 50), reason=REASON)
    assert refused.value.approvers == 1


async def test_submit_opens_a_request_and_four_eyes_apply_it(
    governed: tuple[RunningService, str], two: tuple[Ops, Ops]
) -> None:
    svc, _ = governed
    alice, bob = two
    _flag(svc, "core-gov-b")
    submitted = await alice.approvals.submit(await alice.plan_rollout("core-gov-b", "prod", 30), reason=REASON)
    assert submitted.opened_request and submitted.applied is None and submitted.rule is not None
    request = submitted.request
    assert request is not None and request.status is RequestStatus.PENDING and request.base_version >= 1
    with pytest.raises(SelfApproval):
        await alice.approvals.approve(request.id, "my own change, fine")
    with pytest.raises(RequestClosed):
        await alice.approvals.apply_request(request.id)
    approved = await bob.approvals.approve(request.id, "numbers look fine")
    assert approved.status is RequestStatus.APPROVED and [v.actor for v in approved.approvals] == ["bob"]
    done = await alice.approvals.apply_request(request.id)
    assert done.confirmed and done.state.rollout == 30 and done.request.status is RequestStatus.APPLIED
    assert (await alice.approvals.request(request.id)).status is RequestStatus.APPLIED
    pending = await bob.approvals.requests("prod", RequestStatus.PENDING, "core-gov-b")
    assert pending == []


async def test_break_glass_submit_applies_and_names_the_review(
    governed: tuple[RunningService, str], two: tuple[Ops, Ops]
) -> None:
    svc, _ = governed
    alice, bob = two
    _flag(svc, "core-gov-panic2", kill_switch=True)
    submitted = await alice.approvals.submit(await alice.plan_kill("core-gov-panic2", "prod"), reason=REASON)
    assert submitted.applied is not None and not submitted.applied.state.enabled
    assert submitted.review_id is not None
    reviews = await bob.approvals.reviews("prod")
    assert submitted.review_id in [r.id for r in reviews]
    acked = await bob.approvals.acknowledge(submitted.review_id, "kill was the right call")
    assert not acked.is_open and acked.acknowledged_by == "bob"


async def test_a_request_written_against_an_old_state_is_refused(
    governed: tuple[RunningService, str], two: tuple[Ops, Ops]
) -> None:
    svc, _ = governed
    alice, bob = two
    _flag(svc, "core-gov-stale", kill_switch=True)
    request = await alice.approvals.request_change(
        await alice.plan_rollout("core-gov-stale", "prod", 60), reason=REASON
    )
    await alice.apply(await alice.plan_kill("core-gov-stale", "prod"), reason=REASON)  # break-glass moves it on
    with pytest.raises(Conflict) as stale:
        await bob.approvals.approve(request.id, "numbers look fine")
    assert stale.value.fresh is not None and not isinstance(stale.value, RequestClosed)
