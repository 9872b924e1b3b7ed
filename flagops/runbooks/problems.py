"""What is wrong with a runbook file: each problem with its line and field, and the error that lists them."""

from __future__ import annotations

from dataclasses import dataclass

from flagops.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str
    message: str


class RunbookError(ConfigError):
    """A runbook file is malformed. `problems` lists each one; the message shows them all."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        lines = [format_problem(path, p) for p in problems]
        head = lines[0] if len(lines) == 1 else f"{path}: {len(lines)} problems"
        super().__init__(head, detail=None if len(lines) == 1 else "\n".join("  " + x for x in lines))


def format_problem(path: str, problem: Problem) -> str:
    where = f"{path}:{problem.line}" if problem.line else path
    return f"{where}: {problem.field}: {problem.message}" if problem.field else f"{where}: {problem.message}"
