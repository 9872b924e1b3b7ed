"""Runbooks, plans and run logs as plain text lines and JSON, shared by the CLI and the console.

Plain strings only: the CLI cleans them for the terminal; the console renders them as Text, never markup.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from flagops.runbooks.problems import Problem
from flagops.runbooks.runlog import RunLog, UndoRecord
from flagops.runbooks.schema import ParamType, Ref, Runbook, show_value

if TYPE_CHECKING:
    from flagops.runbooks.plan import StepPlan


def problem_json(p: Problem) -> dict[str, Any]:
    return {"line": p.line, "field": p.field, "message": p.message}


def environment_text(rb: Runbook) -> str:
    """The runbook's environment, with the param default when it comes from a param: "prod (${env})"."""
    if isinstance(rb.environment, Ref):
        param = rb.param(rb.environment.name)
        if param is not None and param.default is not None:
            return f"{param.default} (${{{param.name}}})"
    return show_value(rb.environment)


def summary_json(rb: Runbook) -> dict[str, Any]:
    return {
        "id": rb.id,
        "title": rb.title,
        "environment": environment_text(rb),
        "steps": len(rb.steps),
        "path": rb.path,
        "tags": list(rb.tags),
        "flags": sorted(rb.flag_keys()),
    }


def runbook_json(rb: Runbook) -> dict[str, Any]:
    return {
        **summary_json(rb),
        "description": rb.description,
        "params": [
            {
                "name": p.name,
                "type": p.type.value,
                "default": p.default,
                "required": p.required,
                "description": p.description,
                "choices": list(p.choices),
            }
            for p in rb.params
        ],
        "steps": [{"index": s.index, "kind": s.kind.value, "title": s.title(), "line": s.line} for s in rb.steps],
    }


def runbook_text(rb: Runbook) -> list[str]:
    lines = [f"{rb.id}: {rb.title}", f"file: {rb.path}", f"environment: {environment_text(rb)}"]
    if rb.description:
        lines += [""] + [f"  {line}" for line in rb.description.rstrip().splitlines()]
    if rb.params:
        lines += ["", "params:"]
        for p in rb.params:
            unit = "s" if p.type is ParamType.DURATION else "%" if p.type is ParamType.PERCENT else ""
            default = "required" if p.required else f"default {show_value(p.default)}{unit}"
            desc = f" - {p.description}" if p.description else ""
            lines.append(f"  {p.name} ({p.type.value}, {default}){desc}")
    lines += ["", "steps:"]
    lines += [f"  {s.index}. [{s.kind.value}] {s.title()}" for s in rb.steps]
    return lines


def plan_text(rb: Runbook, steps: list[StepPlan]) -> list[str]:
    lines = [f"Plan for {rb.id} in {show_value(rb.environment)} (dry run: nothing is changed)"]
    for sp in steps:
        env = f" [{sp.environment}]" if sp.environment != show_value(rb.environment) else ""
        lines.append(f"{sp.step.index}. [{sp.step.kind.value}] {sp.step.title()}{env}")
        for line in sp.lines:
            for part in line.splitlines() or [""]:
                lines.append(f"     {part}")
        for warning in sp.warnings:
            lines.append(f"     ! {warning}")
    changes = sum(len(sp.changes) for sp in steps)
    lines.append(f"{changes} change(s) planned; each action step is confirmed when the runbook runs.")
    return lines


def plan_json(rb: Runbook, steps: list[StepPlan]) -> dict[str, Any]:
    from flagops.v1 import wire

    return {
        "runbook": rb.id,
        "environment": show_value(rb.environment),
        "steps": [
            {
                "index": sp.step.index,
                "kind": sp.step.kind.value,
                "title": sp.step.title(),
                "environment": sp.environment,
                "lines": sp.lines,
                "warnings": sp.warnings,
                "changes": [
                    {
                        "flag": c.flag.key,
                        "environment": c.environment.key,
                        "action": c.action,
                        "noop": c.noop,
                        "summary": c.summary(),
                        "before": wire.state_to_json(c.before),
                        "after": wire.state_to_json(c.after),
                    }
                    for c in sp.changes
                ],
            }
            for sp in steps
        ],
    }


def run_summary_json(log: RunLog) -> dict[str, Any]:
    return {
        "runId": log.run_id,
        "runbook": log.runbook,
        "environment": log.environment,
        "status": log.shown_status,
        "changes": len(log.changes),
        "startedAt": log.started_at,
        "finishedAt": log.finished_at,
        "reason": log.reason,
        "ticket": log.ticket,
    }


def undo_json(r: UndoRecord) -> dict[str, Any]:
    return asdict(r)


def run_text(log: RunLog) -> list[str]:
    lines = [
        f"run {log.run_id}: {log.runbook} in {log.environment}: {log.shown_status}",
        f"reason: {log.reason}" + (f" (ticket {log.ticket})" if log.ticket else ""),
        f"started {log.started_at}" + (f", finished {log.finished_at}" if log.finished_at else ""),
    ]
    if log.params:
        lines.append("params: " + ", ".join(f"{k}={show_value(v)}" for k, v in log.params.items()))
    lines.append("steps:")
    for s in log.steps:
        lines.append(f"  {s.index}. {s.status:8} {s.title}" + (f": {s.message}" if s.message else ""))
    if log.changes:
        lines.append("changes:")
        for c in log.changes:
            auto = " (automatic)" if c.automatic else ""
            lines.append(f"  step {c.step}: {c.summary} [v{c.before_version} -> v{c.after_version}]{auto}")
    if log.undo:
        lines.append("undo:")
        lines += [f"  {u.status}: {u.flag} in {u.environment}: {u.message}" for u in log.undo]
    return lines
