"""The panic path stays lean: `flagops kill` imports no textual, fastapi, uvicorn — and no keyring when
FLAGOPS_TOKEN is set; nor httpx's own command line (rich, pygments) or anyio's async networking (the CLI's
transport is httpx's synchronous one, in threads). Checked in a fresh interpreter that runs the real command,
then lists sys.modules. And the service on SQLite never loads the PostgreSQL driver.

Who may import whom is import-linter's (pyproject.toml, `lint-imports` in tests/gates). This file checks what
a static graph cannot: the CLI imports the console, the service and search lazily, so only running the
command shows that the panic path never reaches them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RunningService

FORBIDDEN = (
    "textual",
    "fastapi",
    "uvicorn",
    "starlette",
    "keyring",
    "flagops.server",
    "flagops.tui",
    "flagops.search",
    "flagops.runbooks",
    "rich",
    "pygments",
    "anyio._backends",
    "anyio._core._sockets",
    "anyio.streams",
    "sniffio",
    "psycopg",
    "numpy",
)

PROBE = """
import json, sys
from flagops.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES ")][-1]
    data = json.loads(line.removeprefix("MODULES "))
    return data["code"], set(data["modules"]), proc.stdout + proc.stderr


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def _env(tmp_path: Path, url: str, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAGOPS_", "PYTHON_KEYRING"))}
    env.update(FLAGOPS_URL=url, FLAGOPS_CONFIG=str(tmp_path / "none.yaml"), XDG_CONFIG_HOME=str(tmp_path))
    env.pop("FLAGOPS_CONFIG")
    if token:
        env["FLAGOPS_TOKEN"] = token
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


def test_kill_imports_nothing_heavy(service: RunningService, tmp_path: Path) -> None:
    code, modules, output = _run(
        ["kill", "no-such-flag-import-check", "--env", "dev", "--reason", "import check on the panic path", "--yes"],
        _env(tmp_path, service.url, service.admin_token),
        tmp_path,
    )
    assert code == 4, output  # the service answered "not found": the whole path up to the request ran
    assert _loaded(modules, "httpx") and _loaded(modules, "flagops.ops"), "the probe did not reach the backend"
    heavy = [name for name in FORBIDDEN if _loaded(modules, name)]
    assert heavy == [], f"the panic path imported {heavy}"


def test_kill_against_a_dead_service_imports_nothing_heavy(tmp_path: Path) -> None:
    code, modules, output = _run(
        ["kill", "x", "--env", "prod", "--reason", "import check, service down", "--yes"],
        _env(tmp_path, "http://127.0.0.1:9", "not-a-real-token"),
        tmp_path,
    )
    assert code == 6, output
    assert [name for name in FORBIDDEN if _loaded(modules, name)] == []


@pytest.mark.parametrize("command", [["flags", "--env", "dev"], ["status", "x"], ["audit"]])
def test_read_commands_import_no_tui_or_server(tmp_path: Path, command: list[str]) -> None:
    _, modules, output = _run(command, _env(tmp_path, "http://127.0.0.1:9", "t"), tmp_path)
    assert [n for n in ("textual", "fastapi", "uvicorn", "keyring") if _loaded(modules, n)] == [], output


SQLITE_SERVICE_PROBE = """
import json, sys, tempfile
from pathlib import Path
from flagops.server import main
from flagops.server.store import Store
store = Store(Path(tempfile.mkdtemp()) / "flags.db")
store.close()
print(json.dumps(sorted(sys.modules)))
"""


def test_the_service_on_sqlite_never_imports_the_postgresql_driver(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", SQLITE_SERVICE_PROBE], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout.splitlines()[-1]))
    assert _loaded(modules, "flagops.server.engine") and _loaded(modules, "fastapi"), "the probe did not run"
    assert not _loaded(modules, "psycopg") and not _loaded(modules, "flagops.server.engine_pg")
