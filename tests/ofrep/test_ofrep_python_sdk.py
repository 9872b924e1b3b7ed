"""The real OpenFeature Python SDK (openfeature-sdk + openfeature-provider-ofrep from PyPI) against the service.

Same contexts, same variants as /v1/evaluate; after a real `flagops kill` the SDK serves the off value, and
the test prints how long after the kill was committed the SDK first saw it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from conftest import RunningService
from core.clitools import cli_env, flagops
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from ofrep.sdk_helpers import CONTEXTS, evaluation_context, kill_time, sdk_client, sdk_details, v1_decisions


def _sample(flags: list[dict], env: str) -> list[dict]:
    """Flags of every kind and shape: boolean / multivariate / json, rules, 0 < rollout < 100, off."""

    def pick(pred, n):  # type: ignore[no-untyped-def]
        return [f for f in flags if pred(f, f["environments"][env])][:n]

    chosen = (
        pick(lambda f, s: f["kind"] == "boolean" and s["enabled"] and 0 < s["rollout"] < 100, 4)
        + pick(lambda f, s: f["kind"] == "multivariate" and s["enabled"], 3)
        + pick(lambda f, s: f["kind"] == "json" and s["enabled"], 2)
        + pick(lambda f, s: bool(s["rules"]) and s["enabled"], 5)
        + pick(lambda f, s: not s["enabled"], 2)
        + pick(lambda f, s: s["enabled"] and s["rollout"] == 100, 2)
    )
    unique = {f["key"]: f for f in chosen}
    assert len(unique) >= 12, "the demo data should have flags of every shape"
    return list(unique.values())


def test_same_contexts_same_variants_as_v1_evaluate(service: RunningService) -> None:
    errors = 0
    for env in ("prod", "dev"):
        with service.client() as http:
            flags = http.get("/v1/flags", params={"environment": env}).json()["flags"]
        sample = _sample(flags, env)
        expected = v1_decisions(service, env, [f["key"] for f in sample], CONTEXTS)
        client = sdk_client(service, env)
        compared = 0
        for flag in sample:
            values = {v["key"]: v.get("value") for v in flag["variants"]}
            for i, ctx in enumerate(CONTEXTS):
                want = expected[(flag["key"], i)]
                got = sdk_details(client, flag, ctx)
                if want["error"]:
                    assert got.error_code == ErrorCode.TARGETING_KEY_MISSING, (flag["key"], ctx, got)
                    assert got.reason == Reason.ERROR
                    errors += 1
                    continue
                assert got.error_code is None, (flag["key"], ctx, got.error_message)
                assert (got.variant, got.value) == (want["variant"], values[want["variant"]]), (flag["key"], ctx)
                assert got.flag_metadata["flagopsReason"] == want["reason"]
                compared += 1
        assert compared > 150, env
    assert errors > 0  # the TARGETING_KEY_MISSING path was exercised too


def test_unknown_flag_and_wrong_type_fall_back_to_the_code_default(service: RunningService) -> None:
    client = sdk_client(service, "prod")
    details = client.get_boolean_details("no-such-flag", True)
    assert details.value is True and details.error_code == ErrorCode.FLAG_NOT_FOUND
    with service.client() as http:
        flags = http.get("/v1/flags", params={"environment": "prod"}).json()["flags"]
    boolean = next(f for f in flags if f["kind"] == "boolean")
    details = client.get_string_details(boolean["key"], "fallback", evaluation_context({"targetingKey": "u"}))
    assert details.value == "fallback" and details.error_code == ErrorCode.TYPE_MISMATCH


def test_kill_with_the_real_cli_is_seen_by_the_sdk(fresh_service: RunningService, tmp_path: Path) -> None:
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
    client = sdk_client(fresh_service, "prod")
    ctx = {"targetingKey": "user-1"}
    assert sdk_details(client, flag, ctx).value is True

    seen: list[datetime] = []
    stop = threading.Event()

    def watch() -> None:  # an application evaluating the flag as fast as it can
        while not stop.is_set():
            details = sdk_details(client, flag, ctx)
            if details.value is False and details.reason == Reason.DISABLED:
                seen.append(datetime.now(UTC))
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    env = cli_env(tmp_path, fresh_service.url, fresh_service.admin_token)
    result = flagops(["kill", flag["key"], "--env", "prod", "--reason", "ofrep sdk kill test", "--yes"], env)
    assert result.code == 0, result.both
    watcher.join(timeout=10)
    stop.set()
    assert seen, "the SDK never saw the kill"
    committed = kill_time(fresh_service, flag["key"], "prod")
    visible_ms = (seen[0] - committed).total_seconds() * 1000
    print(f"\nkill committed -> OpenFeature Python SDK saw it off: {visible_ms:.1f} ms")
    assert visible_ms < 5000
    assert sdk_details(client, flag, {"targetingKey": "someone-else"}).value is False
