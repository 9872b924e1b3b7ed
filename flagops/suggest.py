"""'Did you mean ...?' for a flag key that does not exist: the CLI and the console give the same answer."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process, utils


def did_you_mean(key: str, keys: Iterable[str], *, limit: int = 3, cutoff: float = 70.0) -> list[str]:
    """The known keys closest to a mistyped `key`, best first; empty when nothing is close enough.

    WRatio copes with both kinds of mistake seen at 03:00: typos ("chekout-new-flow") and partial keys
    ("new-flow"); the cutoff keeps unrelated keys out, so an empty answer means "no such flag", not "try these".
    """
    typed = key.strip()
    if not typed:
        return []
    found = process.extract(
        typed, list(keys), scorer=fuzz.WRatio, processor=utils.default_process, limit=limit, score_cutoff=cutoff
    )
    return [choice for choice, _score, _index in found]
