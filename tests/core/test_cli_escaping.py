"""CLI output shows bidi overrides, zero-width characters and line separators from the API as escapes, the
same way the console does (flagops/inert_text.py), never raw: a real flag in the real service, read by the
real `flagops` command."""

from __future__ import annotations

from pathlib import Path

from conftest import RunningService

from core.clitools import cli_env, flagops
from core.proxy import FaultProxy, ProxyRequest, Reply, problem
from flagops.cli.output import clean
from flagops.tui.safe_text import plain

HOSTILE = {
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u2069": "\\u2069",
    "\u200b": "\\u200b",
    "\u200d": "\\u200d",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    "\x1b": "\\x1b",
}
NAME = "pay" + "".join(HOSTILE) + "ment"


def test_clean_and_the_console_escape_the_same_characters() -> None:
    for raw, shown in HOSTILE.items():
        assert clean(f"a{raw}b") == f"a{shown}b" == plain(f"a{raw}b")
    assert clean("שלום مرحبا café 🚀") == "שלום مرحبا café 🚀"  # ordinary text is left alone
    assert clean("two\nlines\tand a tab") == "two lines and a tab"


def test_cli_prints_hostile_names_escaped(service: RunningService, tmp_path: Path) -> None:
    with service.client() as c:
        created = c.post(
            "/v1/flags",
            json={
                "key": "cli-hostile-name",
                "name": NAME,
                "owner": "\u202eevil",
                "changeReason": "escaping regression test",
            },
        )
        assert created.status_code == 201, created.text
    env = cli_env(tmp_path, url=service.url, token=service.admin_token)
    for args in (["flags", "--env", "dev", "--search", "cli-hostile"], ["status", "cli-hostile-name", "--env", "dev"]):
        result = flagops(args, env)
        assert result.code == 0, result.both
        for raw in HOSTILE:
            assert raw not in result.out, (args, raw)
        assert "\\u202e" in result.out, (args, result.out)


def test_cli_errors_from_a_hostile_service_are_escaped(service: RunningService, tmp_path: Path) -> None:
    """A service (or anything in between) that puts terminal controls into a problem's detail."""

    def hostile(request: ProxyRequest) -> Reply | None:
        if request.path.startswith("/v1/flags/"):
            return problem(422, "\x1b]0;pwned\x07 bad \u202eevil\u202c\u200b input")
        return None

    with FaultProxy(service.url, hostile) as proxy:
        result = flagops(["status", "checkout-new-flow"], cli_env(tmp_path, url=proxy.url, token=service.admin_token))
    assert result.code != 0
    for raw in ("\x1b", "\x07", "\u202e", "\u200b"):
        assert raw not in result.err, result.err
    assert "\\x1b]0;pwned\\x07 bad \\u202eevil" in result.err
