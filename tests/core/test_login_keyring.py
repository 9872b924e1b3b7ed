"""`flagops login` / `info` with real keyring backends selected through the environment.

- keyring's fail backend (what a headless box gets): one plain paragraph with the ways forward, no traceback;
- keyrings.alt's plaintext file backend in a temp dir: the token is stored, found, and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import RunningService

from core.clitools import cli_env, flagops
from flagops.errors import ExitCode

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
    assert "WARNING" in result.err and "plain text" in result.err  # chosen, so used, but said loudly
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
    on = [
        f["key"]
        for f in json.loads(flagops(["flags", "--env", "dev", "--search", "state:on", "--json"], env).out)["flags"]
    ]
    refused = flagops(["kill", on[-1], "--env", "dev", "--reason", "read token cannot write", "--yes"], env)
    assert refused.code == ExitCode.AUTH and "403" in refused.err and service.read_token not in refused.both


# --- keyrings.alt is installed (the test extra puts it in this venv), but nobody chose it -------------------


def _plaintext_file(home: Path) -> Path:
    return home / "data" / "python_keyring" / "keyring_pass.cfg"


def test_default_refuses_the_plaintext_keyring_and_says_how_to_proceed(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9")  # no PYTHON_KEYRING_BACKEND, no keyringrc.cfg
    result = flagops(["login", "--no-verify"], env, stdin=TOKEN + "\n")
    assert result.code == ExitCode.AUTH, result.both
    assert not _plaintext_file(tmp_path).exists(), "the token was written to a plain-text file nobody chose"
    assert TOKEN not in result.both and "Traceback" not in result.both
    message = result.err
    assert "No secure keyring" in message and "keyrings.alt.file.PlaintextKeyring" in message
    assert "plain text" in message and "export FLAGOPS_TOKEN" in message
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in message  # how to opt in explicitly
    assert "keyringrc.cfg" in message
    listing = flagops(["flags", "--env", "dev"], env)
    assert listing.code == ExitCode.AUTH and "No secure keyring" in listing.err
    info = json.loads(flagops(["info", "--json"], env).out)
    assert info["token"]["present"] is False and "no secure keyring backend" in info["token"]["source"]


def test_a_token_left_in_plain_text_by_an_earlier_login_is_not_read(service: RunningService, tmp_path: Path) -> None:
    chosen = cli_env(tmp_path, url=service.url, **PLAINTEXT_BACKEND)
    assert flagops(["login"], chosen, stdin=service.read_token + "\n").code == 0
    assert flagops(["flags", "--env", "dev", "--limit", "1"], chosen).code == 0  # chosen: it is used

    default = cli_env(tmp_path, url=service.url)
    result = flagops(["flags", "--env", "dev", "--limit", "1"], default)
    assert result.code == ExitCode.AUTH, result.both
    assert "already stored in keyrings.alt.file.PlaintextKeyring" in result.err and "keyring del flagops" in result.err
    assert service.read_token not in result.both


def test_choosing_the_plaintext_backend_in_keyringrc_works_and_warns(tmp_path: Path) -> None:
    rc = tmp_path / "config" / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text("[backend]\ndefault-keyring = keyrings.alt.file.PlaintextKeyring\n")
    env = cli_env(tmp_path, url="http://127.0.0.1:9")
    result = flagops(["login", "--no-verify"], env, stdin=TOKEN + "\n")
    assert result.code == 0, result.both
    assert _plaintext_file(tmp_path).exists() and TOKEN not in result.both
    assert "WARNING" in result.err and "plain text" in result.err and str(rc) in result.err
    info = json.loads(flagops(["info", "--json"], env).out)
    assert info["token"]["present"] is True and "NOT a secure store" in info["token"]["source"]


def test_a_misspelt_backend_choice_is_one_clear_message(tmp_path: Path) -> None:
    env = cli_env(tmp_path, url="http://127.0.0.1:9", PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlainTextKeyring")
    result = flagops(["login", "--no-verify"], env, stdin=TOKEN + "\n")
    assert result.code == ExitCode.AUTH and "could not be loaded" in result.err and "Traceback" not in result.both


SECURE_BACKEND_PROBE = r"""
import json, sys
import keyring.backend, keyring.core

class VaultForTest(keyring.backend.KeyringBackend):
    # stands in for an OS keyring (Secret Service, Keychain): the one boundary that cannot run here
    priority = 5
    stored = {}
    def get_password(self, service, username): return self.stored.get((service, username))
    def set_password(self, service, username, password): self.stored[(service, username)] = password
    def delete_password(self, service, username): self.stored.pop((service, username))

plain_default = type(keyring.core._detect_backend()).__name__  # what keyring alone would pick
from flagops import secrets
active = secrets.store_token("p", "tok-secret")
print(json.dumps({"keyringAlone": plain_default, "used": active.name,
                  "inVault": VaultForTest.stored.get(("flagops", "p")) == "tok-secret"}))
"""


def test_a_secure_backend_is_used_alone_never_chained_with_the_plaintext_one(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = cli_env(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", SECURE_BACKEND_PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["keyringAlone"] == "ChainerBackend"  # keyring would chain the plaintext file behind it
    assert data["used"] == "__main__.VaultForTest" and data["inVault"]
    assert not _plaintext_file(tmp_path).exists()
