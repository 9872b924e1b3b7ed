"""The one way the benchmarks learn where a `flagops serve` they started is listening."""

from __future__ import annotations

import re
import subprocess
import threading
from typing import IO

_LISTENING = re.compile(r"listening on (http://\S+)")


def listening_url(proc: subprocess.Popen[str], what: str) -> str:
    """Read the service's output until it says where it listens; keep draining it so the pipe never fills."""
    assert proc.stdout is not None
    for line in proc.stdout:
        m = _LISTENING.search(line)
        if m:
            threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
            return m.group(1)
    raise SystemExit(f"{what} did not start")


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass
