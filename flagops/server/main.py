"""Starting the service: options, tokens, the listening socket, uvicorn.

The socket is bound here (port 0 = any free port) so the URL printed is the one actually served;
"listening on http://HOST:PORT" is printed once the app has started.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from flagops.governance import ApprovalPolicy
from flagops.server.app import create_app
from flagops.server.auth import Authenticator, FailedAuthThrottle, Principal, RateLimiter, hash_token, load_tokens
from flagops.server.demo import DEMO_SEGMENTS, INCIDENT_FLAG, demo_flags
from flagops.server.engine import is_postgres_url
from flagops.server.guard import RequestGuard, protocol_with_header_timeout
from flagops.server.metrics import MetricsStore
from flagops.server.policy import DEMO_POLICY, PolicyFileError, load_policy
from flagops.server.segments import seed_segments
from flagops.server.service import Service
from flagops.server.signing import SigningKeyError, load_signer, seal_on_start
from flagops.server.store import Store
from flagops.server.stream import Broker
from flagops.server.traffic import Traffic

ALL_SCOPES = frozenset({"flags:read", "flags:write", "flags:approve", "audit:read", "metrics:write"})
# the demo's second operator: enough to write, approve someone else's change request and acknowledge a review
OPERATOR_SCOPES = frozenset({"flags:read", "flags:write", "flags:approve", "audit:read"})


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8787
    db: Path | str | None = None  # a SQLite file, or a postgresql:// URL
    tokens: Path | None = None
    demo: bool = False
    traffic: bool = True
    rate_limit: float = 200.0
    seed: int = 7
    heartbeat: float = 15.0
    max_body: int = 1024 * 1024
    access_log: bool = True
    incident_step: float = 45.0
    parent_pid: int | None = None  # shut down when this process is gone
    header_timeout: float = 10.0  # seconds for a request head to arrive (guard.py)
    body_timeout: float = 30.0  # seconds for a request body to arrive once the handler reads it
    auth_failures: float = 10.0  # unknown tokens per minute per client address (bursts of 20); 0: off
    signing_key: Path | None = None  # ed25519 key for the audit head (signing.py); None: the XDG config dir
    reseal_audit: bool = False  # sign the current head even though its stored signature does not verify
    policy: Path | None = None  # approval policy YAML (policy.py); None: the demo's with --demo, else none


class StartupError(Exception):
    """A problem to report in one line (bad tokens file, port in use, unreadable database)."""


def default_db() -> Path:
    import platformdirs

    path = platformdirs.user_data_path("flagops") / "flags.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on sockets that say so, and without it
        # every response with a body waits ~40 ms for a delayed ACK (Nagle)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """Ends open event streams at shutdown, so SIGTERM does not wait for clients that never hang up."""

    broker: Broker | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        broker = self.broker
        if broker is not None and broker.loop is not None and not broker.loop.is_closed():
            broker.loop.call_soon_threadsafe(broker.close_all)


def _exit_with_parent(pid: int) -> None:
    """A child whose parent died without stopping it (SIGKILL, a crashed console or test run) would keep
    its port and traffic simulator forever; poll the parent and stop the same way SIGTERM does."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:  # alive, owned by someone else
                continue
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def serve(opts: ServeOptions) -> None:
    printed_tokens: list[tuple[str, str]] = []
    if opts.tokens is not None:
        principals = load_tokens(opts.tokens)
    else:  # a local service without a tokens file: fresh tokens, shown once, never stored in plain text
        admin, reader, operator = (secrets.token_urlsafe(24) for _ in range(3))
        principals = [
            Principal("demo-admin", ALL_SCOPES, None, hash_token(admin)),
            Principal("demo-reader", frozenset({"flags:read", "audit:read"}), None, hash_token(reader)),
            Principal("demo-operator", OPERATOR_SCOPES, None, hash_token(operator)),
        ]
        printed_tokens = [
            ("admin (all scopes)", admin),
            ("read-only", reader),
            ("second operator (write, approve)", operator),
        ]
    tmp: tempfile.TemporaryDirectory[str] | None = None
    db: Path | str | None = opts.db
    if db is None:
        if opts.demo:
            tmp = tempfile.TemporaryDirectory(prefix="flagops-demo-")
            db = Path(tmp.name) / "flags.db"
        else:
            db = default_db()
    stopped_by: list[int] = []
    previous = {sig: signal.signal(sig, _stop_by_signal) for sig in _STOP_SIGNALS}
    try:
        _run(opts, db, principals, printed_tokens)
    except _StopSignal as stop:
        stopped_by.append(stop.signum)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if tmp is not None:
            tmp.cleanup()
    if stopped_by:
        # now that the temporary database is gone, end the way the signal asks: killed by SIGTERM (what a
        # supervisor expects, and what uvicorn itself does), 130 for Ctrl-C
        if stopped_by[0] == signal.SIGINT:
            raise SystemExit(130)
        signal.raise_signal(stopped_by[0])


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _StopSignal(BaseException):
    """SIGTERM/SIGINT outside uvicorn's own handling (while seeding the demo, or the signal uvicorn raises
    again after its graceful shutdown). Their default action ends the process at once, which would leave
    --demo's temporary database behind; raising this unwinds through the cleanup instead."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_by_signal(signum: int, frame: Any) -> None:
    raise _StopSignal(signum)


def _run(
    opts: ServeOptions, db: Path | str, principals: list[Principal], printed_tokens: list[tuple[str, str]]
) -> None:
    sock = _bind(opts.host, opts.port)
    try:
        store = Store(db)
    except Exception as exc:  # sqlite3.DatabaseError, psycopg.OperationalError and friends: say which database
        where = redacted(db) if isinstance(db, str) and is_postgres_url(db) else db
        raise StartupError(f"cannot open database {where}: {' '.join(str(exc).split())[:500]}") from None
    try:
        policy = _policy(opts, store)
        signer = load_signer(opts.signing_key)
    except (SigningKeyError, PolicyFileError) as exc:
        store.close()
        raise StartupError(str(exc)) from None
    # replicas on one database must share the key: each one signs the heads it writes
    signing_problem = store.seal(lambda engine: seal_on_start(engine, store.instance, signer, reseal=opts.reseal_audit))
    if signing_problem is None:
        store.sign_head = signer.sign
    if opts.demo and not store.flags():
        store.seed(demo_flags(opts.seed), actor="demo-seed", reason="demo data")
        seed_segments(store, DEMO_SEGMENTS, actor="demo-seed", reason="demo data: segments the demo flags use")
    # what was loaded lives as long as the service: out of the cyclic collector's sight, so a full collection
    # (triggered by ordinary request garbage) does not walk 50,000 flags' objects in the middle of a write
    gc.freeze()
    broker = Broker(store, heartbeat=opts.heartbeat)
    store.on_commit = broker.notify_threadsafe
    auth = Authenticator(principals, RateLimiter(opts.rate_limit), FailedAuthThrottle(opts.auth_failures))
    svc = Service(
        store=store,
        auth=auth,
        broker=broker,
        metrics=MetricsStore(),
        max_body=opts.max_body,
        signer=signer,
        signing_problem=signing_problem,
        policy=policy,
    )
    if opts.demo and opts.traffic:
        traffic = Traffic(svc, seed=opts.seed, step_seconds=opts.incident_step)
        svc.background.append(lambda _svc: traffic.run())
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def ready() -> None:
        lines = [
            f"flagops Flag API listening on {url}",
            f"  database: {store.db.description}",
            f"  API docs: {url}/docs",
            f"  audit signing key: {signer.key_id} ({signer.path})",
        ]
        if signing_problem is not None:
            lines.append(f"  WARNING: {signing_problem}; not signing new entries until restarted with --reseal-audit")
        if opts.demo:
            lines.append(
                f"  demo: {len(store.flags())} flags; incident flag: {INCIDENT_FLAG} (prod)"
                + ("" if opts.traffic else "; traffic simulator off")
            )
        rules = ", ".join(
            f"{r.environment} {'/'.join(x.value for x in r.risk_levels) or 'every flag'}: {r.approvers} approval(s)"
            for r in policy.rules
        )
        lines.append(f"  approvals: {rules or 'none required'}" + (f" (policy {opts.policy})" if opts.policy else ""))
        if opts.tokens is not None:
            actors = ", ".join(p.actor for p in principals[:6]) + (", ..." if len(principals) > 6 else "")
            lines.append(f"  auth: Bearer tokens from {opts.tokens} ({len(principals)}: {actors})")
        if printed_tokens:
            lines.append("  tokens (generated for this run; pass --tokens FILE to use your own):")
            lines += [f"    {name}: {token}" for name, token in printed_tokens]
            lines.append(f"  try: curl -H 'Authorization: Bearer <admin token>' '{url}/v1/flags?environment=prod'")
        print("\n".join(lines), flush=True)  # noqa: T201 - the banner (URL, tokens) is the program's output

    svc.on_ready = ready
    config = uvicorn.Config(
        RequestGuard(create_app(svc), opts.body_timeout),
        log_level="info",
        access_log=opts.access_log,
        server_header=False,
        timeout_graceful_shutdown=3,
        lifespan="on",
        http=protocol_with_header_timeout(opts.header_timeout),
    )
    server = _Server(config)
    server.broker = broker
    if opts.parent_pid is not None:
        _exit_with_parent(opts.parent_pid)
    try:
        server.run(sockets=[sock])
    finally:
        store.close()


def _policy(opts: ServeOptions, store: Store) -> ApprovalPolicy:
    if opts.policy is not None:
        policy = load_policy(opts.policy)
    else:
        policy = DEMO_POLICY if opts.demo else ApprovalPolicy()
    known = {e.key for e in store.environments}
    for rule in policy.rules:
        if rule.environment not in known:
            raise PolicyFileError(
                f"{opts.policy or 'policy'}: environment {rule.environment!r} does not exist "
                f"(known: {', '.join(sorted(known))})"
            )
    return policy


def redacted(url: str) -> str:
    from flagops.server.engine_pg import redacted as without_password

    return without_password(url)


def main_error(message: str) -> None:
    logging.getLogger("flagops.server").error(message)
    print(f"flagops serve: {message}", file=sys.stderr, flush=True)  # noqa: T201 - to the operator, not the log
