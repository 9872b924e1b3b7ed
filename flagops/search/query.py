"""Parsing a search query into filter tokens and text words, for flagops.search.

Grammar (whitespace separated, any order, case-insensitive):
    tag:X       a tag equal to X or starting with X         (tag:pay matches "payments")
    owner:X     the owner contains X                        (owner:carla, owner:team-checkout)
    state:on    enabled in the index's environment          (state:off: disabled there, or no state)
    stale       Flag.is_stale(now): past its sunset date, or deprecated/retired   (also `is:stale`)
    !FILTER     negates a filter: !stale, !tag:ops, !owner:bob
    anything else is text: words matched fuzzily against key, name, tags and owner (all must match).

Text beyond MAX_WORDS words, and letters beyond MAX_WORD_LENGTH in one word, are ignored: a paste of a
whole log line must not freeze the console (each word costs a few milliseconds over 50,000 flags).

A filter that is still being typed (`tag:`, `state:o`) is ignored rather than emptying the list; a value
that can never match (`state:maybe`) is reported in `problems` so a face can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Words: runs of letters/digits in any script; camelCase is split first so "newPaymentFlow" -> new payment flow.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    """The lowercase words of a key, name, tag or owner: "checkout-new_PaymentFlow" -> checkout new payment flow."""
    if not text.islower():  # only mixed case can hold camelCase; most keys are lowercase already
        text = _CAMEL.sub(" ", text)
    return _WORD.findall(text.casefold())


@dataclass(frozen=True, slots=True)
class Filter:
    kind: str  # "tag" | "owner" | "state" | "stale"
    value: str = ""
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    words: tuple[str, ...]  # distinct text words, lowercase, in the order typed
    phrase: str  # the text part as typed (casefolded, single-spaced): for exact-key bonuses
    filters: tuple[Filter, ...] = ()
    problems: tuple[str, ...] = field(default=())


_STATES = ("on", "off")
MAX_WORDS = 12
MAX_WORD_LENGTH = 64


def parse_query(query: str) -> ParsedQuery:
    words: list[str] = []
    text_parts: list[str] = []
    filters: list[Filter] = []
    problems: list[str] = []
    for raw in query.split():
        token = raw.casefold()
        negated = token.startswith("!") and len(token) > 1
        body = token[1:] if negated else token
        if body in ("stale", "is:stale"):
            filters.append(Filter("stale", negated=negated))
            continue
        name, sep, value = body.partition(":")
        if sep and name in ("tag", "owner", "state"):
            if not value:
                continue  # still typing the value
            if name == "state":
                if value in _STATES:
                    filters.append(Filter("state", value, negated))
                elif not any(s.startswith(value) for s in _STATES):
                    problems.append(f"state:{value} — expected state:on or state:off")
                    filters.append(Filter("state", value, negated))  # matches nothing, as typed
                continue
            filters.append(Filter(name, value, negated))
            continue
        text_parts.append(token)
        words.extend(words_of(raw))
    kept = tuple(dict.fromkeys(w[:MAX_WORD_LENGTH] for w in words))[:MAX_WORDS]  # a word typed twice counts once
    return ParsedQuery(kept, " ".join(text_parts), tuple(filters), tuple(problems))
