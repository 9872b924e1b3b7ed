"""LiveFlags with the real flagapi backend: the search index is built after the first paint, and nothing
that happens meanwhile (a query typed early, a live change) is lost."""

from __future__ import annotations

import dataclasses
from typing import Any

from flagops.config import Profile
from flagops.model import Flag
from flagops.secrets import Secret
from flagops.session import open_backend
from flagops.tui.live.connection import ConnectionState, Link, backoff_delay
from flagops.tui.live.store import LiveFlags


async def loaded_store(service: Any) -> tuple[LiveFlags, list[Flag]]:
    backend = open_backend(Profile(name="t", url=service.url), Secret(service.read_token))
    try:
        flags = await backend.list_flags("prod")
    finally:
        await backend.aclose()
    return LiveFlags("prod"), flags


async def test_rows_before_index_then_changes_made_meanwhile_are_searchable(service: Any) -> None:
    store, flags = await loaded_store(service)
    store.replace_all(flags)
    assert not store._index_ready  # the index is being built in a thread
    assert [f.key for f in store.search("")] == sorted(f.key for f in flags)
    renamed = dataclasses.replace(flags[0], owner="zebra-team-during-build")
    store.put(renamed)
    archived = flags[1].key
    store.replace_all([renamed, *flags[2:]])  # a resync: the renamed flag, and one flag gone
    assert store._index_task is not None
    await store._index_task
    assert store._index_ready
    assert [f.key for f in store.search("owner:zebra-team-during-build")] == [renamed.key]
    assert archived not in {f.key for f in store.search("")}


async def test_a_query_typed_before_the_index_is_ready_is_answered(service: Any) -> None:
    store, flags = await loaded_store(service)
    store.replace_all(flags)
    results = store.search("checkout-new-flow")  # builds synchronously rather than answering wrongly
    assert results and results[0].key == "checkout-new-flow"
    assert store._index_ready


def test_connection_labels_and_backoff() -> None:
    assert ConnectionState(Link.LIVE).label() == "live"
    assert ConnectionState(Link.LIVE, polling=True).label() == "live (polling)"
    assert ConnectionState(Link.RECONNECTING, 2).label() == "reconnecting (2)"
    assert ConnectionState(Link.CONNECTING, 3).label() == "connecting (3)"
    assert ConnectionState(Link.FAILED, error="no").label() == "not authorized"
    delays = [backoff_delay(n) for n in range(1, 12)]
    assert delays[0] < 1 and max(delays) <= 15 * 1.2
    assert delays[5] > delays[1]
