"""Untrusted text (from the API, a config, a runbook) made safe to draw.

Markup is never parsed: screens wrap the result in `Content(...)` / `Text(...)`, never `from_markup`.
On top of that, characters that would act on the terminal or reorder what is shown are made visible:
C0/C1 control characters (ESC starts an ANSI sequence) become `\\x1b`-style escapes, and bidi override /
isolate characters become `\\u202e`-style escapes, so "shown literally" holds for what the person sees.
Ordinary right-to-left text (Hebrew, Arabic) is left alone. Very long values are cut with a note,
because a 5,000-character name would otherwise push everything else off an 80x24 screen.
"""

from __future__ import annotations

from textual.content import Content
from textual.fuzzy import Matcher
from textual.style import Style

from flagops.inert_text import inert  # the one rule, shared with the CLI (zero-width and U+2028 too)


def plain(value: object, limit: int | None = None, *, note: bool = True) -> str:
    """`value` as one line of inert text: escapes made visible, cut to `limit` characters (with a note
    saying how long it really was, unless `note=False` for tight columns)."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… ({len(text):,} chars)" if note else f"{text[: max(0, limit - 1)]}…"
    return inert(text)


def plain_lines(value: object, limit: int | None = None) -> str:
    """Like `plain` but keeps newlines (descriptions, reasons)."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… ({len(text):,} chars)"
    return "\n".join(plain(line) for line in text.split("\n"))


def safe_highlight(text: str, query: str, matcher: Matcher) -> tuple[float, Content]:
    """Score `text` against a palette query and highlight the matched characters, without markup.

    (Textual's `Matcher.highlight` parses its input as markup, so the palettes use this instead.)
    """
    score, offsets = matcher.fuzzy_search.match(query, text)
    content = Content(text)
    for offset in offsets:
        if offset < len(text) and not text[offset].isspace():
            content = content.stylize(Style(bold=True, underline=True), offset, offset + 1)
    return score, content
