"""How a flag is kept in the database: the wire JSON of its metadata (`flags.meta`) and of each environment's
state (`states.data`, `state_history.data`), as compact text, and back.

The texts stored are the texts served: the read model keeps them (readmodel.Published), so a list read is
string joins, not JSON encoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from flagops.model import Flag, FlagState
from flagops.server.limits import MAX_STORED_DEPTH, load_bounded
from flagops.server.readmodel import Published
from flagops.v1 import wire


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def state_data(state: FlagState) -> dict[str, Any]:
    return wire.state_to_json(state)


def meta_text(flag: Flag) -> str:
    """The flags.meta column: the wire Flag without its states (`environments` is its last member)."""
    meta = wire.flag_to_json(replace(flag, states={}))
    meta.pop("environments")
    return compact_json(meta)


def encode_flag(flag: Flag) -> Published:
    """Fresh JSON texts for every part of a flag."""
    return Published(flag, meta_text(flag), {env: compact_json(state_data(s)) for env, s in flag.states.items()})


def parse_flag_rows(flag_rows: list[Any], state_rows: Iterable[Any]) -> tuple[list[Published], list[Flag]]:
    """Rows of `flags` and `states` as live flags (with the stored JSON texts) and archived ones."""
    texts: dict[str, dict[str, str]] = {}
    for flag_key, env, data in state_rows:
        texts.setdefault(flag_key, {})[env] = data
    live: list[Published] = []
    archived: list[Flag] = []
    for key, meta, is_archived in flag_rows:
        flag_texts = texts.get(key, {})
        states = {env: wire.state_from_json(env, json.loads(t)) for env, t in flag_texts.items()}
        # bounded: a variant value stored before nesting was limited must not break every list read; such a
        # flag is served from a fresh encoding of what was kept, not from the stored text
        flag = replace(wire.flag_from_json(load_bounded(meta)), states=states)
        if is_archived:
            archived.append(flag)
        elif meta.count("[") + meta.count("{") >= MAX_STORED_DEPTH:
            live.append(Published(flag, meta_text(flag), flag_texts))
        else:
            live.append(Published(flag, meta, flag_texts))
    return live, archived
