"""Failpoints for the crash-safety tests: kill this process at a named point of a write.

`PIPELINES_CRASH_AT=<point>[:<n>]` makes the n-th arrival (default the first) at
`crash_point(<point>)` send SIGKILL to the process itself: no cleanup handler, no `finally`,
exactly what a power cut or the OOM killer does. Unset (always, outside tests) it costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_ENV = "PIPELINES_CRASH_AT"
POINTS = ("silver", "gold", "export", "delivery", "erasure")
_arrivals: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here with SIGKILL if PIPELINES_CRASH_AT names this point and its count is reached."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, count = spec.partition(":")
    if point != name:
        return
    _arrivals[name] += 1
    if _arrivals[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
