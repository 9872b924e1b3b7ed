"""Checking a bound runbook against the live backend before anything runs.

Finds what the loader cannot: environments and flags that do not exist, selectors whose owner or tag no
live flag has (a typo in a panic runbook must not silently do nothing), and error-rate steps on a
backend without an error source. Problems carry the runbook's file and the step's line, like load errors.
"""

from __future__ import annotations

import difflib

from flagops.backends.base import FlagBackend
from flagops.errors import NotFound
from flagops.model import Flag
from flagops.runbooks.problems import Problem, RunbookError
from flagops.runbooks.schema import Runbook, StepKind
from flagops.runbooks.targets import step_environment


async def validate_live(backend: FlagBackend, runbook: Runbook) -> None:
    """Raise RunbookError listing every problem; return quietly when the runbook fits the backend."""
    problems: list[Problem] = []
    envs = {e.key for e in await backend.environments()}
    flags_by_env: dict[str, dict[str, Flag]] = {}

    async def flags_in(env: str) -> dict[str, Flag]:
        if env not in flags_by_env:
            flags_by_env[env] = {f.key: f for f in await backend.list_flags(env)}
        return flags_by_env[env]

    if str(runbook.environment) not in envs:
        problems.append(
            Problem(
                runbook.environment_line,
                "environment",
                f"no environment {runbook.environment!r}; known: {', '.join(sorted(envs))}",
            )
        )
    for step in runbook.steps:
        where = f"steps[{step.index}]"
        env = step_environment(runbook, step)
        if env not in envs:
            if step.environment is not None:
                problems.append(Problem(step.line, f"{where}.environment", f"no environment {env!r}"))
            continue
        keys = []
        if step.flag is not None:
            keys.append((f"{where}.{step.kind.value}", str(step.flag)))
        if step.condition is not None and step.condition.flag is not None:
            keys.append((f"{where}.flag", str(step.condition.flag)))
        for field, key in keys:
            flags = await flags_in(env)
            if key not in flags:
                try:  # the list may hide flags a direct read finds (archived, paging)
                    await backend.get_flag(key, env)
                    continue
                except NotFound:
                    pass
                close = difflib.get_close_matches(key, list(flags), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(Problem(step.line, field, f"no flag {key!r} in {env}{hint}"))
        if step.selector is not None:
            flags = await flags_in(env)
            if step.selector.owner is not None and not any(f.owner == step.selector.owner for f in flags.values()):
                owners = sorted({f.owner for f in flags.values() if f.owner})
                close = difflib.get_close_matches(str(step.selector.owner), owners, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    Problem(
                        step.line,
                        f"{where}.{step.kind.value}.owner",
                        f"no flag in {env} is owned by {step.selector.owner!r}{hint}",
                    )
                )
            if step.selector.tag is not None and not any(step.selector.tag in f.tags for f in flags.values()):
                tags = sorted({t for f in flags.values() for t in f.tags})
                close = difflib.get_close_matches(str(step.selector.tag), tags, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    Problem(
                        step.line,
                        f"{where}.{step.kind.value}.tag",
                        f"no flag in {env} has tag {step.selector.tag!r}{hint}",
                    )
                )
        uses_error_rate = (
            step.condition is not None and step.condition.metric == "error_rate"
        ) or step.kind is StepKind.PROGRESSIVE
        if uses_error_rate and not backend.capabilities.error_metrics:
            problems.append(
                Problem(step.line, where, f"{backend.name} has no error-rate source; this step cannot be evaluated")
            )
    if problems:
        raise RunbookError(runbook.path or runbook.id, problems)
