"""Derived tables of flagops.search's index, kept up to date incrementally so that a flag created during an
incident does not cost a re-sort of 50,000 keys or a rebuild of every postings list.

Slots are positions in the index; a removed or replaced flag leaves a dead slot behind that callers mask out
(the index compacts itself once a quarter of its slots are dead).
"""

from __future__ import annotations

import bisect

import numpy as np


class KeyOrder:
    """Slots in two orders: by key (what an empty query lists) and by (key length, key) (the order of equal
    scores: the shorter, more exact key first). New slots are inserted with bisect."""

    def __init__(self, keys: list[str]) -> None:
        by_key = sorted(range(len(keys)), key=keys.__getitem__)
        self._by_key = by_key
        self._by_key_keys = [keys[s] for s in by_key]
        by_length = sorted(range(len(keys)), key=lambda s: (len(keys[s]), keys[s]))
        self._by_length = by_length
        self._by_length_keys = [(len(keys[s]), keys[s]) for s in by_length]
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, slot: int, key: str) -> None:
        at = bisect.bisect_right(self._by_key_keys, key)
        self._by_key_keys.insert(at, key)
        self._by_key.insert(at, slot)
        at = bisect.bisect_right(self._by_length_keys, (len(key), key))
        self._by_length_keys.insert(at, (len(key), key))
        self._by_length.insert(at, slot)
        self._arrays = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slots by key, slots by tie-break, each slot's place in the tie-break order)."""
        if self._arrays is None:
            by_key = np.array(self._by_key, dtype=np.int64)
            by_length = np.array(self._by_length, dtype=np.int64)
            place = np.zeros(by_length.size, dtype=np.int64)
            place[by_length] = np.arange(by_length.size, dtype=np.int64)
            self._arrays = (by_key, by_length, place)
        return self._arrays


class Postings:
    """word id -> the slots whose flag has that word, with the field weight there (key, name, tag, owner).

    Built from the index's occurrence arrays (each slot's words, deduplicated, slots in order); occurrences
    appended after the build are handled on the side (`extra_*`) until they are a tenth of the whole."""

    def __init__(self, occ_word: np.ndarray, occ_weight: np.ndarray, occ_start: np.ndarray) -> None:
        total = len(occ_word)
        slot_of = np.repeat(np.arange(len(occ_start), dtype=np.int64), np.diff(np.append(occ_start, total)))
        by_word = np.argsort(occ_word, kind="stable")
        self.vocab_size = int(occ_word.max()) + 1 if total else 0
        self.bounds = np.searchsorted(occ_word[by_word], np.arange(self.vocab_size + 1))
        self.slots = slot_of[by_word]
        self.weights = occ_weight[by_word]
        self.covered = total  # occurrences [0, covered) are in the lists

    def stale(self, occurrences: int) -> bool:
        return (occurrences - self.covered) * 10 > occurrences

    def size(self, words: np.ndarray) -> int:
        """How many postings `words` have in the lists."""
        inside = words[words < self.vocab_size]
        return int((self.bounds[inside + 1] - self.bounds[inside]).sum())

    def scatter_max(self, per_word: np.ndarray, words: np.ndarray, scores: np.ndarray,
                    occ_word: np.ndarray, occ_weight: np.ndarray, occ_start: np.ndarray) -> None:
        """scores[slot] = max(scores[slot], per_word[w] * weight) for every posting of `words`."""
        for w in words[words < self.vocab_size].tolist():
            lo, hi = int(self.bounds[w]), int(self.bounds[w + 1])
            slots = self.slots[lo:hi]  # unique within one word: a slot lists each of its words once
            scores[slots] = np.maximum(scores[slots], per_word[w] * self.weights[lo:hi])
        if self.covered < len(occ_word):
            values = per_word[occ_word[self.covered:]] * occ_weight[self.covered:]
            hit = np.flatnonzero(values)
            if hit.size:
                slots = np.searchsorted(occ_start, hit + self.covered, side="right") - 1
                np.maximum.at(scores, slots, values[hit])
