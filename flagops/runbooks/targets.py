"""Which flags a step acts on: its one flag key, or every live flag its selector matches; and, for the
"runbooks touching this flag" lists, whether a runbook would act on a given flag."""

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


def touches(runbook: Runbook, flag: Flag, environment: str | None = None) -> bool:
    """Whether a step names `flag` or, with params at their defaults, selects it (panic, freeze ...)."""
    if flag.key in runbook.flag_keys():
        return True
    for step in runbook.steps:
        if step.selector is None:
            continue
        env = runbook.default(step.environment) or runbook.default(runbook.environment) or environment or ""
        fields = {name: getattr(step.selector, name) for name in ("owner", "tag", "kill_switch", "enabled", "partial")}
        defaults = {name: runbook.default(value) for name, value in fields.items()}
        if any(value is not None and defaults[name] is None for name, value in fields.items()):
            continue  # a required param decides: cannot tell without it
        if matches(Selector(**defaults), flag, str(env)):
            return True
    return False
