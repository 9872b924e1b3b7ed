"""Propagation probes: after a kill, a real client of the flag platform says when it was served off.

The write is never delayed by a probe: ops applies the kill first, then `Probe.watch_kill` starts a real
SDK client (the OpenFeature SDK over OFREP, or the official UnleashClient), evaluates the flag until it is
served off or the bounded timeout passes, and reports the time from sending the kill to the first
evaluation that saw it. SDKs are imported only when a probe runs (`pip install 'flagops[probe]'`).
"""

from flagops.probe.base import ProbeResult
from flagops.probe.runner import Probe, probe_for

__all__ = ["Probe", "ProbeResult", "probe_for"]
