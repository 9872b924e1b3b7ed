"""Fuzzy search over flags that keeps up with typing on 50,000 flags.

    index = FlagIndex(flags, environment="prod")
    index.search("chk pay flow")            # abbreviations, typos, words in any order
    index.search("tag:checkout state:on stale")
    index.update(flag); index.remove(key)   # live updates, cheap

How it stays fast (numbers: benchmarks/bench_search.py, README "Search"):
- Flags are broken into words (key, name, tags, owner). The vocabulary of distinct words is small next to the
  number of flags, so a typed word is scored against the vocabulary once (vocab.VocabScorer, C-speed
  primitives), and the per-flag score is a numpy gather + max over each flag's word occurrences (reduceat),
  or a walk over the postings lists of the few matching words (tables.Postings).
- Two key-level signals are also vectorised: the key's initials ("cnf" -> checkout-new-flow) through a sorted
  list and bisect, and "letters in order anywhere in the key" (fzf's notion of a match) through rapidfuzz's
  bit-parallel LCS, narrowed by a letter bitmask and as the word grows (tables.LettersInOrder).
- Per-word flag scores are cached, so while typing "flow chec" only the last word is scored again.
- Ranking is a radix sort of int16 scores over candidates already in tie-break order (tables.KeyOrder);
  only the best RERANK candidates get the precise per-flag pass in Python (score.rerank).
- Live updates: a state change is O(1); a new or renamed flag is appended and the arrays grow once at the next
  search; a removal masks the slot; the index compacts itself when a quarter of its slots are dead.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

import numpy as np

from flagops.model import Flag, Stage
from flagops.search.query import Filter, ParsedQuery, parse_query, words_of
from flagops.search.score import rerank
from flagops.search.tables import KeyOrder, LettersInOrder, Postings
from flagops.search.vocab import VocabScorer

__all__ = ["FlagIndex", "ParsedQuery", "parse_query"]

RERANK = 200  # candidates that get the precise per-flag pass
_CACHE_SIZE = 32  # typed words whose per-flag scores are kept (200 KB each at 50k flags)
# How much a word counts by where it was found; the key's first word a little more ("checkout-*" for "checkout").
_KEY_FIRST, _KEY, _NAME, _TAG, _OWNER = 1.0, 0.97, 0.9, 0.85, 0.8
_ACROSS_WORDS = np.float32(0.35)  # provisional score of an across-words match, made precise in the rerank


def _text_signature(flag: Flag) -> tuple[str, str, tuple[str, ...], str]:
    return (flag.key, flag.name, tuple(flag.tags), flag.owner)


class FlagIndex:
    """A search index over flags. Not thread-safe: use it from one thread (the UI's)."""

    def __init__(self, flags: Iterable[Flag], environment: str | None = None, now: datetime | None = None) -> None:
        """`environment`: whose state `state:on|off` looks at (None: on in any environment).
        `now`: the time `stale` compares sunset dates with (None: the current time at each search)."""
        self._environment = environment
        self._now = now
        self._build(list(flags))

    @property
    def environment(self) -> str | None:
        return self._environment

    # ---- building -------------------------------------------------------------------------------

    def _build(self, flags: list[Flag]) -> None:
        latest: dict[str, Flag] = {}
        for flag in flags:
            latest[flag.key] = flag  # a key given twice: the last one wins, as with update()
        self._flags: list[Flag | None] = []
        self._slot_of: dict[str, int] = {}
        self._vocab: list[str] = [""]  # word id 0: sentinel occurrence so that every flag has one
        self._word_id: dict[str, int] = {"": 0}
        self._ids_cache: dict[str, list[int]] = {}
        self._vocab_scorer: VocabScorer | None = None
        self._key_words: list[list[int]] = []
        self._keys_lower: list[str] = []
        self._initials: list[tuple[str, int]] = []
        self._tag_slots: dict[str, list[int]] = {}
        self._owner_slots: dict[str, list[int]] = {}
        occ_word: list[int] = []
        occ_weight: list[float] = []
        occ_start: list[int] = []
        alive: list[bool] = []
        for flag in latest.values():
            occ_start.append(len(occ_word))
            words, weights = self._add_slot(flag)
            occ_word += words
            occ_weight += weights
            alive.append(True)
        self._occ_word = np.array(occ_word, dtype=np.int32)
        self._occ_weight = np.array(occ_weight, dtype=np.float32)
        self._occ_start = np.array(occ_start, dtype=np.int64)
        self._alive = np.array(alive, dtype=bool)
        self._initials.sort()
        self._enabled = np.array([self._is_on(f) for f in latest.values()], dtype=bool)
        self._stage_stale = np.array(
            [f.stage in (Stage.DEPRECATED, Stage.RETIRED) for f in latest.values()], dtype=bool
        )
        self._sunset = np.array([_timestamp(f.sunset_at) for f in latest.values()], dtype=np.float64)
        self._dead = 0
        self._pending_words: list[int] = []
        self._pending_weights: list[float] = []
        self._pending_slots: list[tuple[int, bool, bool, float]] = []  # (occurrence start, on, stage stale, sunset)
        self._pending_dead: list[int] = []
        self._structure_changed()
        self._orders = KeyOrder(self._keys_lower)
        self._postings = Postings(self._occ_word, self._occ_weight, self._occ_start)

    def _add_slot(self, flag: Flag) -> tuple[list[int], list[float]]:
        """Registers a flag in a new slot; returns its word occurrences (ids, weights) for the caller to store."""
        slot = len(self._flags)
        self._flags.append(flag)
        self._slot_of[flag.key] = slot
        key_words = [self._intern(w) for w in words_of(flag.key)]
        self._key_words.append(key_words)
        self._keys_lower.append(flag.key.casefold())
        initials = "".join(self._vocab[w][0] for w in key_words)
        if initials:
            self._initials.append((initials, slot))
        # Each word once, at its best weight: fields go in falling weight, so the first sighting wins.
        best: dict[int, float] = {0: 0.0}
        for pos, word in enumerate(key_words):
            best.setdefault(word, _KEY_FIRST if pos == 0 else _KEY)
        for word in self._ids_of(flag.name or ""):  # `or ""`: adapters' data is not always what the types say
            best.setdefault(word, _NAME)
        for tag in flag.tags:
            for word in self._ids_of(tag, cache=True):
                best.setdefault(word, _TAG)
        for word in self._ids_of(flag.owner or "", cache=True):
            best.setdefault(word, _OWNER)
        for tag in flag.tags:
            self._tag_slots.setdefault(tag.casefold(), []).append(slot)
        self._owner_slots.setdefault((flag.owner or "").casefold(), []).append(slot)
        return list(best), list(best.values())

    def _ids_of(self, text: str, cache: bool = False) -> list[int]:
        """Word ids of a name, tag or owner; tags and owners repeat across thousands of flags, so cached."""
        if cache:
            found = self._ids_cache.get(text)
            if found is not None:
                return found
        ids = [self._intern(w) for w in words_of(text)]
        if cache:
            self._ids_cache[text] = ids
        return ids

    def _intern(self, word: str) -> int:
        found = self._word_id.get(word)
        if found is None:
            found = self._word_id[word] = len(self._vocab)
            self._vocab.append(word)
        return found

    def _is_on(self, flag: Flag) -> bool:
        if self._environment is None:
            return any(s.enabled for s in flag.states.values())
        state = flag.states.get(self._environment)
        return state is not None and state.enabled

    def _structure_changed(self) -> None:
        self._word_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vocab_cache: dict[str, np.ndarray] = {}
        self._flag_array: np.ndarray | None = None  # the flags as a numpy object array: fast fancy indexing
        self._in_order = LettersInOrder(self._keys_lower, cache_size=_CACHE_SIZE // 2)

    # ---- live updates ---------------------------------------------------------------------------

    def update(self, flag: Flag) -> None:
        """Adds or replaces a flag. A change of state only (the common case) costs O(1); a new or renamed
        flag is appended in O(1) too, and the arrays are grown once, at the next search, however many came."""
        slot = self._slot_of.get(flag.key)
        if slot is not None:
            old = self._flags[slot]
            if old is not None and _text_signature(old) == _text_signature(flag):
                self._flush()
                self._flags[slot] = flag
                if self._flag_array is not None:
                    self._flag_array[slot] = flag
                self._enabled[slot] = self._is_on(flag)
                self._stage_stale[slot] = flag.stage in (Stage.DEPRECATED, Stage.RETIRED)
                self._sunset[slot] = _timestamp(flag.sunset_at)
                return
            self._kill_slot(slot)
        start = len(self._occ_word) + len(self._pending_words)
        words, weights = self._add_slot(flag)
        self._orders.add(len(self._flags) - 1, self._keys_lower[-1])
        if self._initials and self._initials[-1][1] == len(self._flags) - 1:
            bisect.insort(self._initials, self._initials.pop())
        self._pending_words += words
        self._pending_weights += weights
        self._pending_slots.append(
            (start, self._is_on(flag), flag.stage in (Stage.DEPRECATED, Stage.RETIRED), _timestamp(flag.sunset_at))
        )
        self._structure_changed()

    def _flush(self) -> None:
        """Grows the numpy arrays by the flags appended since the last search."""
        if not self._pending_slots:
            return
        starts, enabled, stage_stale, sunsets = zip(*self._pending_slots, strict=True)
        self._occ_word = np.concatenate([self._occ_word, np.array(self._pending_words, dtype=np.int32)])
        self._occ_weight = np.concatenate([self._occ_weight, np.array(self._pending_weights, dtype=np.float32)])
        self._occ_start = np.concatenate([self._occ_start, np.array(starts, dtype=np.int64)])
        self._alive = np.concatenate([self._alive, np.ones(len(starts), dtype=bool)])
        self._enabled = np.concatenate([self._enabled, np.array(enabled, dtype=bool)])
        self._stage_stale = np.concatenate([self._stage_stale, np.array(stage_stale, dtype=bool)])
        self._sunset = np.concatenate([self._sunset, np.array(sunsets, dtype=np.float64)])
        for slot in self._pending_dead:
            self._alive[slot] = False
        self._pending_words, self._pending_weights, self._pending_slots, self._pending_dead = [], [], [], []
        if self._postings.stale(len(self._occ_word)):
            self._postings = Postings(self._occ_word, self._occ_weight, self._occ_start)

    def remove(self, key: str) -> None:
        """Forgets a flag (archived, deleted). Unknown keys are ignored. O(1): its slot is masked out, and
        the index is rebuilt once a quarter of the slots are dead."""
        slot = self._slot_of.get(key)
        if slot is not None:
            self._kill_slot(slot)

    def _kill_slot(self, slot: int) -> None:
        flag = self._flags[slot]
        if flag is not None:
            del self._slot_of[flag.key]
        self._flags[slot] = None
        if slot < len(self._alive):
            self._alive[slot] = False
        else:
            self._pending_dead.append(slot)  # appended since the last search: masked when the arrays grow
        self._dead += 1

    def _compact_if_needed(self) -> None:
        if self._dead > 1000 and self._dead * 4 > len(self._flags):
            self._build([f for f in self._flags if f is not None])

    def clear_cache(self) -> None:
        """Forgets the per-word scores kept to make typing fast (memory; a cold benchmark)."""
        self._word_cache.clear()
        self._vocab_cache.clear()
        self._in_order.clear_cache()

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    def get(self, key: str) -> Flag | None:
        slot = self._slot_of.get(key)
        return None if slot is None else self._flags[slot]

    # ---- searching ------------------------------------------------------------------------------

    def search(self, query: str, limit: int | None = None) -> list[Flag]:
        """Flags matching `query`, best first; "" -> all flags by key. See flagops.search.query for the syntax."""
        if limit is not None and limit <= 0:
            return []
        self._flush()
        self._compact_if_needed()
        parsed = parse_query(query)
        mask = self._filter_mask(parsed.filters)
        if not parsed.words:
            slots = self._orders.arrays()[0]
            slots = slots[mask[slots]]
            return self._flags_at(slots[:limit] if limit is not None else slots)
        total = np.zeros(len(self._flags), dtype=np.float32)
        used: list[str] = []
        for word in parsed.words:
            scores = self._scores_for(word)
            if not scores[self._alive].any():
                continue  # matches no flag at all: ignore it rather than empty the list (see README)
            used.append(word)
            mask &= scores > 0
            total += scores
        if not used:
            return []
        ranked = self._rank(mask, total)
        if ranked.size == 0:
            return []
        head = self._rerank(ranked[:RERANK], total, used, parsed.phrase)
        if limit is not None and limit <= len(head):
            return self._flags_at(head[:limit])
        rest = ranked[RERANK:] if limit is None else ranked[RERANK:limit]
        return self._flags_at(head) + self._flags_at(rest)

    def _flags_at(self, slots: list[int] | np.ndarray) -> list[Flag]:
        # Only live slots get here (masks include _alive), so no None filtering on this hot path.
        if self._flag_array is None:
            self._flag_array = np.empty(len(self._flags), dtype=object)
            self._flag_array[:] = self._flags
        return cast("list[Flag]", self._flag_array[np.asarray(slots, dtype=np.int64)].tolist())

    def _rank(self, mask: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Matching slots, best score first, ties by (key length, key).

        Walks the slots in tie-break order and then sorts stably by score quantised to int16, which numpy
        sorts with a radix sort: about 10x faster than a general sort of 40k composite keys."""
        by_tiebreak = self._orders.arrays()[1]
        in_order = by_tiebreak[mask[by_tiebreak]]
        quantised = np.clip(np.rint(total[in_order] * -1000.0), -32767, 0).astype(np.int16)
        ranked: np.ndarray = in_order[np.argsort(quantised, kind="stable")]  # numpy types fancy indexing as Any
        return ranked

    def _scores_for(self, word: str) -> np.ndarray:
        """Per slot: how well the typed `word` matches the flag (0 = not at all). Cached per word."""
        cached = self._word_cache.get(word)
        if cached is not None:
            self._word_cache.move_to_end(word)
            return cached
        scores = self._word_level(self._vocab_scores(word))
        if len(word) >= 2 and len(self._flags):
            self._add_initials(word, scores)
        if len(word) >= 3 and len(self._flags):  # two letters in order somewhere: nearly every key, no signal
            across = self._in_order.find(word)
            scores[across] = np.maximum(scores[across], _ACROSS_WORDS)
        self._word_cache[word] = scores
        if len(self._word_cache) > _CACHE_SIZE:
            self._word_cache.popitem(last=False)
        return scores

    def _word_level(self, per_word: np.ndarray) -> np.ndarray:
        """Best (word score x field weight) over each flag's words. A gather + reduceat over all word
        occurrences, or, when few vocabulary words match (the usual case past 3 letters), a walk over just
        their postings."""
        nslots = len(self._flags)
        if not nslots:
            return np.zeros(0, dtype=np.float32)
        matched = np.flatnonzero(per_word)
        extra = len(self._occ_word) - self._postings.covered
        if (self._postings.size(matched) + extra) * 3 > len(self._occ_word):
            gathered = per_word[self._occ_word] * self._occ_weight
            return np.maximum.reduceat(gathered, self._occ_start)
        scores = np.zeros(nslots, dtype=np.float32)
        self._postings.scatter_max(per_word, matched, scores, self._occ_word, self._occ_weight, self._occ_start)
        return scores

    def _vocab_scores(self, word: str) -> np.ndarray:
        per_word = self._vocab_cache.get(word)
        if per_word is None:
            if len(self._vocab_cache) >= 4 * _CACHE_SIZE:
                self._vocab_cache.clear()
            if self._vocab_scorer is None or self._vocab_scorer.size != len(self._vocab):
                self._vocab_scorer = VocabScorer(self._vocab)
            per_word = self._vocab_cache[word] = self._vocab_scorer.scores(word)
        return per_word

    def _add_initials(self, typed: str, scores: np.ndarray) -> None:
        lo = bisect.bisect_left(self._initials, (typed,))
        hi = bisect.bisect_left(self._initials, (typed + "\U0010ffff",))
        if lo == hi:
            return
        hits = self._initials[lo:hi]
        slots = np.array([s for _, s in hits], dtype=np.int64)
        lengths = np.array([len(i) for i, _ in hits], dtype=np.float32)
        value = np.where(lengths == len(typed), np.float32(0.9), 0.6 + 0.3 * len(typed) / lengths)
        scores[slots] = np.maximum(scores[slots], value.astype(np.float32))

    def _rerank(self, slots: np.ndarray, total: np.ndarray, typed: list[str], as_typed: str) -> list[int]:
        candidates = slots.tolist()
        # Only the candidates' key words are looked up: a dict each, not the whole vocabulary as a list.
        needed = np.unique(np.fromiter((w for s in candidates for w in self._key_words[s]), dtype=np.int64))
        needed_ids = needed.tolist()
        return rerank(
            candidates,
            totals=total[slots].tolist(),
            tiebreak=self._orders.arrays()[2][slots].tolist(),
            typed=typed,
            as_typed=as_typed,
            keys=self._keys_lower,
            key_words=self._key_words,
            per_word=[dict(zip(needed_ids, self._vocab_scores(w)[needed].tolist(), strict=True)) for w in typed],
            token_scores=[self._scores_for(w)[slots].tolist() for w in typed],
        )

    # ---- filters --------------------------------------------------------------------------------

    def _filter_mask(self, filters: tuple[Filter, ...]) -> np.ndarray:
        mask = self._alive.copy()
        for f in filters:
            if f.kind == "stale":
                now = self._now or datetime.now(UTC)
                hit = self._stage_stale | (self._sunset <= _timestamp(now))
            elif f.kind == "state":
                hit = self._enabled if f.value == "on" else ~self._enabled if f.value == "off" else self._none()
            elif f.kind == "tag":
                hit = self._slots_mask(
                    s for tag, slots in self._tag_slots.items() if tag.startswith(f.value) for s in slots
                )
            else:
                hit = self._slots_mask(
                    s for owner, slots in self._owner_slots.items() if f.value in owner for s in slots
                )
            mask &= ~hit if f.negated else hit
        return mask

    def _none(self) -> np.ndarray:
        return np.zeros(len(self._flags), dtype=bool)

    def _slots_mask(self, slots: Iterable[int]) -> np.ndarray:
        mask = self._none()
        mask[np.fromiter(slots, dtype=np.int64)] = True
        return mask


def _timestamp(moment: datetime | None) -> float:
    if moment is None:
        return float("inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive datetimes are taken as UTC
    return moment.timestamp()
