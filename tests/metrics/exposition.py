"""A stand-in for the application a team runs: a loopback HTTP server exposing Prometheus counters that
grow at fixed rates (requests per second per label set), for Prometheus to scrape.

Used where the counters must carry flags the reference service does not own (Unleash's flags) or in
numbers the demo does not have (the benchmark's 5,000 flags).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Counter = tuple[str, dict[str, str], float]  # metric name, labels, increase per second


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels.items()
    )
    return "{" + inner + "}"


class CounterApp:
    def __init__(self, counters: Sequence[Counter]) -> None:
        self.counters = list(counters)
        self.started = time.time()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = app.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def exposition(self) -> str:
        elapsed = time.time() - self.started
        lines: list[str] = []
        typed: set[str] = set()
        for name, labels, rate in self.counters:
            if name not in typed:
                lines.append(f"# TYPE {name} counter")
                typed.add(name)
            lines.append(f"{name}{_labels(labels)} {int(rate * elapsed)}")
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
