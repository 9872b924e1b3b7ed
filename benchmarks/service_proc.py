"""The one way the benchmarks learn where a `flagops serve` they started is listening."""

from __future__ import annotations

import re
import subprocess
import threading

_LISTENING = re.compile(r"listening on (http://\S+)")


def listening_url(proc: subprocess.Popen[str], what: str) -> str:
    """Read the service's output until it says where it listens; keep draining it so the pipe never fills."""
    assert proc.stdout is not None
    for line in proc.stdout:
        m = _LISTENING.search(line)
        if m:
            out = proc.stdout
            threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
            return m.group(1)
    raise SystemExit(f"{what} did not start")
