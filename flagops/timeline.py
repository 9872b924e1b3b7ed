"""The incident timeline: every flag change in a window, from the audit log, with what it did.

Each change carries who, why, the ticket, the runbook run it belonged to (from the change's origin, and
the local run log when this machine ran it), and the changed flag's error rate in the five minutes before
and after (from the metrics endpoint, which keeps an hour; older changes say so). Rendered as markdown
for a postmortem, or JSON.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flagops import numfmt
from flagops.backends.base import FlagBackend
from flagops.errors import FlagOpsError
from flagops.metrics.base import variant_rates
from flagops.model import AuditEntry, FlagState, MetricSeries
from flagops.v1 import wire

AUDIT_PAGE = 1000
AROUND = timedelta(minutes=5)  # error rate is compared over this long before and after each change
METRICS_RETENTION = timedelta(hours=1)
METRIC_STEP = 10
SHOWN_ACTIONS = ("flag.updated", "flag.restored", "flag.archived")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class RateAround:
    before: float | None  # fraction; None = no traffic or unknown
    after: float | None
    note: str = ""  # why a side is missing or short: "no traffic", "older than metrics retention (1 h)", ...
    after_seconds: float | None = None  # how much of the after-window has passed, when less than all of it
    after_by_variant: dict[str, float] = field(default_factory=dict)  # where the source splits errors


@dataclass
class TimelineChange:
    entry: AuditEntry
    summary: str  # "on 25% -> off (v5 -> v6)"
    rate: RateAround
    run_title: str | None = None  # the run's status in the local run log, when this machine ran it


@dataclass
class Timeline:
    since: datetime
    until: datetime
    environment: str | None
    changes: list[TimelineChange] = field(default_factory=list)
    created: int = 0  # flag.created entries in the window (not listed one by one)
    truncated: bool = False

    def runs(self) -> list[tuple[str, str | None, list[TimelineChange]]]:
        """(run id, runbook, its changes) in the order the runs started."""
        out: dict[str, tuple[str | None, list[TimelineChange]]] = {}
        for change in self.changes:
            origin = change.entry.origin
            if origin is not None and origin.run_id:
                out.setdefault(origin.run_id, (origin.runbook, []))[1].append(change)
        return [(run_id, runbook, changes) for run_id, (runbook, changes) in out.items()]


def _state_text(snapshot: FlagState | None) -> str:
    if snapshot is None:
        return "?"
    return f"on {snapshot.rollout:g}%" if snapshot.enabled else "off"


def _version(snapshot: FlagState | None) -> str:
    return f"v{snapshot.version}" if snapshot is not None else "v?"


def describe_change(entry: AuditEntry) -> str:
    """Built from numbers and booleans only, so it is safe in markdown as is."""
    if entry.action == "flag.archived":
        return "archived"
    text = f"{_state_text(entry.before)} -> {_state_text(entry.after)}"
    if entry.action == "flag.restored":
        text = "restored: " + text
    rules_before = entry.before.rules if entry.before is not None else None
    rules_after = entry.after.rules if entry.after is not None else None
    if rules_before != rules_after:
        text += ", rules changed"
    return f"{text} ({_version(entry.before)} -> {_version(entry.after)})"


def _rate(series: MetricSeries, start: datetime, end: datetime) -> tuple[float | None, float]:
    """Over the points whose bucket ends after `start` and starts before `end`."""
    step = timedelta(seconds=series.step_seconds)
    evaluations = errors = 0.0
    for point in series.points:
        if point.at + step > start and point.at < end:
            evaluations += point.total
            errors += point.errors
    return (errors / evaluations if evaluations else None), evaluations


def rate_around(
    series: MetricSeries | None, at: datetime, now: datetime, why_missing: str = "", next_change: datetime | None = None
) -> RateAround:
    """The error rate in the 5 minutes before and after `at`. The after-window ends early at `now` (a recent
    change) or at the flag's next change in that environment (whose effect is that change's, not this one's),
    and says so."""
    if series is None:
        return RateAround(None, None, why_missing or "metrics unavailable")
    if not series.has_errors:
        return RateAround(None, None, "this backend has no error-rate source")
    if at < now - METRICS_RETENTION:
        return RateAround(None, None, "older than the metrics retention (1 h)")
    # the bucket the change falls in counts as "after": the after-rate starts at the change
    bucket = at - timedelta(seconds=at.timestamp() % series.step_seconds)
    before, n_before = _rate(series, at - AROUND, bucket)
    notes = ["no traffic before"] if not n_before else []
    end = min(now, at + AROUND)
    capped = next_change is not None and next_change < end
    if next_change is not None and capped:
        end = next_change
    span = max(0.0, (end - at).total_seconds())
    if span < series.step_seconds:
        # less than one metrics bucket, and that bucket is mostly traffic from before the change: no number
        # would mean what "after" says
        notes.append(
            f"next change {_span(span)} later: too soon to measure after"
            if capped
            else f"too recent to measure after: {span:.0f}s since the change"
        )
        return RateAround(before, None, ", ".join(notes), span)
    after, n_after = _rate(series, bucket, end)
    short = span < AROUND.total_seconds()
    if not n_after:
        notes.append("no traffic after")
    elif capped:
        notes.append(f"after: until the next change, {_span(span)} later")
    elif short:
        notes.append(f"after: only the first {_span(span)} of 5 min so far")
    step = timedelta(seconds=series.step_seconds)
    after_points = [p for p in series.points if p.at + step > bucket and p.at < end]
    split = {v.variant: v.rate for v in variant_rates(series, after_points) if v.rate is not None}
    return RateAround(before, after, ", ".join(notes), span if short else None, split)


def _span(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


async def _series(
    backend: FlagBackend, flag: str, env: str, oldest: datetime, now: datetime
) -> tuple[MetricSeries | None, str]:
    span = (now - oldest + AROUND).total_seconds() + METRIC_STEP
    window = int(min(METRICS_RETENTION.total_seconds(), max(60.0, span)))
    window -= window % METRIC_STEP
    try:
        return await backend.metrics(flag, env, window_seconds=window, step_seconds=METRIC_STEP), ""
    except FlagOpsError as exc:
        return None, exc.message


def _run_titles() -> dict[str, str]:
    """run id -> the run's status in this machine's run logs; empty when there are none."""
    try:
        from flagops.runbooks.runlog import RunStore

        return {log.run_id: log.shown_status for log in RunStore().list()}
    except (FlagOpsError, OSError):
        return {}


async def build_timeline(
    backend: FlagBackend, since: datetime, environment: str | None = None, now: datetime | None = None
) -> Timeline:
    now = now or datetime.now(UTC)
    entries = await backend.audit(environment=environment, since=since, limit=AUDIT_PAGE)
    timeline = Timeline(since=since, until=now, environment=environment, truncated=len(entries) >= AUDIT_PAGE)
    shown = [e for e in reversed(entries) if e.action in SHOWN_ACTIONS and e.at >= since]
    timeline.created = sum(1 for e in entries if e.action == "flag.created")
    oldest: dict[tuple[str, str], datetime] = {}
    for e in shown:
        if e.environment is not None:
            ident = (e.flag_key, e.environment)
            oldest[ident] = min(oldest.get(ident, e.at), e.at)
    keys = list(oldest)
    fetched = await asyncio.gather(*(_series(backend, f, env, oldest[(f, env)], now) for f, env in keys))
    series = dict(zip(keys, fetched, strict=True))
    titles = _run_titles()
    following: dict[int, datetime] = {}  # sequence -> when the same flag next changed in that environment
    latest: dict[tuple[str, str | None], datetime] = {}
    for e in reversed(shown):
        if (e.flag_key, e.environment) in latest:
            following[e.sequence] = latest[(e.flag_key, e.environment)]
        latest[(e.flag_key, e.environment)] = e.at
    for e in shown:
        got, why = series.get((e.flag_key, e.environment or ""), (None, "no environment"))
        run_id = e.origin.run_id if e.origin else None
        rate = rate_around(got, e.at, now, why, following.get(e.sequence))
        timeline.changes.append(TimelineChange(e, describe_change(e), rate, titles.get(run_id) if run_id else None))
    return timeline


# --- rendering --------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return numfmt.rate(value, none="n/a")


def rate_text(rate: RateAround) -> str:
    """ "0.4% -> 5.5%", with why a side is missing or the after-window is not complete yet, and the after rate
    by variant where the metrics source splits errors (is the new path the one failing?)."""
    text = f"{_pct(rate.before)} -> {_pct(rate.after)}" + (f" ({rate.note})" if rate.note else "")
    if rate.after is not None and len(rate.after_by_variant) > 1:
        text += (
            " (by variant after: " + ", ".join(f"{_cell(v)} {_pct(r)}" for v, r in rate.after_by_variant.items()) + ")"
        )
    return text


def _cell(text: object) -> str:
    """Untrusted text in a markdown table cell: one line, no pipes, no HTML, no markdown links.

    Only `<` needs an entity to keep HTML out (no tag starts without it); `>` stays as typed, so a reason
    like "ramp 5% -> 10%" reads the same in the document as in the audit log.
    """
    raw = "" if text is None else str(text)
    raw = " ".join(_CONTROL.sub("?", raw).split())
    for ch, rep in (
        ("\\", "\\\\"),
        ("|", "\\|"),
        ("<", "&lt;"),
        ("`", "'"),
        ("[", "\\["),
        ("]", "\\]"),
        ("*", "\\*"),
        ("_", "\\_"),
    ):
        raw = raw.replace(ch, rep)
    return raw[:300]


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def origin_text(change: TimelineChange) -> str:
    origin = change.entry.origin
    if origin is None or not (origin.runbook or origin.run_id):
        return ""
    text = f"{origin.runbook or '?'} run {origin.run_id or '?'}"
    if origin.step is not None:
        text += f" step {origin.step}"
    elif origin.tool and origin.tool != "flagops":
        text += f" ({origin.tool})"
    return text


def to_markdown(timeline: Timeline, source: str = "") -> str:
    where = f" in {timeline.environment}" if timeline.environment else ""
    lines = [f"# Flag changes{where}: {_time(timeline.since)} to {_time(timeline.until)} UTC", ""]
    runs = timeline.runs()
    lines.append(
        f"{len(timeline.changes)} change(s), {len(runs)} runbook run(s)"
        + (f", from {_cell(source)}" if source else "")
        + ". Error rates are over the 5 minutes before "
        "and after each change (after: until now or the flag's next change, when sooner)."
    )
    if timeline.created:
        lines.append(f"{timeline.created} flag(s) were created in the window (not listed).")
    if timeline.truncated:
        lines.append(f"Only the newest {AUDIT_PAGE} audit entries were read: narrow --since to see older ones.")
    lines.append("")
    if runs:
        lines += ["## Runbook runs", ""]
        for run_id, runbook, changes in runs:
            first = changes[0].entry
            local = f" (run log on this machine: {_cell(changes[0].run_title)})" if changes[0].run_title else ""
            ticket = f", ticket {_cell(first.ticket)}" if first.ticket else ""
            lines.append(
                f"- {_time(first.at)}: {_cell(runbook or '?')} run {_cell(run_id)} by {_cell(first.actor)}"
                f"{local}: {len(changes)} change(s){ticket}; reason: {_cell(first.reason)}"
            )
        lines.append("")
    lines += ["## Changes", ""]
    if not timeline.changes:
        lines.append("No flag changes in this window.")
        return "\n".join(lines) + "\n"
    lines += [
        "| time (UTC) | who | flag | env | change | error rate before -> after | why | ticket | runbook |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in timeline.changes:
        e = c.entry
        rate = rate_text(c.rate)
        lines.append(
            "| "
            + " | ".join(
                [
                    _time(e.at),
                    _cell(e.actor),
                    _cell(e.flag_key),
                    _cell(e.environment or "-"),
                    c.summary,
                    rate,
                    _cell(e.reason),
                    _cell(e.ticket or ""),
                    _cell(origin_text(c)),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def to_json(timeline: Timeline) -> dict[str, Any]:
    return {
        "since": wire.iso(timeline.since),
        "until": wire.iso(timeline.until),
        "environment": timeline.environment,
        "created": timeline.created,
        "truncated": timeline.truncated,
        "runs": [
            {"runId": run_id, "runbook": runbook, "changes": len(changes)}
            for run_id, runbook, changes in timeline.runs()
        ],
        "changes": [
            {
                "sequence": c.entry.sequence,
                "at": wire.iso(c.entry.at),
                "actor": c.entry.actor,
                "action": c.entry.action,
                "flag": c.entry.flag_key,
                "environment": c.entry.environment,
                "summary": c.summary,
                "reason": c.entry.reason,
                "ticket": c.entry.ticket,
                "origin": wire.origin_to_json(c.entry.origin),
                "runLog": c.run_title,
                "errorRateBefore": c.rate.before,
                "errorRateAfter": c.rate.after,
                "errorRateNote": c.rate.note or None,
                "errorRateAfterSeconds": c.rate.after_seconds,
                "errorRateAfterByVariant": c.rate.after_by_variant,
            }
            for c in timeline.changes
        ],
    }
