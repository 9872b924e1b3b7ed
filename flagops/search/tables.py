"""Derived tables of flagops.search's index, kept up to date incrementally so that a flag created during an
incident does not cost a re-sort of 50,000 keys or a rebuild of every postings list.

Slots are positions in the index; a removed or replaced flag leaves a dead slot behind that callers mask out
(the index compacts itself once a quarter of its slots are dead).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq


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

    def scatter_max(
        self,
        per_word: np.ndarray,
        words: np.ndarray,
        scores: np.ndarray,
        occ_word: np.ndarray,
        occ_weight: np.ndarray,
        occ_start: np.ndarray,
    ) -> None:
        """scores[slot] = max(scores[slot], per_word[w] * weight) for every posting of `words`."""
        for w in words[words < self.vocab_size].tolist():
            lo, hi = int(self.bounds[w]), int(self.bounds[w + 1])
            slots = self.slots[lo:hi]  # unique within one word: a slot lists each of its words once
            scores[slots] = np.maximum(scores[slots], per_word[w] * self.weights[lo:hi])
        if self.covered < len(occ_word):
            values = per_word[occ_word[self.covered :]] * occ_weight[self.covered :]
            hit = np.flatnonzero(values)
            if hit.size:
                slots = np.searchsorted(occ_start, hit + self.covered, side="right") - 1
                np.maximum.at(scores, slots, values[hit])


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_BYTE_BITS = np.zeros(256, dtype=np.uint64)
for _i, _ch in enumerate(_ALNUM):
    _BYTE_BITS[ord(_ch)] = np.uint64(1) << np.uint64(_i)


def _letter_mask(word: str) -> np.uint64 | None:
    """The bits of `word`'s letters, or None when it has a letter outside a-z0-9 (then no prefilter)."""
    mask = 0
    for ch in word:
        at = _ALNUM.find(ch)
        if at < 0:
            return None
        mask |= 1 << at
    return np.uint64(mask)


class LettersInOrder:
    """Which keys hold the letters of a typed word in order, anywhere (fzf's notion of a match), by
    rapidfuzz's bit-parallel LCS (~2 ms over 50,000 keys). Narrowed first: a key that lacks "chec" in order
    lacks "chek" too, so only the keys that matched the word one letter shorter are checked again; and a key
    must hold every letter at all (a bitmask test over all keys in one numpy operation).

    `keys` is the index's own list of casefolded keys (appended to in place); call reset() when it grows."""

    def __init__(self, keys: list[str], cache_size: int) -> None:
        self._keys = keys
        self._cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._keys_array: np.ndarray | None = None
        self._masks: np.ndarray | None = None

    def clear_cache(self) -> None:
        self._cache.clear()

    def find(self, word: str) -> np.ndarray:
        """Slots (ascending) whose key holds `word`'s letters in order."""
        base = self._cache.get(word[:-1])
        if base is None:
            letters = _letter_mask(word)
            if letters is not None:
                base = np.flatnonzero((self._letter_masks() & letters) == letters)
        if base is None:
            candidates = self._keys
        else:
            if self._keys_array is None:
                self._keys_array = np.empty(len(self._keys), dtype=object)
                self._keys_array[:] = self._keys
            candidates = self._keys_array[base].tolist()
        lcs = process.cdist([word], candidates, scorer=LCSseq.similarity, score_cutoff=len(word), dtype=np.int32)[0]
        hits = np.flatnonzero(lcs >= len(word))
        found = hits if base is None else base[hits]
        self._cache[word] = found
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return found

    def _letter_masks(self) -> np.ndarray:
        """Per slot, a bit for each ASCII letter and digit its key holds, computed over all keys at once."""
        if self._masks is None:
            encoded = [k.encode("utf-8", "replace") for k in self._keys]
            data = np.frombuffer(b"".join(encoded) + b"\x00", dtype=np.uint8)
            starts = np.cumsum([0, *(len(e) for e in encoded[:-1])], dtype=np.int64)
            bits = _BYTE_BITS[data]
            masks = np.bitwise_or.reduceat(bits, starts) if encoded else bits[:0]
            lengths = np.array([len(e) for e in encoded], dtype=np.int64)
            masks[lengths == 0] = 0  # reduceat gives an empty key its neighbour's first byte
            self._masks = masks
        return self._masks
