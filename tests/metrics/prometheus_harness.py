"""A real Prometheus (Debian's 2.42, /usr/bin/prometheus) on a free loopback port with a temp TSDB.

It scrapes a flagops service's /metrics every second (with a read token from a file, never on the command
line), so the console can read error rates the way a team with Prometheus does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningPrometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> list[dict[str, object]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, object]] = response.json()["data"]["result"]
        return result

    def wait_for_series(self, promql: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.query(promql):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"Prometheus has no {promql} after {timeout}s:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_prometheus(workdir: Path, targets: list[tuple[str, str]], *, timeout: float = 30.0) -> RunningPrometheus:
    """Scrape each (service url, bearer token) target's /metrics every second."""
    if not Path(BINARY).exists():
        raise RuntimeError("Prometheus is not installed: `apt-get install prometheus` (tests/run does it)")
    workdir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i, (url, token) in enumerate(targets):
        token_file = workdir / f"token-{i}"
        token_file.write_text(token)
        token_file.chmod(0o600)
        parts = urlparse(url)
        jobs.append(
            {
                "job_name": f"flagops-{i}",
                "scrape_interval": "1s",
                "scrape_timeout": "900ms",
                "metrics_path": "/metrics",
                "scheme": parts.scheme,
                "authorization": {"credentials_file": str(token_file)},
                "static_configs": [{"targets": [parts.netloc]}],
            }
        )
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": jobs})
    )
    port = free_port()
    log = workdir / "prometheus.log"
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    running = RunningPrometheus(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("Prometheus exited:\n" + log.read_text()[-3000:])
        try:
            if httpx.get(f"{running.url}/-/ready", timeout=1).status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    running.stop()
    raise RuntimeError("Prometheus did not become ready:\n" + log.read_text()[-3000:])
