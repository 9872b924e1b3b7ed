"""A small real HTTP proxy on loopback, for failures the real service cannot be made to produce.

It forwards every request to the service; `fault(method, path, request_headers, body)` may act first:
return a (status, headers, body) tuple to answer instead, or call `forward()` itself (e.g. to let a write
through and then lose its response, the way a dying load balancer would).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Reply = tuple[int, dict[str, str], bytes]
Fault = Callable[["ProxyRequest"], Reply | None]

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class ProxyRequest:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes, upstream: str) -> None:
        self.method, self.path, self.headers, self.body, self._upstream = method, path, headers, body, upstream

    def forward(self) -> Reply:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        r = httpx.request(self.method, self._upstream + self.path, headers=headers, content=self.body, timeout=30)
        return r.status_code, {k: v for k, v in r.headers.items() if k.lower() not in _HOP}, r.content


class FaultProxy:
    def __init__(self, upstream: str, fault: Fault | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = fault
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.statuses: list[int] = []  # what the client got, in order
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = ProxyRequest(self.command, self.path, dict(self.headers.items()), body, proxy.upstream)
                proxy.seen.append((self.command, self.path, dict(self.headers.items())))
                reply = proxy.fault(request) if proxy.fault else None
                status, headers, content = reply if reply is not None else request.forward()
                proxy.statuses.append(status)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Reply:
    import json

    body = json.dumps({"type": "about:blank", "title": "injected", "status": status, "detail": detail}).encode()
    return status, {"Content-Type": "application/problem+json", **(headers or {})}, body
