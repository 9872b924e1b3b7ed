"""The flagapi adapter's flag list against the real service: the flag-by-flag parse gives the same flags as
reading each one, the ETag cache hands back those parsed flags, and a body that is not a flag list (a proxy's
HTML page, a cut-off body, the wrong shape) is a clear Invalid, never a traceback."""

from __future__ import annotations

import pytest
from conftest import RunningService

from core.proxy import FaultProxy, ProxyRequest, Reply
from flagops.backends.flagapi import FlagApiBackend
from flagops.backends.http import RetryPolicy
from flagops.errors import Invalid
from flagops.secrets import Secret


async def test_list_matches_each_flag_read_alone(service: RunningService) -> None:
    async with FlagApiBackend(service.url, Secret(service.read_token)) as backend:
        flags = await backend.list_flags("prod")
        assert len(flags) > 100 and all(set(f.states) == {"prod"} for f in flags)
        for flag in flags[:: len(flags) // 12]:
            assert await backend.get_flag(flag.key, "prod") == flag
        again = await backend.list_flags("prod")  # a 304: the cached, already parsed flags
        assert again == flags and all(a is b for a, b in zip(again, flags, strict=True))
        assert backend._flag_cache["prod"][1] == flags


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", r"did not answer with JSON \(HTTP 200\)"),
        (b'{"environment": "prod", "flags": [{"key": "a"', r"did not answer with JSON \(HTTP 200\)"),
        (b"\xff\xfe\xfa not text", r"did not answer with JSON \(HTTP 200\)"),
        (b'{"environment": "prod"}', r"cannot read \(flags: missing\)"),
        (b'{"flags": [{"key": "a"}, {"key": "b", "tags": "x"}]}', r"cannot read \(flags\[1\]: tags: expected a list"),
    ],
)
async def test_a_body_that_is_not_a_flag_list_is_invalid(service: RunningService, body: bytes, message: str) -> None:
    def replace_list(request: ProxyRequest) -> Reply | None:
        if request.path.startswith("/v1/flags?"):
            return 200, {"Content-Type": "application/json"}, body
        return None

    with FaultProxy(service.url, replace_list) as proxy:
        async with FlagApiBackend(proxy.url, Secret(service.read_token), policy=RetryPolicy(attempts=1)) as backend:
            with pytest.raises(Invalid, match=message) as info:
                await backend.list_flags("prod")
    assert "list flags in prod" in info.value.message and service.read_token not in str(info.value)
    assert info.value.__cause__ is None
