"""The in-memory copy of the flags that every read is served from, kept so a write costs the same at 50,000
flags as at 1,000.

- The sorted key order is rebuilt only when the key set changes (a create or an archive), never on a state
  change.
- Each flag keeps the JSON text of its metadata and of each environment's state — the same text the store
  wrote to the database, so nothing is serialized twice; a list entry is those texts put together.
- The GET /v1/flags body of an environment is made of chunks of CHUNK flags, each encoded once. A state
  change only marks its flag's chunk stale; the next list re-encodes that one chunk and joins the rest
  (a memory copy), and the joined body is cached until the environment's list version moves.

Writers (request threads, the replica listener) publish under `lock`; list builds hold it too, so a body is
never a mix of two states of the model.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from flagops.model import Flag

CHUNK = 256


@dataclass
class _EnvList:
    order: list[str]  # the key order these chunks were laid out for (identity checked)
    pos: dict[str, int]
    chunks: list[bytes | None]  # None: stale, re-encode at the next list
    body: tuple[int, bytes] | None = None  # (list version, whole body)


@dataclass
class Published:
    """One flag as a write left it: the object, and the JSON texts of what changed."""

    flag: Flag
    meta_text: str | None = None  # None: metadata unchanged
    state_texts: dict[str, str] = field(default_factory=dict)  # environment -> state JSON


class ReadModel:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flags: dict[str, Flag] = {}
        self.archived: dict[str, Flag] = {}
        self.order: list[str] = []  # sorted live keys; replaced, never changed in place (readers iterate it)
        self.env_version: dict[str, int] = {}
        self._meta_text: dict[str, str] = {}
        self._state_text: dict[tuple[str, str], str] = {}
        self._lists: dict[str, _EnvList] = {}

    def reset(self, live: list[Published], archived: list[Flag], env_version: dict[str, int]) -> None:
        with self.lock:
            self.flags = {p.flag.key: p.flag for p in live}
            self.archived = {f.key: f for f in archived}
            self._meta_text = {p.flag.key: p.meta_text or "{}" for p in live}
            self._state_text = {(p.flag.key, env): text for p in live for env, text in p.state_texts.items()}
            self.order = sorted(self.flags)
            self.env_version = dict(env_version)
            self._lists = {}

    def publish(self, changed: list[Published], archived: list[Flag], env_version: dict[str, int]) -> None:
        """Make committed changes visible: content first, list versions last (under the lock, so a list
        build never sees one without the other)."""
        with self.lock:
            new_keys = []
            for p in changed:
                key = p.flag.key
                if key not in self.flags:
                    new_keys.append(key)
                    self.archived.pop(key, None)
                self.flags[key] = p.flag
                if p.meta_text is not None:
                    self._meta_text[key] = p.meta_text
                for env, text in p.state_texts.items():
                    self._state_text[(key, env)] = text
                self._mark_stale(key, list(p.state_texts) if p.meta_text is None else list(self._lists))
            gone = []
            for flag in archived:
                if self.flags.pop(flag.key, None) is not None:
                    gone.append(flag.key)
                    self._meta_text.pop(flag.key, None)
                    for env in self.env_version:
                        self._state_text.pop((flag.key, env), None)
                self.archived[flag.key] = flag
            if new_keys or gone:
                order = [k for k in self.order if k in self.flags] if gone else list(self.order)
                for key in new_keys:
                    bisect.insort(order, key)
                self.order = order  # the lists see a new order object and lay their chunks out again
            self.env_version.update(env_version)
            for env in env_version:
                env_list = self._lists.get(env)
                if env_list is not None:
                    env_list.body = None

    def _mark_stale(self, key: str, environments: Iterable[str]) -> None:
        for env in environments:
            env_list = self._lists.get(env)
            if env_list is not None and env_list.order is self.order and key in env_list.pos:
                env_list.chunks[env_list.pos[key] // CHUNK] = None

    def list_body(self, environment: str) -> tuple[int, bytes]:
        """The GET /v1/flags body of one environment and the list version it shows."""
        with self.lock:
            version = self.env_version[environment]
            env_list = self._lists.get(environment)
            if env_list is not None and env_list.body is not None and env_list.body[0] == version:
                return env_list.body
            if env_list is None or env_list.order is not self.order:
                order = self.order
                env_list = _EnvList(
                    order, {k: i for i, k in enumerate(order)}, [None] * ((len(order) + CHUNK - 1) // CHUNK)
                )
                self._lists[environment] = env_list
            env_json = json.dumps(environment, ensure_ascii=False)
            for i, chunk in enumerate(env_list.chunks):
                if chunk is None:
                    keys = env_list.order[i * CHUNK : (i + 1) * CHUNK]
                    env_list.chunks[i] = ",".join(self._entry(k, environment, env_json) for k in keys).encode()
            parts = [b'{"environment":%s,"version":%d,"flags":[' % (env_json.encode(), version)]
            for chunk in env_list.chunks:
                if chunk:
                    parts += (chunk, b",")
            parts[-1] = b"]}" if len(parts) > 1 else parts[-1] + b"]}"
            body = b"".join(parts)  # the one copy of the whole body
            env_list.body = (version, body)
            return env_list.body

    def _entry(self, key: str, environment: str, env_json: str) -> str:
        """The flag as the list serves it: its metadata with only this environment's state (the text
        `codec.flag_json(flag, environment)` would encode to: "environments" is its last member)."""
        state = self._state_text.get((key, environment))
        states = f"{{{env_json}:{state}}}" if state is not None else "{}"
        return f'{self._meta_text[key][:-1]},"environments":{states}}}'
