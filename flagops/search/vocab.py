"""Scoring one typed word against every distinct word of the index, without a Python loop per word.

The index's vocabulary is small next to its flags (hundreds to tens of thousands of words for 50,000 flags),
but a real organisation's keys, names and owners can still hold 30k distinct words, so each kind of match is
found with a C-speed primitive: prefixes by bisect on the sorted words, inside-a-word by str.find on all
words joined, abbreviations by rapidfuzz's bit-parallel LCS over the words sharing the first letter, typos
by rapidfuzz OSA distance. The score scale is documented in flagops.search.score.
"""

from __future__ import annotations

import bisect

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, LCSseq

from flagops.search.score import typo_budget

_SEP = "\x00"  # joins the words for substring search; words never contain it (they are letters and digits)


class VocabScorer:
    """Built once per vocabulary (the index rebuilds it when words were added)."""

    def __init__(self, vocab: list[str]) -> None:
        self.size = len(vocab)
        self._vocab = vocab
        self._lengths = np.array([max(len(w), 1) for w in vocab], dtype=np.float32)
        order = sorted(range(len(vocab)), key=vocab.__getitem__)
        self._sorted = [vocab[i] for i in order]
        self._sorted_ids = np.array(order, dtype=np.int64)
        self._joined = _SEP + _SEP.join(vocab) + _SEP
        starts = []
        pos = 1
        for word in vocab:
            starts.append(pos)
            pos += len(word) + 1
        self._starts = np.array(starts, dtype=np.int64)
        by_first: dict[str, list[int]] = {}
        for i, word in enumerate(vocab):
            if word:
                by_first.setdefault(word[0], []).append(i)
        self._by_first = {ch: (np.array(ids, dtype=np.int64), [vocab[i] for i in ids]) for ch, ids in by_first.items()}
        self._prefixes: dict[int, list[str]] = {}

    def scores(self, typed: str) -> np.ndarray:
        n = len(typed)
        scores = np.zeros(self.size, dtype=np.float32)
        if not n:
            return scores
        self._inside(typed, scores)
        self._abbreviations(typed, scores)
        self._prefix(typed, scores)  # last: a prefix beats the other readings of the same word
        budget = typo_budget(n)
        if budget:
            self._typos(typed, scores, budget)
        return scores

    def _prefix(self, typed: str, scores: np.ndarray) -> None:
        lo = bisect.bisect_left(self._sorted, typed)
        hi = bisect.bisect_left(self._sorted, typed + "\U0010ffff", lo)
        if lo == hi:
            return
        ids = self._sorted_ids[lo:hi]
        lengths = self._lengths[ids]
        scores[ids] = np.where(lengths == len(typed), np.float32(1.0), 0.80 + 0.15 * len(typed) / lengths)

    def _inside(self, typed: str, scores: np.ndarray) -> None:
        if len(typed) < 2 or _SEP in typed:
            return
        found: list[int] = []
        pos = self._joined.find(typed)
        while pos != -1:
            found.append(pos)
            pos = self._joined.find(typed, pos + 1)
        if not found:
            return
        ids = np.unique(np.searchsorted(self._starts, np.array(found, dtype=np.int64), side="right") - 1)
        scores[ids] = 0.55 + 0.10 * len(typed) / self._lengths[ids]

    def _abbreviations(self, typed: str, scores: np.ndarray) -> None:
        """Same first letter, all letters in order: "chk" ~ checkout, "pmt" ~ payment."""
        if len(typed) < 2 or typed[0] not in self._by_first:
            return
        ids, words = self._by_first[typed[0]]
        lcs = process.cdist([typed], words, scorer=LCSseq.similarity, score_cutoff=len(typed), dtype=np.int32)[0]
        hit = ids[(lcs >= len(typed)) & (self._lengths[ids] > len(typed))]
        scores[hit] = np.maximum(scores[hit], 0.62 + 0.15 * len(typed) / self._lengths[hit])

    def _typos(self, typed: str, scores: np.ndarray, budget: int) -> None:
        """OSA (insert, delete, substitute, swap two neighbours) against whole words and against word prefixes
        of the typed length (a typo made while still typing: "recomend" ~ recommendations)."""
        n = len(typed)
        prefixes = self._prefixes.get(n)
        if prefixes is None:
            prefixes = self._prefixes[n] = [w[:n] if len(w) > n else "" for w in self._vocab]
        whole = process.cdist([typed], self._vocab, scorer=OSA.distance, score_cutoff=budget, dtype=np.int32)[0]
        partial = process.cdist([typed], prefixes, scorer=OSA.distance, score_cutoff=budget, dtype=np.int32)[0]
        candidates = np.flatnonzero(((whole <= budget) | (partial <= budget)) & (scores == 0))
        candidates = candidates[candidates > 0]  # the "" sentinel
        if n < 6:  # short typed words keep their first letter, or "flow" would find every "slow"
            candidates = np.array([i for i in candidates.tolist() if self._vocab[i][0] == typed[0]], dtype=np.int64)
        if candidates.size == 0:
            return
        lengths = self._lengths[candidates]
        w = whole[candidates].astype(np.float32)
        p = partial[candidates].astype(np.float32)
        as_whole = 0.50 + 0.10 * np.minimum(n / lengths, 1.0) - 0.12 * (w - 1)
        as_prefix = 0.45 + 0.05 * n / lengths - 0.12 * (p - 1)
        scores[candidates] = np.where(w <= budget, as_whole, as_prefix)
