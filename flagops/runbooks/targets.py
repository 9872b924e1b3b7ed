"""Which flags a step acts on: its one flag key, or every live flag its selector matches."""

from __future__ import annotations

from flagops.backends.base import FlagBackend
from flagops.model import Flag
from flagops.runbooks.schema import Runbook, Selector, Step


def step_environment(runbook: Runbook, step: Step) -> str:
    return str(step.environment or runbook.environment)


def matches(selector: Selector, flag: Flag, environment: str) -> bool:
    if flag.archived:
        return False
    state = flag.state(environment)
    if selector.owner is not None and flag.owner != selector.owner:
        return False
    if selector.tag is not None and selector.tag not in flag.tags:
        return False
    if selector.kill_switch is not None and flag.kill_switch != selector.kill_switch:
        return False
    if selector.enabled is not None and (state is None or state.enabled != selector.enabled):
        return False
    if selector.partial is not None:
        partial = state is not None and state.enabled and 0 < state.rollout < 100
        if partial != selector.partial:
            return False
    return True


async def resolve(backend: FlagBackend, runbook: Runbook, step: Step) -> list[str]:
    """Flag keys for an action step, sorted for a stable order (selector) or the one key."""
    if step.selector is None:
        return [str(step.flag)]
    environment = step_environment(runbook, step)
    flags = await backend.list_flags(environment)
    return sorted(f.key for f in flags if matches(step.selector, f, environment))
