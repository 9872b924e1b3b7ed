"""Typed errors every layer raises and every face knows how to show.

Messages are written for the person at the terminal: what happened and what to do next. They never
contain a token (adapters build them from status codes and problem documents, never from headers).
Each error carries the CLI exit code it maps to (documented in README "Exit codes").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flagops.model import Flag


class ExitCode:
    OK = 0
    ERROR = 1  # unexpected
    USAGE = 2  # bad arguments (click uses 2 as well)
    AUTH = 3  # unauthorized / forbidden / no token
    NOT_FOUND = 4
    CONFLICT = 5  # stale version (412) or idempotency mismatch
    UNAVAILABLE = 6  # service down, timeouts, circuit open, rate limited past patience
    REFUSED = 7  # refused by a safety rule: read-only, no reason, not confirmed
    INVALID = 8  # the service rejected the request as invalid (4xx problem)
    CONFIG = 9  # configuration file / runbook / theme is malformed
    UNCONFIRMED = 10  # the write was accepted but the new state was not seen served in time
    INTEGRITY = 11  # `audit --verify`: the audit log's hash chain does not verify
    STEP_FAILED = 12  # a runbook run stopped at a failed step (check failed, wait timed out, guard rolled back)
    NEEDS_APPROVAL = 13  # the change needs a change request approved by someone else (`flagops request ...`)


class FlagOpsError(Exception):
    exit_code = ExitCode.ERROR

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message if not self.detail else f"{self.message}\n{self.detail}"


class ConfigError(FlagOpsError):
    exit_code = ExitCode.CONFIG


class Unauthorized(FlagOpsError):
    exit_code = ExitCode.AUTH


class Forbidden(FlagOpsError):
    exit_code = ExitCode.AUTH


class NotFound(FlagOpsError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(FlagOpsError):
    """Someone else changed the flag first (412). Carries the fresh state when it could be fetched."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, message: str, *, fresh: Flag | None = None, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.fresh = fresh


class RateLimited(FlagOpsError):
    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(FlagOpsError):
    exit_code = ExitCode.UNAVAILABLE


class Invalid(FlagOpsError):
    exit_code = ExitCode.INVALID


class Refused(FlagOpsError):
    """A safety rule said no: read-only, missing/short reason, not confirmed, protected environment."""

    exit_code = ExitCode.REFUSED


class ApprovalRequired(Refused):
    """The policy holds this change for four-eyes approval (409 /approval-required): nothing was written.

    `approvers` is how many distinct approvals it needs (never the author's own)."""

    exit_code = ExitCode.NEEDS_APPROVAL

    def __init__(self, message: str, *, approvers: int = 1, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.approvers = approvers


class SelfApproval(Forbidden):
    """The author of a change request tried to approve or reject it (403 /self-approval): four eyes are two people."""


class SelfReview(Forbidden):
    """The person who pulled a break-glass kill tried to acknowledge its review (403 /self-review)."""


class RequestClosed(Conflict):
    """The change request (or review) is not in a state that allows this step (409): already decided, applied,
    expired, cancelled, not yet approved, or a review already acknowledged."""


class ApprovalsUnsupported(Refused):
    """The backend cannot hold changes for approval (Unleash OSS): said plainly, never pretended."""
