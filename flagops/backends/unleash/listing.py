"""Listing every flag of one environment, cheaply enough for the console's one-second poll.

A full listing is three Admin API calls: the feature search (metadata, projects), the playground (each
feature's toggle and strategies in the environment) and the event search (each feature's version). The search
is the slow one (about 0.3 s for 300 features), so the listing is cached and rebuilt only when Unleash's event
log says something changed: a state event in this environment (read incrementally, newest-first, stopping at
the newest one already seen) or a metadata/lifecycle event anywhere; and in full every CACHE_SECONDS anyway,
for what leaves no event (e.g. a segment edited in another project).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from flagops.backends.unleash.api import PAGE, STATE_EVENT_TYPES, UnleashApi
from flagops.backends.unleash.state import env_state, flag_from_feature
from flagops.model import Flag

MAX_PAGES = 20  # at most this many pages of 1000 events when looking for versions
CACHE_SECONDS = 30.0
META_EVENT_TYPES = (
    "feature-created",
    "feature-archived",
    "feature-revived",
    "feature-deleted",
    "feature-metadata-updated",
    "feature-updated",
    "feature-stale-on",
    "feature-stale-off",
    "feature-tagged",
    "feature-untagged",
    "feature-type-updated",
    "feature-project-change",
    "feature-import",
    "feature-variants-updated",
    "feature-environment-variants-updated",
    "segment-updated",
    "segment-deleted",
)


@dataclass
class _Versions:
    top: int = 0  # the newest state event id seen
    newest: dict[str, dict[str, Any]] = field(default_factory=dict)  # feature -> its newest state event
    read_at: float = 0.0


@dataclass
class _Listing:
    state_top: int
    meta_top: int
    at: float
    flags: list[Flag]


class FlagListing:
    def __init__(self, api: UnleashApi, project: str | None, projects: dict[str, str]) -> None:
        self.api = api
        self.project = project
        self.projects = projects  # shared with the backend: flag key -> project id
        self._versions: dict[str, _Versions] = {}
        self._listings: dict[str, _Listing] = {}

    async def versions(self, environment: str) -> tuple[int, dict[str, dict[str, Any]]]:
        """(newest state event id, newest state event per feature) in `environment`; incremental."""
        now = time.monotonic()
        known = self._versions.get(environment)
        if known is None or now - known.read_at > CACHE_SECONDS * 2:
            known = _Versions(read_at=now)
        fresh: dict[str, dict[str, Any]] = {}
        top = known.top
        for page in range(MAX_PAGES):
            events, total = await self.api.events(
                environment=environment, project=self.project, types=STATE_EVENT_TYPES, offset=page * PAGE
            )
            reached = False
            for event in events:
                if int(event["id"]) <= known.top:
                    reached = True
                    break
                top = max(top, int(event["id"]))
                fresh.setdefault(str(event.get("featureName")), event)
            if reached or len(events) < PAGE or (page + 1) * PAGE >= total:
                break
        known = _Versions(top, {**known.newest, **fresh}, known.read_at)
        self._versions[environment] = known
        return known.top, known.newest

    async def _meta_top(self) -> int:
        events, _ = await self.api.events(project=self.project, types=META_EVENT_TYPES, limit=1)
        return int(events[0]["id"]) if events else 0

    async def list_flags(self, environment: str) -> list[Flag]:
        (state_top, versions), meta_top = await asyncio.gather(self.versions(environment), self._meta_top())
        cached = self._listings.get(environment)
        now = time.monotonic()
        if (
            cached is not None
            and (cached.state_top, cached.meta_top) == (state_top, meta_top)
            and now - cached.at < CACHE_SECONDS
        ):
            return list(cached.flags)
        features, evaluated = await asyncio.gather(
            self.api.search_features(project=self.project),
            self.api.playground(environment, {"appName": "flagops"}, self.project),
        )
        played = {str(f["name"]): f for f in evaluated}
        flags = []
        for feature in features:
            key = str(feature["name"])
            self.projects[key] = str(feature.get("project"))
            if environment not in {str(e.get("name")) for e in feature.get("environments") or []}:
                continue  # this feature's project does not have the environment
            if key not in played:
                continue
            event = versions.get(key)
            strategies = (played[key].get("strategies") or {}).get("data") or []
            state = env_state(
                bool(played[key].get("isEnabledInCurrentEnvironment")),
                strategies,
                int(event["id"]) if event else 0,
                event,
            )
            flags.append(flag_from_feature(feature, {environment: state.flag_state(environment)}))
        self._listings[environment] = _Listing(state_top, meta_top, now, flags)
        return list(flags)
