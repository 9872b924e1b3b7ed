"""CLI output: aligned plain-text tables, JSON with --json, errors on stderr.

No Rich here on purpose: it costs startup time on the panic path, and text that came from the API is
printed as text, never interpreted. Control, bidi and zero-width characters in that text are shown as
escapes (`\\x1b`, `\\u202e`: flagops/inert_text.py, the same rule as the console), so a flag name cannot
move the cursor, recolour the terminal or reorder what is shown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from flagops.inert_text import inert


def clean(value: object) -> str:
    """One line of untrusted text, safe to print on a terminal (newlines and tabs become spaces)."""
    text = "" if value is None else str(value)
    return inert(text.replace("\n", " ").replace("\t", " "))


def clean_lines(value: object) -> str:
    """Like `clean`, keeping line breaks (an error's message and detail)."""
    return "\n".join(clean(line) for line in ("" if value is None else str(value)).split("\n"))


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int = 48) -> str:
    """Columns padded to the widest cell; long cells cut with an ellipsis."""
    cells = [[clean(c) for c in row] for row in rows]
    for row in cells:
        for i, cell in enumerate(row):
            if len(cell) > max_width:
                row[i] = cell[: max_width - 1] + "…"
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    click.echo(table(headers, rows))


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def say(text: str) -> None:
    """A line for the person (stdout)."""
    click.echo(text)


def warn(text: str) -> None:
    click.echo(text, err=True)


def percent(value: float | None) -> str:
    """An error rate (a fraction); the one format of flagops.numfmt."""
    from flagops.numfmt import rate

    return rate(value)
