"""The typed confirmation of protected environments: type the flag key (or environment name) to apply.

A slip of the finger at 03:00 asks again instead of throwing away the plan and the reason; a few
attempts only, so a wrong target is never confirmed by persistence. An empty answer declines at once.
"""

from __future__ import annotations

import click

from flagops.cli.output import clean, warn

TYPED_ATTEMPTS = 3


def typed_confirmation(
    prompt: str, expected: str, *, what: str = "the flag key", attempts: int = TYPED_ATTEMPTS
) -> bool:
    """True once `expected` is typed; False on an empty answer or after `attempts` wrong ones.

    No terminal input left (EOF) raises click.Abort, as click.prompt does; callers turn it into a refusal.
    """
    for left in range(attempts - 1, -1, -1):
        typed = click.prompt(prompt, default="", show_default=False).strip()
        if typed == expected:
            return True
        if not typed:
            return False
        if left:
            warn(
                f"That is not {what}: you typed {clean(typed)!r}, expected {clean(expected)!r}. "
                f"Try again ({left} {'attempt' if left == 1 else 'attempts'} left), or press Enter to cancel."
            )
    return False
