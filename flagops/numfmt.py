"""How the CLI and the timeline write rollouts and error rates: one format, so `status`, `audit`, the plan and
the timeline never show the same number two ways ("25%" next to "25.0%", "0.5%" next to "0.47%").

Rates have one decimal, as the console shows them; a rate that is not zero but rounds to 0.0 says "<0.1%",
because "0.0%" would claim there were no errors at all.
"""

from __future__ import annotations


def rollout(value: object) -> str:
    """A rollout percentage (0-100) as typed: "5%", "5.5%", "100%"; "?" when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?"
    return f"{value:g}%"


def rate(fraction: float | None, *, none: str = "-") -> str:
    """An error rate given as a fraction (0.005 -> "0.5%"); `none` when there is no rate to show."""
    if fraction is None:
        return none
    if 0 < fraction < 0.0005:
        return "<0.1%"
    return f"{fraction * 100:.1f}%"
