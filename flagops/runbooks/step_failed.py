"""The failure of one runbook step: what the runner reports and stops on.

Its own module so that step implementations outside execute.py (approval_step.py) raise it without importing the
runner that imports them."""

from __future__ import annotations


class StepFailed(Exception):
    def __init__(self, message: str, *, stopped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.stopped = stopped  # the operator said no, rather than something failing
