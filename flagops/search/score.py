"""Scoring pieces for flagops.search: the score scale, the typo budget, and the precise (slower,
per-candidate) across-words score used to rerank the best few hundred. search.vocab applies the scale
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


def _next_boundary(key: str, ch: str, start: int) -> int:
    probe = key.find(ch, start)
    while probe != -1 and not _is_boundary(key, probe):
        probe = key.find(ch, probe + 1)
    return probe


def _alignment(typed: str, key: str, prefer_word_starts: bool) -> float:
    """Sum of per-letter rewards, as fzf counts them: a letter starting a word 1.0; a letter continuing a run
    as much as the run's first letter got (at least 0.5); any other letter 0.2. -1 if `typed` does not fit."""
    pos = 0
    total = 0.0
    prev = -2
    run = 0.0  # the reward of the current run's first letter
    for i, ch in enumerate(typed):
        at = -1
        if pos < len(key) and key[pos] == ch and prev == pos - 1:
            at, reward = pos, max(run, 0.5)
            # A run that breaks right after this letter may be worth less than a later word start: "pric"
            # then "he" in ops-pricing-checkout should take checkout's c, not pricing's.
            if prefer_word_starts and i + 1 < len(typed) and (pos + 1 >= len(key) or key[pos + 1] != typed[i + 1]):
                # Jump when that pays: this run is not from a word start, or the word start goes on with
                # the next letter.
                later = _next_boundary(key, ch, pos + 1)
                if later != -1 and (run < 1.0 or key[later + 1 : later + 2] == typed[i + 1]):
                    at, reward = later, 1.0
        elif prefer_word_starts:
            at = _next_boundary(key, ch, pos)
            reward = 1.0
        if at == -1:
            at = key.find(ch, pos)
            if at == -1:
                return -1.0
            reward = 1.0 if _is_boundary(key, at) else max(run, 0.5) if at == prev + 1 else 0.2
        if at != prev + 1:
            run = reward
        total += reward
        prev = at
        pos = at + 1
    return total


def across_words_score(typed: str, key: str) -> float:
    """fzf-style: letters of `typed` in order anywhere in `key`, rewarding word starts and runs.

    Greedy, preferring word starts and runs that go on; when that greedy path runs out of key (it can jump
    past letters it needs later), the plain leftmost match is scored instead. 0 when `typed` is not a
    subsequence of `key`."""
    total = _alignment(typed, key, prefer_word_starts=True)
    if total < 0:
        total = _alignment(typed, key, prefer_word_starts=False)
        if total < 0:
            return 0.0
    return 0.30 + 0.45 * total / len(typed)


def rerank(
    candidates: list[int],
    *,
    totals: list[float],
    tiebreak: list[int],
    typed: list[str],
    as_typed: str,
    keys: list[str],
    key_words: list[list[int]],
    per_word: list[dict[int, float]],
    token_scores: list[list[float]],
) -> list[int]:
    """The precise pass over the best candidates (slots), returned best first.

    On top of the vectorised score (`totals`): coverage of the key's words (prefer checkout-new-flow over
    checkout-new-flow-ios for "checkout new flow"), typed words in the key's order, the query typed as (part
    of) the key, and fzf-style alignment where a typed word matched no single word of the key.
    `per_word[i]` maps word id -> score of typed word i; `token_scores[i][n]` is typed word i's vectorised
    score for candidate n; `keys`/`key_words` are indexed by slot."""
    phrase = "-".join(typed)
    results: list[tuple[float, int, int]] = []
    for n, slot in enumerate(candidates):
        key = keys[slot]
        words = key_words[slot]
        score = totals[n]
        matched_positions: set[int] = set()
        last_pos = -2
        in_order = 0
        for i, vocab_scores in enumerate(per_word):
            best_pos, best = -1, 0.0
            for pos, w in enumerate(words):
                s = vocab_scores.get(w, 0.0)
                if s > best and pos not in matched_positions:
                    best_pos, best = pos, s
            if best_pos >= 0:
                matched_positions.add(best_pos)
                in_order += best_pos == last_pos + 1
                last_pos = best_pos
            else:
                current = token_scores[i][n]
                score += max(current, across_words_score(typed[i], key)) - current
        if words:
            score += 0.3 * len(matched_positions) / len(words)
        score += 0.08 * in_order
        if key in (as_typed, phrase):
            score += 1.0
        elif phrase and phrase in key:
            score += 0.3
        results.append((-score, tiebreak[n], slot))
    results.sort()
    return [slot for _, _, slot in results]
