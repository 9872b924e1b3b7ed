"""The OFREP probe: the OpenFeature Python SDK with the OFREP provider, as an application would use it.

Served off means the SDK resolved the flag with reason DISABLED (a context that merely buckets into the off
variant of a partial rollout proves nothing). The environment goes in the `X-Flagops-Environment` header,
which the flagops service reads and other OFREP services ignore.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from flagops.probe.base import Look, ProbeResult, ProbeUnavailable, poll_until_off, value_kind

if TYPE_CHECKING:
    from flagops.config import ProbeSettings
    from flagops.model import Flag

CLIENT = "OpenFeature Python SDK over OFREP"
_DEFAULTS: dict[str, Any] = {"boolean": False, "string": "", "integer": 0, "float": 0.0, "object": {}}
_FINAL_ERRORS = ("FLAG_NOT_FOUND",)  # waiting longer cannot help


def preload() -> None:
    from openfeature import api  # noqa: F401 - imported for its cost only (Probe.warm)
    from openfeature.contrib.provider.ofrep import OFREPProvider  # noqa: F401 - the same


def watch_ofrep(
    settings: ProbeSettings, token: str, flag: Flag, environment: str, sent_at: float, deadline: float, verify_tls: bool
) -> ProbeResult:
    try:
        from openfeature import api
        from openfeature.contrib.provider.ofrep import OFREPProvider
        from openfeature.evaluation_context import EvaluationContext
        from openfeature.provider.no_op_provider import NoOpProvider
    except ImportError:
        raise ProbeUnavailable("the OpenFeature SDK is not installed (pip install 'flagops[probe]')") from None

    headers = {"Authorization": f"Bearer {token}", "X-Flagops-Environment": environment}
    provider = OFREPProvider(
        settings.url, headers_factory=lambda: dict(headers), timeout=max(0.5, min(5.0, deadline - time.monotonic()))
    )
    provider.session.verify = verify_tls
    domain = f"flagops-probe-{uuid.uuid4().hex[:12]}"  # never disturbs an application's own providers
    api.set_provider(provider, domain=domain)
    client = api.get_client(domain=domain)
    attributes = dict(settings.context)
    context = EvaluationContext(targeting_key=attributes.pop("targetingKey", None), attributes=attributes)
    kind = value_kind(flag, flag.states[environment].off_variant if environment in flag.states else "")
    evaluate = getattr(client, f"get_{kind}_details")

    def look() -> Look:
        details = evaluate(flag.key, _DEFAULTS[kind], context)
        if details.error_code is None:
            return Look(details.reason == "DISABLED", True, f"variant {details.variant}, reason {details.reason}")
        saw = f"error {details.error_code}: {(details.error_message or '')[:200]}"
        final = details.error_code in _FINAL_ERRORS or "unauthorized" in saw or "forbidden" in saw
        return Look(False, False, f"{settings.url} answered {saw}" if final else saw, final)

    try:
        return poll_until_off(look, CLIENT, sent_at, deadline, settings.timeout)
    finally:
        api.set_provider(NoOpProvider(), domain=domain)  # shuts the probe's provider down
        provider.session.close()
