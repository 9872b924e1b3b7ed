"""Scoring pieces for flagops.search: the score scale, the typo budget, and the precise (slower,
per-candidate) across-words score used to rerank the best few hundred. search_vocab applies the scale
to a whole vocabulary at C speed.

Score scale for one typed word against a flag (the flag's score is the sum over typed words):
    1.00  the same word                      "checkout"  ~ checkout
    0.80-0.95 a prefix of a word             "check"     ~ checkout   (more of the word typed -> higher)
    0.62-0.77 an abbreviation of a word      "chk"       ~ checkout   (same first letter, letters in order)
    0.55-0.65 inside a word                  "pay"       ~ applepay
    0.60-0.90 the key's initials             "cnf"       ~ checkout-new-flow (0.9 when all initials typed)
    0.38-0.60 a typo of a word               "chekcout"  ~ checkout (1 edit; 2 from 8 letters on)
    0.30-0.75 letters in order across words  "chkpay"    ~ checkout-payments (only found by the fallback)
Words from the key count fully; name words x0.9, tags x0.85, owner x0.8 (see search.py).
"""

from __future__ import annotations


def typo_budget(n: int) -> int:
    """Edits tolerated in a typed word of n letters: none for short words (too many false friends)."""
    if n < 4:
        return 0
    return 1 if n < 8 else 2


def _is_boundary(text: str, pos: int) -> bool:
    return pos == 0 or not text[pos - 1].isalnum()


def across_words_score(typed: str, key: str) -> float:
    """fzf-style: letters of `typed` in order anywhere in `key`, rewarding word starts and runs.

    Greedy: keep a run going when the next letter follows; otherwise jump to the next word start that
    has the letter, else to its next occurrence. Returns 0 when `typed` is not a subsequence of `key`."""
    pos = 0
    total = 0.0
    prev = -2
    for ch in typed:
        if pos < len(key) and key[pos] == ch and prev == pos - 1:
            at = pos
            total += 0.8
        else:
            at = -1
            probe = key.find(ch, pos)
            first = probe
            while probe != -1:
                if _is_boundary(key, probe):
                    at = probe
                    break
                probe = key.find(ch, probe + 1)
            if at == -1:
                if first == -1:
                    return 0.0
                at = first
                total += 0.2
            else:
                total += 1.0
        prev = at
        pos = at + 1
    return 0.30 + 0.45 * total / len(typed)
