"""The record of one runbook run, kept as JSON in the XDG state dir so a run can be resumed or undone.

Written atomically (temp file, fsync, rename) after every step and every change, and *before* each write
is sent (the step is marked running), so a run killed at any point leaves a log that says how far it got.
`FLAGOPS_STATE_DIR` overrides the location (tests use it).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flagops.errors import ConfigError, NotFound

RUN_ID_CHARS = set("0123456789abcdefghijklmnopqrstuvwxyzT-")


def state_dir() -> Path:
    env = os.environ.get("FLAGOPS_STATE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("flagops"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


@dataclass
class ChangeRecord:
    """One write the run made. Versions are the flag's version in that environment."""

    step: int
    flag: str
    environment: str
    action: str  # kill | rollout | rollback | restore | guard-rollback | undo
    summary: str  # plain text: "checkout-new-flow in prod: on 25% -> off"
    before_version: int
    after_version: int
    at: str = field(default_factory=now_iso)
    idempotency_key: str | None = None
    automatic: bool = False  # made by a guard, not asked for by a step


@dataclass
class StepRecord:
    index: int
    kind: str
    title: str
    status: str = "pending"  # pending | running | done | failed | skipped
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    baseline: dict[str, int] = field(default_factory=dict)  # flag -> version when the step began


@dataclass
class UndoRecord:
    flag: str
    environment: str
    status: str  # undone | refused | unchanged | failed
    message: str
    at: str = field(default_factory=now_iso)
    to_version: int | None = None
    new_version: int | None = None


@dataclass
class RunLog:
    run_id: str
    runbook: str
    runbook_path: str
    runbook_sha256: str
    environment: str
    params: dict[str, Any]
    reason: str
    ticket: str | None = None
    status: str = "running"  # running | done | failed | stopped | undone | undo-partial
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    pid: int = field(default_factory=os.getpid)
    attempts: int = 1  # 1 + the number of resumes; part of idempotency keys
    message: str = ""
    error_code: int | None = None  # the exit code of the typed error that failed a step (403 -> 3, ...)
    steps: list[StepRecord] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
    undo: list[UndoRecord] = field(default_factory=list)

    def step(self, index: int) -> StepRecord:
        return next(s for s in self.steps if s.index == index)

    @property
    def interrupted(self) -> bool:
        """Marked running, but the process that ran it is gone."""
        return self.status == "running" and not _alive(self.pid)

    @property
    def shown_status(self) -> str:
        return "interrupted" if self.interrupted else self.status

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunLog:
        data = dict(data)
        steps = [StepRecord(**s) for s in data.pop("steps", [])]
        changes = [ChangeRecord(**c) for c in data.pop("changes", [])]
        undo = [UndoRecord(**u) for u in data.pop("undo", [])]
        return cls(**data, steps=steps, changes=changes, undo=undo)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """Run logs as `<state dir>/runs/<run id>.json`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or state_dir()) / "runs"

    def path(self, run_id: str) -> Path:
        if not run_id or not set(run_id) <= RUN_ID_CHARS or len(run_id) > 64:
            raise NotFound(f"no run {run_id[:64]!r}: run ids look like 20260101T120000-a1b2c3")
        return self.root / f"{run_id}.json"

    def save(self, log: RunLog) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(log.run_id)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{log.run_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(log.to_json(), fh, indent=1, sort_keys=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, run_id: str) -> RunLog:
        path = self.path(run_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return RunLog.from_json(data)
        except FileNotFoundError:
            raise NotFound(
                f"no run {run_id!r} in {self.root}",
                detail="`flagops runbook runs` lists the runs recorded on this machine",
            ) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"run log {path} is damaged: {str(exc)[:120]}") from None

    def list(self) -> list[RunLog]:
        """Newest first; damaged files are skipped."""
        if not self.root.is_dir():
            return []
        logs = []
        for path in sorted(self.root.glob("*.json"), reverse=True):
            try:
                logs.append(self.load(path.stem))
            except (ConfigError, NotFound):
                continue
        return logs
