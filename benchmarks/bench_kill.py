"""`flagops kill` whole-process wall time vs a minimal httpx script sending the same PATCH.

Both run as fresh processes against the same running reference service (started here, demo data, no
traffic), alternating, several runs each. Before every run the flag is switched back on (untimed), so every
timed run really writes. `flagops kill` does more than the PATCH — it reads the flag, the environments and
the 5-minute metrics for the blast radius, sends the PATCH with If-Match + Idempotency-Key, and reads back
until the new state is served — so the ratio is the price of those safety steps plus the CLI's imports.

    .venv/bin/python benchmarks/bench_kill.py [--runs 15]

A third series times `flagops kill` of a flag that is already off (no write: it reads the flag, says so and
exits). Target: median ratio <= 1.3x for the kill that writes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from flagops.server.embedded import start_embedded

ENV = "dev"
REASON = "benchmark: kill wall time"

BASELINE = """
import os, sys, httpx
r = httpx.patch(os.environ["B_URL"] + "/v1/flags/" + os.environ["B_KEY"], params={"environment": "dev"},
                json={"enabled": False, "changeReason": "benchmark: kill wall time"},
                headers={"Authorization": "Bearer " + os.environ["B_TOKEN"], "If-Match": os.environ["B_VERSION"],
                         "Idempotency-Key": os.environ["B_IDEM"]})
sys.exit(0 if r.status_code == 200 else 1)
"""


def _reenable(client: httpx.Client, key: str) -> int:
    """Switch the flag back on (untimed); returns its new version."""
    state = client.get(f"/v1/flags/{key}", params={"environment": ENV}).json()["environments"][ENV]
    if not state["enabled"]:
        r = client.patch(
            f"/v1/flags/{key}",
            params={"environment": ENV},
            json={"enabled": True, "changeReason": "benchmark: reset between runs"},
            headers={"If-Match": f'"{state["version"]}"', "Idempotency-Key": str(uuid.uuid4())},
        )
        r.raise_for_status()
        state = r.json()["environments"][ENV]
    return int(state["version"])


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {' '.join(args[:4])}\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    opts = parser.parse_args()

    service = start_embedded(traffic=False)
    try:
        with httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {service.admin_token}"}, timeout=10
        ) as client:
            flags = client.get("/v1/flags", params={"environment": ENV}).json()["flags"]
            key = next(f["key"] for f in flags if f["environments"][ENV]["enabled"])
            base_env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGOPS_")}
            cli_env = {
                **base_env,
                "FLAGOPS_URL": service.url,
                "FLAGOPS_TOKEN": service.admin_token,
                "FLAGOPS_CONFIG": os.devnull + ".absent",
            }
            cli_env.pop("FLAGOPS_CONFIG")
            flagops_bin = str(Path(sys.executable).with_name("flagops"))
            kill_args = [flagops_bin, "kill", key, "--env", ENV, "--reason", REASON, "--yes"]
            flagops_times: list[float] = []
            httpx_times: list[float] = []
            already_off_times: list[float] = []
            # one untimed warm-up of each (page cache, .pyc files)
            _reenable(client, key)
            _timed(kill_args, cli_env)
            version = _reenable(client, key)
            _timed(
                [sys.executable, "-c", BASELINE],
                {
                    **base_env,
                    "B_URL": service.url,
                    "B_KEY": key,
                    "B_TOKEN": service.admin_token,
                    "B_VERSION": f'"{version}"',
                    "B_IDEM": str(uuid.uuid4()),
                },
            )
            for _ in range(opts.runs):
                _reenable(client, key)
                flagops_times.append(_timed(kill_args, cli_env))
                version = _reenable(client, key)
                httpx_times.append(
                    _timed(
                        [sys.executable, "-c", BASELINE],
                        {
                            **base_env,
                            "B_URL": service.url,
                            "B_KEY": key,
                            "B_TOKEN": service.admin_token,
                            "B_VERSION": f'"{version}"',
                            "B_IDEM": str(uuid.uuid4()),
                        },
                    )
                )
                before = client.get("/v1/audit", params={"flag": key, "limit": 1}).json()["entries"][0]["sequence"]
                already_off_times.append(_timed(kill_args, cli_env))  # the baseline's PATCH left it off
                after = client.get("/v1/audit", params={"flag": key, "limit": 1}).json()["entries"][0]["sequence"]
                if after != before:
                    raise SystemExit("killing an already-off flag wrote to the audit log")
    finally:
        service.stop()

    def ms(values: list[float]) -> str:
        return " ".join(f"{v * 1000:.0f}" for v in values)

    f_med, h_med = statistics.median(flagops_times), statistics.median(httpx_times)
    print(f"runs: {opts.runs} each, alternating; flag {key} in {ENV}; service {service.url}")
    print(
        f"flagops kill      median {f_med * 1000:7.1f} ms   min {min(flagops_times) * 1000:6.1f}   "
        f"[{ms(flagops_times)}]"
    )
    print(f"python -c httpx   median {h_med * 1000:7.1f} ms   min {min(httpx_times) * 1000:6.1f}   [{ms(httpx_times)}]")
    o_med = statistics.median(already_off_times)
    print(
        f"kill, already off median {o_med * 1000:7.1f} ms   min {min(already_off_times) * 1000:6.1f}   "
        f"[{ms(already_off_times)}]"
    )
    ratio = f_med / h_med
    print(
        f"ratio (median flagops / median httpx): {ratio:.2f}x  "
        f"(target <= 1.3x: {'met' if ratio <= 1.3 else 'NOT met'}); "
        f"already off: {o_med / h_med:.2f}x"
    )
    print(f"load average (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
