"""Reading a v1 Flag API response body: JSON, then the domain type, with errors a person can act on.

Shared by the flagapi adapter's flag calls (flagapi.py) and its governance calls (flagapi_governance.py).
"""

from __future__ import annotations

from typing import Any

import httpx

from flagops.errors import Invalid


def parsed(what: str, parse: Any, data: Any) -> Any:
    """`parse(data)`, with a parse failure as Invalid naming the request and what could not be read."""
    try:
        return parse(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Invalid(
            f"{what}: the service sent data flagops cannot read ({exc}). "
            "Is the URL a v1 Flag API, and are both sides up to date?"
        ) from None


def json_of(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Invalid(
            f"{what}: the service did not answer with JSON (HTTP {response.status_code}). "
            "Is the profile's URL the Flag API?"
        ) from None
