"""The few Unleash Admin API calls the adapter makes, with Unleash's errors turned into flagops errors.

Unleash answers errors as `{"name": "NotFoundError", "message": ..., "details": [...]}` rather than RFC 9457
problems, and a failed JSON-Patch `test` operation comes back as a 500 whose message says
TEST_OPERATION_FAILED: that one is a conflict (someone changed the strategy first), not a server failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from flagops.backends.http import ResilientClient
from flagops.errors import Conflict, FlagOpsError, Forbidden, Invalid, NotFound, Unavailable
from flagops.secrets import Secret

# The event types that change one feature's state in one environment (what flagops shows and writes).
STATE_EVENT_TYPES = (
    "feature-environment-enabled",
    "feature-environment-disabled",
    "feature-strategy-add",
    "feature-strategy-update",
    "feature-strategy-remove",
)
LIFECYCLE_EVENT_TYPES = ("feature-created", "feature-archived", "feature-revived", "feature-deleted")
PAGE = 1000  # the event search maximum


class TestOperationFailed(Conflict):
    """A JSON-Patch `test` did not hold: the strategy is no longer what we read."""

    __test__ = False  # not a pytest test class, despite the name


def _seg(value: str) -> str:
    return quote(value, safe="")


def unleash_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip().replace("\n", " ")[:200]
    if isinstance(data, dict):
        details = data.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict) and details[0].get("message"):
            return str(details[0]["message"]).split("\n")[0][:300]
        message = data.get("message")
        if isinstance(message, str):
            return message.split("\n")[0][:300]
    return str(data)[:200]


class UnleashApi:
    """Typed-enough wrappers over the Admin API paths; everything returns parsed JSON."""

    def __init__(
        self, base_url: str, token: Secret, *, verify: bool = True, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = ResilientClient(self.base_url, token, verify=verify, transport=transport)

    def __repr__(self) -> str:
        return f"UnleashApi({self.base_url!r})"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(
        self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        ok = (400, 403, 404, 409, 415, 422) + ((500,) if method == "PATCH" else ())
        response = await self.http.request(method, path, what=what, params=params, json=json, ok=ok)
        status = response.status_code
        if status < 400:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise Unavailable(f"{what}: Unleash sent a response that is not JSON ({status}).") from exc
        message = unleash_message(response)
        error: FlagOpsError
        if status == 500 and "TEST_OPERATION_FAILED" in response.text:
            error = TestOperationFailed(f"{what}: the strategy changed since it was read (JSON-Patch test failed).")
        elif status == 500:
            error = Unavailable(f"{what}: Unleash failed (500): {message}")
        elif status == 403:
            error = Forbidden(
                f"{what}: Unleash refused this token (403): {message}. flagops needs an admin API "
                "token or a personal access token with access to these projects and environments."
            )
        elif status == 404:
            error = NotFound(f"{what}: not found in Unleash (404): {message}")
        elif status == 409:
            error = Conflict(f"{what}: Unleash reported a conflict (409): {message}")
        else:
            error = Invalid(f"{what}: Unleash rejected the request ({status}): {message}")
        raise error

    # --- reads ---------------------------------------------------------------------------------

    async def environments(self) -> list[dict[str, Any]]:
        data = await self._call("GET", "/api/admin/environments", what="list Unleash environments")
        return [e for e in data.get("environments", []) if isinstance(e, dict)]

    async def search_features(self, *, project: str | None = None, query: str | None = None) -> list[dict[str, Any]]:
        """Every live (non-archived) feature, across projects unless `project` is given."""
        features: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {
                "limit": str(PAGE),
                "offset": str(offset),
                "sortBy": "name",
                "sortOrder": "asc",
                "project": f"IS:{project}" if project else None,
                "query": query,
            }
            data = await self._call("GET", "/api/admin/search/features", what="search Unleash features", params=params)
            page = [f for f in data.get("features", []) if isinstance(f, dict)]
            features.extend(page)
            offset += len(page)
            if not page or offset >= int(data.get("total", 0)):
                return features

    async def feature(self, project: str, key: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._call(
            "GET", f"/api/admin/projects/{_seg(project)}/features/{_seg(key)}", what=f"read {key} from Unleash"
        )
        return data

    async def playground(
        self, environment: str, context: Mapping[str, Any], project: str | None = None
    ) -> list[dict[str, Any]]:
        """Every feature with its strategies and on/off in `environment`, evaluated for `context`."""
        body = {"environment": environment, "projects": [project] if project else "*", "context": dict(context)}
        data = await self._call("POST", "/api/admin/playground", what=f"read flags in {environment}", json=body)
        return [f for f in data.get("features", []) if isinstance(f, dict)]

    async def events(
        self,
        *,
        feature: str | None = None,
        environment: str | None = None,
        project: str | None = None,
        types: tuple[str, ...] = (),
        limit: int = PAGE,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the event search, newest first, and the total count."""
        params = {
            "feature": f"IS:{feature}" if feature else None,
            "environment": f"IS:{environment}" if environment else None,
            "project": f"IS:{project}" if project else None,
            "type": f"IS_ANY_OF:{','.join(types)}" if types else None,
            "limit": str(max(1, min(limit, PAGE))),
            "offset": str(offset),
        }
        data = await self._call("GET", "/api/admin/search/events", what="search the Unleash event log", params=params)
        events = [e for e in data.get("events", []) if isinstance(e, dict)]
        return events, int(data.get("total", len(events)))

    async def raw_metrics(self, key: str) -> list[dict[str, Any]]:
        data = await self._call(
            "GET", f"/api/admin/client-metrics/features/{_seg(key)}/raw", what=f"read usage of {key}"
        )
        return [d for d in data.get("data", []) if isinstance(d, dict)]

    # --- writes --------------------------------------------------------------------------------

    def _env_path(self, project: str, key: str, environment: str) -> str:
        return f"/api/admin/projects/{_seg(project)}/features/{_seg(key)}/environments/{_seg(environment)}"

    async def toggle(self, project: str, key: str, environment: str, on: bool) -> None:
        path = self._env_path(project, key, environment) + ("/on" if on else "/off")
        await self._call("POST", path, what=f"turn {key} {'on' if on else 'off'} in {environment}")

    async def add_strategy(self, project: str, key: str, environment: str, body: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = await self._call(
            "POST",
            self._env_path(project, key, environment) + "/strategies",
            what=f"add a strategy to {key} in {environment}",
            json=dict(body),
        )
        return data

    async def patch_strategy(
        self, project: str, key: str, environment: str, strategy_id: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        path = self._env_path(project, key, environment) + f"/strategies/{_seg(strategy_id)}"
        data: dict[str, Any] = await self._call(
            "PATCH", path, what=f"change a strategy of {key} in {environment}", json=operations
        )
        return data

    async def delete_strategy(self, project: str, key: str, environment: str, strategy_id: str) -> None:
        path = self._env_path(project, key, environment) + f"/strategies/{_seg(strategy_id)}"
        await self._call("DELETE", path, what=f"remove a strategy of {key} in {environment}")
