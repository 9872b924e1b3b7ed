"""`flagops login` / `info` with real keyring backends selected through the environment.

- keyring's fail backend (what a headless box gets): one plain paragraph with the ways forward, no traceback;
- keyrings.alt's plaintext file backend in a temp dir: the token is stored, found, and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import RunningService

from flagops.errors import ExitCode
from core.clitools import cli_env, flagops

FAIL_BACKEND = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
PLAINTEXT_BACKEND = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
TOKEN = "tok-abcdef-0123456789-secret"


def test_login_without_keyring_backend_explains_the_ways_forward(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", **FAIL_BACKEND)
    result = flagops(["login", "--no-verify"], env, stdin=TOKEN + "\n")
    assert result.code == ExitCode.AUTH
    assert "Traceback" not in result.both and TOKEN not in result.both
    message = result.err
    assert "FLAGOPS_TOKEN" in message and "keyrings.alt" in message and "plain text" in message
    assert len([ln for ln in message.strip().splitlines() if ln.strip()]) == 1, "one paragraph"


def test_commands_without_keyring_backend_or_token_explain(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", **FAIL_BACKEND)
    result = flagops(["flags", "--env", "dev"], env)
    assert result.code == ExitCode.AUTH
    assert "Traceback" not in result.both and "FLAGOPS_TOKEN" in result.err and "keyrings.alt" in result.err
    info = flagops(["info"], env)
    assert info.code == 0 and "no keyring backend" in info.out


def test_login_stores_in_plaintext_keyring_and_info_names_the_source(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", **PLAINTEXT_BACKEND)
    result = flagops(["login", "--no-verify"], env, stdin=TOKEN + "\n")
    assert result.code == 0, result.both
    assert TOKEN not in result.both and "PlaintextKeyring" in result.out
    stored = tmp_path / "data" / "python_keyring" / "keyring_pass.cfg"  # base64 in a file: "plain text"
    assert stored.exists() and "[flagops]" in stored.read_text(), "the plaintext backend did not store it"
    info = flagops(["info", "--json"], env)
    data = json.loads(info.out)
    assert data["token"]["present"] is True and "keyring" in data["token"]["source"]
    assert TOKEN not in info.both


def test_login_reads_stdin_not_argv(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", **PLAINTEXT_BACKEND)
    result = flagops(["login", TOKEN], env)
    assert result.code == ExitCode.USAGE and TOKEN not in result.err.replace(f"'{TOKEN}'", "")
    empty = flagops(["login", "--no-verify"], env, stdin="\n")
    assert empty.code == ExitCode.INVALID and "No token given" in empty.err


def test_info_never_prints_the_env_token(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", token=TOKEN)
    result = flagops(["info"], env)
    assert result.code == 0 and TOKEN not in result.both
    assert "environment variable FLAGOPS_TOKEN" in result.out


def test_login_checks_the_token_and_does_not_store_a_wrong_one(service: RunningService, tmp_path: Path) -> None:
    env = cli_env(tmp_path, url=service.url, **PLAINTEXT_BACKEND)
    result = flagops(["login"], env, stdin=TOKEN + "\n")
    assert result.code == ExitCode.AUTH and "was not stored" in result.err and TOKEN not in result.both
    assert not (tmp_path / "data" / "python_keyring" / "keyring_pass.cfg").exists()
    good = flagops(["login"], env, stdin=service.read_token + "\n")
    assert good.code == 0 and service.read_token not in good.both
    listed = flagops(["flags", "--env", "dev", "--limit", "2", "--json"], env)  # the keyring token is used
    assert listed.code == 0 and len(json.loads(listed.out)["flags"]) == 2
    on = [f["key"] for f in json.loads(flagops(["flags", "--env", "dev", "--search", "state:on", "--json"], env).out)[
        "flags"]]
    refused = flagops(["kill", on[-1], "--env", "dev", "--reason", "read token cannot write", "--yes"], env)
    assert refused.code == ExitCode.AUTH and "403" in refused.err and service.read_token not in refused.both
