"""Untrusted text made inert for a terminal: one rule, used by the console (tui/safe_text.py) and the CLI
(cli/output.py `clean`), so both show the same thing for the same hostile name.

Characters that act on the terminal or change what the reader sees without being visible themselves are
shown as escapes: C0/C1 controls (`\\x1b`: ESC starts an ANSI sequence), bidi embeddings, overrides,
isolates and marks (`\\u202e`: Trojan Source reordering), zero-width characters (`\\u200b`-`\\u200d`,
`\\u2060`, `\\ufeff`: a key that looks like another) and the line/paragraph separators U+2028/U+2029 (a
second line inside one field). Ordinary right-to-left text (Hebrew, Arabic) is left alone.
"""

from __future__ import annotations

import unicodedata

# display order (bidi) and invisible characters, escaped even though str.isprintable() may accept them
INVISIBLE = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff\u2028\u2029"
)


def escape_char(ch: str) -> str:
    code = ord(ch)
    if ch in INVISIBLE:
        return f"\\u{code:04x}"
    if unicodedata.category(ch) == "Cc":
        return "\\t" if ch == "\t" else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch


def inert(text: str) -> str:
    """`text` with every character above shown as its escape (fast path: nothing to escape)."""
    if text.isprintable() and INVISIBLE.isdisjoint(text):
        return text
    return "".join(escape_char(ch) for ch in text)
