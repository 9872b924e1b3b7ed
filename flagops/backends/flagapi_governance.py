"""The governance half of the flagapi adapter: policy, change requests, break-glass reviews, segments.

The endpoints and their JSON are in /v1 (GOVERNANCE_API.md; the JSON in flagops.v1.governance). A mixin of
`FlagApiBackend`, so it shares that backend's resilient client and flag cache. Failures are typed: 403
`/self-approval` and `/self-review` come from `backends/http.error_for`; here, a 409 on a change request or a
review is `RequestClosed` (not open, not approved, already acknowledged), and a 412 `Conflict` carries the
fresh flag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from flagops.backends.http import StaleVersion, error_for, problem_text
from flagops.backends.responses import json_of, parsed
from flagops.errors import ApprovalRequired, Conflict, FlagOpsError, RequestClosed
from flagops.governance import ApprovalPolicy, ChangeRequest, RequestStatus, Review, Segment
from flagops.model import Flag, StateChange
from flagops.v1 import governance as gov_json
from flagops.v1 import wire

if TYPE_CHECKING:
    from flagops.backends.http import ResilientClient

REMEMBERED_REVIEWS = 256  # break-glass review ids kept per backend (by the write's idempotency key)


def _id(value: str) -> str:
    return quote(value, safe="")


class GovernanceCalls:
    """Mixed into FlagApiBackend: needs its `_client`, `_flag_cache`, `_reviews_opened` and `get_flag`."""

    _client: ResilientClient
    _flag_cache: dict[str, Any]
    _reviews_opened: dict[str, str]

    async def get_flag(self, key: str, environment: str | None = None) -> Flag:  # provided by FlagApiBackend
        raise NotImplementedError

    def _remember_review(self, idempotency_key: str, review_id: str | None) -> None:
        if not review_id:
            return
        self._reviews_opened[idempotency_key] = review_id
        while len(self._reviews_opened) > REMEMBERED_REVIEWS:
            self._reviews_opened.pop(next(iter(self._reviews_opened)))

    def review_opened_by(self, idempotency_key: str) -> str | None:
        return self._reviews_opened.get(idempotency_key)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        response = await self._client.request(
            method, path, what=what, params=params, json=body, headers=headers, ok=(409,)
        )
        if response.status_code == 409:
            error = error_for(response, what)
            raise error if isinstance(error, ApprovalRequired) else _closed(response, what)
        return json_of(response, what)

    async def _fresh_conflict(self, exc: Conflict, key: str, environment: str, what: str) -> Conflict:
        """A 412 with the flag as it is now, so the face can show what moved."""
        try:
            fresh: Flag | None = await self.get_flag(key, environment)
        except FlagOpsError:
            fresh = None
        state = fresh.state(environment) if fresh else None
        if state is None or not isinstance(exc, StaleVersion):
            return Conflict(exc.message, fresh=fresh)
        who = f" by {state.updated_by}" if state.updated_by else ""
        return Conflict(
            f"{what}: {key} in {environment} changed since the change request was written (it is now version "
            f"{state.version}{who}); approving or applying it would sign off on a different state. Open a new "
            "change request against the current state.",
            fresh=fresh,
        )

    # --- policy -----------------------------------------------------------------------------

    async def policy(self) -> ApprovalPolicy:
        what = "read the approval policy"
        data = await self._call("GET", "/v1/policy", what=what)
        policy: ApprovalPolicy = parsed(what, gov_json.policy_from_json, data)
        return policy

    # --- change requests --------------------------------------------------------------------

    async def change_requests(
        self, environment: str | None, status: RequestStatus | None = None, flag: str | None = None
    ) -> list[ChangeRequest]:
        what = "list change requests" + (f" in {environment}" if environment else "")
        params = {"environment": environment, "status": status.value if status else None, "flag": flag}
        data = await self._call("GET", "/v1/change-requests", what=what, params=params)
        requests: list[ChangeRequest] = parsed(
            what, lambda d: [gov_json.change_request_from_json(x) for x in d["changeRequests"]], data
        )
        return requests

    async def change_request(self, request_id: str) -> ChangeRequest:
        what = f"read change request {request_id}"
        data = await self._call("GET", f"/v1/change-requests/{_id(request_id)}", what=what)
        request: ChangeRequest = parsed(what, gov_json.change_request_from_json, data)
        return request

    async def create_change_request(
        self,
        key: str,
        environment: str,
        change: StateChange | None,
        restore_to_version: int | None,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
    ) -> ChangeRequest:
        if (change is None) == (restore_to_version is None):
            raise ValueError("a change request carries a change or a version to restore, exactly one")
        what = f"open a change request for {key} in {environment}"
        body: dict[str, Any] = {"flag": key, "changeReason": reason}
        if change is not None:
            body["change"] = gov_json.change_to_json(change)
        else:
            body["restoreToVersion"] = restore_to_version
        if ticket:
            body["ticket"] = ticket
        headers = {"If-Match": f'"{expected_version}"', "Idempotency-Key": idempotency_key}
        try:
            data = await self._call(
                "POST",
                "/v1/change-requests",
                what=what,
                params={"environment": environment},
                body=body,
                headers=headers,
            )
        except Conflict as exc:
            if isinstance(exc, RequestClosed):
                raise
            raise await self._fresh_conflict(exc, key, environment, what) from None
        request: ChangeRequest = parsed(what, gov_json.change_request_from_json, data)
        return request

    async def _decide(self, request_id: str, verb: str, comment: str, what: str) -> ChangeRequest:
        path = f"/v1/change-requests/{_id(request_id)}/{verb}"
        try:
            data = await self._call("POST", path, what=what, body={"comment": comment})
        except Conflict as exc:
            if isinstance(exc, RequestClosed):
                raise
            request = await self.change_request(request_id)
            raise await self._fresh_conflict(exc, request.flag_key, request.environment, what) from None
        request = parsed(what, gov_json.change_request_from_json, data)
        return request

    async def approve(self, request_id: str, comment: str) -> ChangeRequest:
        return await self._decide(request_id, "approve", comment, f"approve change request {request_id}")

    async def reject(self, request_id: str, comment: str) -> ChangeRequest:
        return await self._decide(request_id, "reject", comment, f"reject change request {request_id}")

    async def cancel(self, request_id: str, comment: str) -> ChangeRequest:
        return await self._decide(request_id, "cancel", comment, f"cancel change request {request_id}")

    async def apply_change_request(
        self, request_id: str, *, expected_version: int, idempotency_key: str
    ) -> tuple[ChangeRequest, Flag]:
        what = f"apply change request {request_id}"
        headers = {"If-Match": f'"{expected_version}"', "Idempotency-Key": idempotency_key}
        path = f"/v1/change-requests/{_id(request_id)}/apply"
        try:
            data = await self._call("POST", path, what=what, body={}, headers=headers)
        except Conflict as exc:
            if isinstance(exc, RequestClosed):
                raise
            request = await self.change_request(request_id)
            raise await self._fresh_conflict(exc, request.flag_key, request.environment, what) from None
        request, flag = parsed(
            what,
            lambda d: (gov_json.change_request_from_json(d["changeRequest"]), wire.flag_from_json(d["flag"])),
            data,
        )
        self._flag_cache.pop(request.environment, None)
        return request, flag

    # --- break-glass reviews ----------------------------------------------------------------

    async def reviews(self, environment: str | None, open_only: bool = True) -> list[Review]:
        what = "list break-glass reviews" + (f" in {environment}" if environment else "")
        params = {"environment": environment, "open": "true" if open_only else "false"}
        data = await self._call("GET", "/v1/reviews", what=what, params=params)
        reviews: list[Review] = parsed(what, lambda d: [gov_json.review_from_json(x) for x in d["reviews"]], data)
        return reviews

    async def acknowledge_review(self, review_id: str, comment: str) -> Review:
        what = f"acknowledge review {review_id}"
        path = f"/v1/reviews/{_id(review_id)}/acknowledge"
        data = await self._call("POST", path, what=what, body={"comment": comment})
        review: Review = parsed(what, gov_json.review_from_json, data)
        return review

    # --- segments ---------------------------------------------------------------------------

    async def segments(self) -> list[Segment]:
        what = "list segments"
        data = await self._call("GET", "/v1/segments", what=what)
        segments: list[Segment] = parsed(what, lambda d: [gov_json.segment_from_json(x) for x in d["segments"]], data)
        return segments


def _closed(response: httpx.Response, what: str) -> RequestClosed:
    said = problem_text(response)
    return RequestClosed(
        f"{what}: not possible in its current state (409)."
        + (f" The service said: {said}" if said else "")
        + " `flagops requests --status all` shows where it stands."
    )
