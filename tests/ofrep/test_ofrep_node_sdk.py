"""The real OpenFeature Node SDKs from npm against the service (installed by tests/ofrep/node/install.sh
into .cache/ofrep-node, git-ignored):

- the server SDK with @openfeature/ofrep-provider (single evaluation): same variants as /v1/evaluate, and a
  real `flagops kill` is seen;
- the web SDK with @openfeature/ofrep-web-provider (bulk evaluation, polled with If-None-Match): it loads
  every flag, polls with 304s while nothing changes, and picks the kill up on its next poll.

Nothing here skips: if node/npm or the packages are missing, the tests fail and say how to install them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningService
from core.clitools import cli_env, flagops

from ofrep.sdk_helpers import CONTEXTS, kill_time, v1_decisions

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("node") / "ofrep_clients.mjs"
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def node_dir() -> Path:
    directory = Path(os.environ.get("FLAGOPS_OFREP_NODE_DIR") or REPO / ".cache" / "ofrep-node")
    if shutil.which("node") is None:
        pytest.fail("node is not installed (apt-get install nodejs npm; tests/run does)", pytrace=False)
    done = subprocess.run(
        ["bash", str(Path(__file__).with_name("node") / "install.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FLAGOPS_OFREP_NODE_DIR": str(directory)},
    )
    if done.returncode != 0:
        pytest.fail(f"installing the OpenFeature Node SDKs failed:\n{done.stderr[-2000:]}", pytrace=False)
    return directory


def node_job(node_dir: Path, job: dict[str, Any]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        ["node", str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OFREP_NODE_DIR": str(node_dir)},
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(job))
    proc.stdin.close()
    return proc


def read_line(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    """The next JSON line from the Node job, with a deadline (a hung SDK fails the test, not the suite)."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""))
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"the Node SDK job printed nothing (stderr: {err[-2000:]})")
    return dict(json.loads(box[0]))


def kind_of(flag: dict[str, Any]) -> str:
    value = flag["variants"][0].get("value")
    return {bool: "boolean", str: "string", dict: "object", list: "object"}.get(type(value), "number")


def test_server_sdk_same_variants_as_v1_evaluate(service: RunningService, node_dir: Path) -> None:
    with service.client() as http:
        flags = http.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
    sample = [f for f in flags if f["environments"]["prod"]["enabled"]][:20] + [
        f for f in flags if f["environments"]["prod"]["rules"]
    ][:6]
    expected = v1_decisions(service, "prod", [f["key"] for f in sample], CONTEXTS)
    pairs = [
        {"key": f["key"], "kind": kind_of(f), "context": ctx, "index": i}
        for f in sample
        for i, ctx in enumerate(CONTEXTS)
    ]
    proc = node_job(
        node_dir,
        {
            "mode": "server-evaluate",
            "url": service.url,
            "token": service.read_token,
            "environment": "prod",
            "pairs": pairs,
        },
    )
    results = read_line(proc, timeout=120)["results"]
    proc.wait(timeout=30)
    compared = 0
    for pair, got in zip(pairs, results, strict=True):
        flag = next(f for f in sample if f["key"] == pair["key"])
        want = expected[(pair["key"], pair["index"])]
        if want["error"]:
            assert got["errorCode"] == "TARGETING_KEY_MISSING", (pair, got)
            continue
        values = {v["key"]: v.get("value") for v in flag["variants"]}
        assert got["errorCode"] is None, (pair, got)
        assert (got["variant"], got["value"]) == (want["variant"], values[want["variant"]]), (pair, got)
        assert got["metadata"]["flagopsReason"] == want["reason"]
        compared += 1
    assert compared > 200


@pytest.mark.parametrize("mode", ["server-watch", "web-watch"])
def test_node_sdk_sees_a_real_kill(fresh_service: RunningService, node_dir: Path, tmp_path: Path, mode: str) -> None:
    with fresh_service.client() as http:
        flags = http.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
    flag = next(
        f
        for f in flags
        if f["kind"] == "boolean"
        and f["environments"]["prod"]["enabled"]
        and f["environments"]["prod"]["rollout"] == 100
        and not f["environments"]["prod"]["rules"]
    )
    proc = node_job(
        node_dir,
        {
            "mode": mode,
            "url": fresh_service.url,
            "token": fresh_service.read_token,
            "environment": "prod",
            "flag": flag["key"],
            "kind": "boolean",
            "context": {"targetingKey": "node-user-1"},
            "pollMs": 200,
            "timeoutMs": 20000,
        },
    )
    ready = read_line(proc)["ready"]
    assert ready["value"] is True and ready["reason"] in ("STATIC", "CACHED"), ready
    if mode == "web-watch":  # the web provider loaded every flag from one bulk evaluation
        assert bulk_log(fresh_service, lambda lines: len(lines) >= 1)
    env = cli_env(tmp_path, fresh_service.url, fresh_service.admin_token)
    result = flagops(["kill", flag["key"], "--env", "prod", "--reason", f"node {mode} kill test", "--yes"], env)
    assert result.code == 0, result.both
    seen = read_line(proc, timeout=30)
    proc.wait(timeout=30)
    assert seen["details"]["value"] is False
    committed = kill_time(fresh_service, flag["key"], "prod")
    visible_ms = (datetime.fromtimestamp(seen["seen"] / 1000, UTC) - committed).total_seconds() * 1000
    print(f"\nkill committed -> Node {mode.split('-')[0]} SDK saw it off: {visible_ms:.0f} ms")
    if mode == "web-watch":
        # polls while nothing changed got 304s; the first load and the poll after the kill got 200s
        bulk = bulk_log(
            fresh_service,
            lambda lines: any(" 304 " in line for line in lines) and sum(" 200 " in line for line in lines) >= 2,
        )
        assert bulk, [line for line in fresh_service.output if "/ofrep/" in line][-5:]


def bulk_log(service: RunningService, done: Callable[[list[str]], bool], timeout: float = 5) -> list[str]:
    """The service's access-log lines of bulk calls once `done` holds for them (the log is read by a thread,
    so it can lag the responses a little); [] if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in list(service.output) if "POST /ofrep/v1/evaluate/flags HTTP" in line]
        if done(lines):
            return lines
        if time.monotonic() > deadline:
            return []
        time.sleep(0.05)
