"""RFC 9457 problem details: the one error shape every endpoint returns.

`Problem` is raised anywhere in the service (store, auth, handlers); the app turns it into an
`application/problem+json` response. `field` names the offending input when there is one, so a client can
say exactly what to fix.
"""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        type_: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra or {}
        self.type = type_ or f"https://flagops.dev/problems/{self.title.lower().replace(' ', '-')}"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return body


def invalid(message: str, status: int = 422) -> Problem:
    """A Problem from a wire-style ValueError message ("field.path: what is wrong")."""
    field, sep, _ = message.partition(":")
    return Problem(status, message, field=field.strip() if sep and " " not in field.strip() else None)
