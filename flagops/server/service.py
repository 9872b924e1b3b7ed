"""What a running service is made of: the store, auth, the event broker, metrics and the audit signer.

Its own module so the route modules can depend on it while app.py assembles them into the FastAPI app
(routes never import app.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from flagops.governance import ApprovalPolicy
from flagops.server.auth import Authenticator, Principal
from flagops.server.metrics import MetricsStore
from flagops.server.signing import Signer
from flagops.server.store import Store
from flagops.server.stream import Broker


@dataclass
class Service:
    store: Store
    auth: Authenticator
    broker: Broker
    metrics: MetricsStore
    max_body: int = 1024 * 1024
    on_ready: Callable[[], None] | None = None
    background: list[Callable[[Service], Any]] = field(default_factory=list)  # coroutine factories (traffic)
    signer: Signer | None = None  # signs the audit head (signing.py); None: unsigned (verify says so)
    signing_problem: str | None = None  # why new heads are not being signed (seal_on_start)
    policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)  # approvals (policy.py); empty: none needed

    def require(self, request: Request, scope: str, environment: str | None = None) -> Principal:
        address = request.client.host if request.client is not None else ""
        return self.auth.require(request.headers.get("authorization"), scope, environment, address)
