"""A FlagBackend on the Unleash Admin API (Unleash OSS 7.x).

Reads: features across projects (or one, `unleash_project`), each environment's toggle and strategies, as
`FlagState`s (see state.py for the mapping; `version` is the newest event id for that environment).
Writes: on/off per environment and the rollout of a plain `flexibleRollout` strategy (added where absent), and
restore of an earlier state rebuilt from the event log's `preData`. Guarantees and limits are in writes.py
and the README's "Unleash" section; reasons live in the local change log (changelog.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from flagops.backends.unleash.api import LIFECYCLE_EVENT_TYPES, PAGE, STATE_EVENT_TYPES, UnleashApi
from flagops.backends.unleash.audit import audit_entries
from flagops.backends.unleash.changelog import ChangeLog
from flagops.backends.unleash.listing import FlagListing
from flagops.backends.unleash.state import EnvState, Step, env_state, flag_from_feature, history
from flagops.backends.unleash.usage import context_marker, decision, playground_context, usage_series
from flagops.backends.unleash.writes import restore_state, set_rollout, whole_percent
from flagops.errors import Conflict, FlagOpsError, Invalid, NotFound, Unavailable
from flagops.governance import ApprovalPolicy
from flagops.model import (
    AuditEntry,
    AuditVerification,
    BackendCapabilities,
    ChangeEvent,
    ChangeOrigin,
    Decision,
    Environment,
    EvaluationRequest,
    Flag,
    MetricSeries,
    StateChange,
)
from flagops.secrets import Secret
from flagops.v1.wire import origin_to_json, state_to_json

if TYPE_CHECKING:
    from flagops.config import Profile

CAPABILITIES = BackendCapabilities(
    error_metrics=False, change_reasons=False, if_match=False, stream=False, evaluate=True, restore_versions=True
)
MAX_VERSION_PAGES = 20  # at most this many pages of 1000 events for one flag's history


class UnleashBackend:
    name = "unleash"
    capabilities = CAPABILITIES

    def __init__(
        self,
        url: str,
        token: Secret,
        *,
        project: str | None = None,
        verify_tls: bool = True,
        changelog: ChangeLog | None = None,
        poll_interval: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api = UnleashApi(url, token, verify=verify_tls, transport=transport)
        self.url = self.api.base_url
        self.project = project
        self.log = changelog or ChangeLog()
        self.poll_interval = poll_interval
        self._projects: dict[str, str] = {}  # flag key -> project id
        self.listing = FlagListing(self.api, project, self._projects)

    def __repr__(self) -> str:
        return f"UnleashBackend({self.url!r}, project={self.project!r})"

    async def aclose(self) -> None:
        await self.api.aclose()

    # --- reads ---------------------------------------------------------------------------------

    async def environments(self) -> list[Environment]:
        rows = await self.api.environments()
        return [
            Environment(
                key=str(e["name"]),
                name=str(e["name"]),
                protected=e.get("type") == "production" or bool(e.get("protected")),
            )
            for e in sorted(rows, key=lambda e: (e.get("sortOrder", 0), e.get("name", "")))
            if e.get("enabled", True)
        ]

    async def list_flags(self, environment: str) -> list[Flag]:
        return await self.listing.list_flags(environment)

    async def _project_of(self, key: str) -> str:
        if key in self._projects:
            return self._projects[key]
        for feature in await self.api.search_features(project=self.project, query=key):
            self._projects[str(feature["name"])] = str(feature.get("project"))
        if key not in self._projects:
            where = f" in project {self.project}" if self.project else ""
            raise NotFound(f"No live Unleash feature named {key!r}{where}. Check the key (flagops flags).")
        return self._projects[key]

    async def _states(self, key: str) -> tuple[dict[str, Any], dict[str, EnvState]]:
        """The feature document and every environment's current state (with its version)."""
        project = await self._project_of(key)
        # state first, version second: a change landing in between makes the version newer than the state
        # read, which can only cause a needless conflict, never a write over a change the version hides
        feature = await self.api.feature(project, key)
        events, total = await self.api.events(feature=key, types=STATE_EVENT_TYPES, limit=PAGE)
        newest: dict[str, dict[str, Any]] = {}
        for event in events:
            newest.setdefault(str(event.get("environment")), event)
        if total > len(events):  # a long history: ask per environment for the ones the first page missed
            for env in feature.get("environments") or []:
                name = str(env.get("name"))
                if name not in newest:
                    found, _ = await self.api.events(feature=key, environment=name, types=STATE_EVENT_TYPES, limit=1)
                    if found:
                        newest[name] = found[0]
        states = {}
        for env in feature.get("environments") or []:
            name = str(env.get("name"))
            last = newest.get(name)
            states[name] = env_state(
                bool(env.get("enabled")), env.get("strategies") or [], int(last["id"]) if last else 0, last
            )
        return feature, states

    async def get_flag(self, key: str, environment: str | None = None) -> Flag:
        feature, states = await self._states(key)
        if environment is not None and environment not in states:
            raise NotFound(f"{key} has no environment {environment!r} in Unleash (project {feature.get('project')}).")
        chosen = {n: s.flag_state(n) for n, s in states.items() if environment is None or n == environment}
        return flag_from_feature(feature, chosen)

    async def _history(self, key: str, environment: str) -> tuple[EnvState, list[Step]]:
        """The current state and the steps that led to it; re-read if a change lands while reading."""
        for _attempt in range(3):
            _, states = await self._states(key)
            if environment not in states:
                raise NotFound(f"{key} has no environment {environment!r} in Unleash.")
            events: list[dict[str, Any]] = []
            for page in range(MAX_VERSION_PAGES):
                batch, total = await self.api.events(
                    feature=key, environment=environment, types=STATE_EVENT_TYPES, offset=page * PAGE
                )
                events.extend(batch)
                if len(batch) < PAGE or len(events) >= total:
                    break
            current = states[environment]
            if not events or int(events[0]["id"]) == current.version:
                return current, history(current, events)
        raise Conflict(f"{key} in {environment} keeps changing while flagops reads its history; try again.")

    # --- writes --------------------------------------------------------------------------------

    async def _fresh_conflict(self, key: str, message: str) -> Conflict:
        try:
            fresh: Flag | None = await self.get_flag(key)
        except FlagOpsError:
            fresh = None
        return Conflict(message, fresh=fresh)

    async def _guarded_write(
        self,
        key: str,
        environment: str,
        *,
        action: str,
        request: dict[str, Any],
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None,
        origin: ChangeOrigin | None,
        target: Any,
    ) -> Flag:
        """Idempotency, the version check, the change record around the write, and the read-back."""
        if not reason.strip():
            raise Invalid("A change reason is required (Unleash does not store one; flagops records it).")
        previous = self.log.by_idempotency_key(self.url, idempotency_key)
        if previous is not None:
            intent, outcome = previous
            if (
                intent.get("request") != request
                or intent.get("flag") != key
                or intent.get("environment") != environment
            ):
                raise Conflict(
                    f"Idempotency key {idempotency_key!r} was already used for a different change. "
                    "Retry without reusing the key."
                )
            if outcome is not None and outcome.get("status") == "applied":
                return await self.get_flag(key)  # a retry of a change that was applied: do not apply twice
        project = await self._project_of(key)
        _, states = await self._states(key)
        current = states.get(environment)
        if current is None:
            raise NotFound(f"{key} has no environment {environment!r} in Unleash.")
        if current.version != expected_version:
            raise await self._fresh_conflict(
                key,
                f"{key} in {environment} changed since you looked (version {expected_version} -> "
                f"{current.version}). Review the fresh state and try again.",
            )
        intent = self.log.intent(
            server=self.url,
            project=project,
            flag=key,
            environment=environment,
            action=action,
            request=request,
            reason=reason,
            ticket=ticket,
            idempotencyKey=idempotency_key,
            origin=origin_to_json(origin),
            expectedVersion=expected_version,
            before=state_to_json(current.flag_state(environment)),
        )
        try:
            await target(project, current)
        except FlagOpsError as exc:
            after = await self._after(key, environment, expected_version)
            self.log.outcome(
                intent,
                "failed",
                error=str(exc).splitlines()[0],
                events=after[1],
                after=state_to_json(after[0].flag_state(environment)) if after[0] else None,
            )
            if isinstance(exc, Conflict):
                raise await self._fresh_conflict(
                    key,
                    f"{key} in {environment}: {exc.message} Nothing more was "
                    "written; review the fresh state and try again.",
                ) from exc
            raise
        state, event_ids = await self._after(key, environment, expected_version)
        assert state is not None
        self.log.outcome(
            intent,
            "applied" if event_ids else "noop",
            events=event_ids,
            after=state_to_json(state.flag_state(environment)),
        )
        return await self.get_flag(key)

    async def _after(self, key: str, environment: str, since: int) -> tuple[EnvState | None, list[int]]:
        try:
            _, states = await self._states(key)
            events, _ = await self.api.events(feature=key, environment=environment, types=STATE_EVENT_TYPES, limit=100)
        except FlagOpsError:
            return None, []
        return states.get(environment), sorted(int(e["id"]) for e in events if int(e["id"]) > since)

    async def update_state(
        self,
        key: str,
        environment: str,
        change: StateChange,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        if change.rules is not None or change.default_variant is not None:
            raise Invalid("With Unleash, flagops changes on/off and the rollout only; edit targeting in Unleash.")
        if change.is_empty():
            raise Invalid("Nothing to change.")
        rollout = whole_percent(change.rollout) if change.rollout is not None else None

        async def write(project: str, current: EnvState) -> None:
            if change.enabled is False and current.enabled:  # a kill goes first, before anything else
                await self.api.toggle(project, key, environment, False)
            if rollout is not None:
                await set_rollout(self.api, project, key, environment, current, rollout)
            if change.enabled is True and not current.enabled:
                await self.api.toggle(project, key, environment, True)

        request = {"enabled": change.enabled, "rollout": rollout}
        return await self._guarded_write(
            key,
            environment,
            action="update",
            request=request,
            expected_version=expected_version,
            reason=reason,
            idempotency_key=idempotency_key,
            ticket=ticket,
            origin=origin,
            target=write,
        )

    async def restore(
        self,
        key: str,
        environment: str,
        to_version: int,
        *,
        expected_version: int,
        reason: str,
        idempotency_key: str,
        ticket: str | None = None,
        origin: ChangeOrigin | None = None,
    ) -> Flag:
        current, steps = await self._history(key, environment)
        target: EnvState | None = current if to_version == current.version else None
        for step in steps:
            if target is None and step.after.version == to_version:
                target = step.after
            if target is None and step.before.version == to_version:
                target = step.before
        if target is None:
            raise NotFound(
                f"{key} in {environment} has no version {to_version} in Unleash's event log "
                "(versions are event ids: see flagops audit)."
            )
        wanted = target

        async def write(project: str, now: EnvState) -> None:
            await restore_state(self.api, project, key, environment, now, wanted)

        return await self._guarded_write(
            key,
            environment,
            action="restore",
            request={"toVersion": to_version},
            expected_version=expected_version,
            reason=reason,
            idempotency_key=idempotency_key,
            ticket=ticket,
            origin=origin,
            target=write,
        )

    # --- audit, metrics, evaluation, watching ---------------------------------------------------

    async def audit(
        self,
        *,
        flag: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        types = STATE_EVENT_TYPES + (LIFECYCLE_EVENT_TYPES if environment is None else ())
        events, _ = await self.api.events(
            feature=flag, environment=environment, project=self.project, types=types, limit=min(max(limit, 1) * 3, PAGE)
        )
        current: dict[str, dict[str, EnvState]] = {}
        limit_requests = asyncio.Semaphore(8)

        async def read(key: str) -> None:
            async with limit_requests:
                try:
                    current[key] = (await self._states(key))[1]
                except NotFound:
                    pass  # archived or deleted since: its changes are listed without before/after

        keys = dict.fromkeys(str(e.get("featureName")) for e in events if e.get("type") in STATE_EVENT_TYPES)
        await asyncio.gather(*(read(key) for key in keys))
        entries = audit_entries(events, current, self.log.for_server(self.url))
        if since is not None:
            entries = [e for e in entries if e.at >= since]
        return entries[:limit]

    async def policy(self) -> ApprovalPolicy:
        """Unleash OSS has no change requests (an enterprise feature): nothing here can hold a change for approval,
        and faces say so ("approvals are not enforced by the Unleash backend") rather than pretend."""
        return ApprovalPolicy(enforced=False)

    async def verify_audit(self) -> AuditVerification:
        """Unleash's event log has no hash chain; this verifies the console's own change log."""
        return self.log.verify()

    async def metrics(
        self, key: str, environment: str, *, window_seconds: int = 300, step_seconds: int = 10
    ) -> MetricSeries:
        """Unleash OSS keeps hourly yes/no usage counts and no errors: hourly points, has_errors=False."""
        return usage_series(key, environment, await self.api.raw_metrics(key), window_seconds)

    async def evaluate(self, environment: str, requests: list[EvaluationRequest]) -> list[Decision]:
        """Through Unleash's playground: the server's own evaluation, one call per distinct context."""
        by_context: dict[str, dict[str, dict[str, Any]]] = {}
        for req in requests:
            context = playground_context(req)
            marker = context_marker(context)
            if marker not in by_context:
                played = await self.api.playground(environment, context, self.project)
                by_context[marker] = {str(f.get("name")): f for f in played}
        return [
            decision(req, by_context[context_marker(playground_context(req))].get(req.flag_key)) for req in requests
        ]

    async def _events_after(self, after: int | None) -> list[dict[str, Any]]:
        """Events newer than `after` (just the newest one when None), newest first, across pages."""
        found: list[dict[str, Any]] = []
        for page in range(MAX_VERSION_PAGES):
            events, _ = await self.api.events(
                project=self.project,
                types=STATE_EVENT_TYPES + LIFECYCLE_EVENT_TYPES,
                limit=1 if after is None else PAGE,
                offset=page * PAGE,
            )
            found.extend(events)
            if after is None or len(events) < PAGE or any(int(e["id"]) <= after for e in events):
                break
        return found

    async def watch(self, environment: str, last_event_id: int | None = None) -> AsyncIterator[ChangeEvent]:
        """Polls the event log (Unleash OSS has no push); resumes after `last_event_id`; retries on errors."""
        after = last_event_id
        delay = self.poll_interval
        while True:
            try:
                events = await self._events_after(after)
                delay = self.poll_interval
            except (Unavailable, FlagOpsError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if after is None:
                after = max((int(e["id"]) for e in events), default=0)
            fresh = sorted((e for e in events if int(e["id"]) > after), key=lambda e: int(e["id"]))
            for event in fresh:
                after = int(event["id"])
                env = event.get("environment")
                if env not in (None, environment):
                    continue
                kind = {
                    "feature-created": "flag.created",
                    "feature-archived": "flag.archived",
                    "feature-deleted": "flag.archived",
                }.get(str(event.get("type")), "flag.updated")
                key = str(event.get("featureName"))
                flag: Flag | None = None
                if kind != "flag.archived":
                    try:
                        flag = await self.get_flag(key, environment)
                    except FlagOpsError:
                        flag = None
                yield ChangeEvent(
                    id=after, type=kind, flag_key=key, environment=env, flag=flag, actor=event.get("createdBy")
                )
            await asyncio.sleep(self.poll_interval)


def open_unleash_backend(profile: Profile, token: Secret) -> UnleashBackend:
    """The `backend: unleash` branch of session.open_backend."""
    return UnleashBackend(profile.url, token, project=profile.unleash_project, verify_tls=profile.verify_tls)
