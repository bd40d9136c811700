"""How many threads a training's framework uses: a number, or ``"auto"``.

A framework left to its own default takes one thread per core and, on a machine where
another process keeps a core busy, its threads wait on each other at every parallel op:
a small GAN's torch step was measured 8-13x slower so. ``"auto"`` takes the cores this
process may run on, less those the load average says are busy, at least one.
"""

from __future__ import annotations

import os
from typing import Any

from gancore._errors import InvalidArgumentError

__all__ = ["resolve_threads"]


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def resolve_threads(threads: Any) -> int:
    """`threads` as a count: an int >= 1 as given, ``"auto"`` (or None) by the rule above."""
    if threads is None or threads == "auto":
        cores = available_cores()
        try:
            busy = round(os.getloadavg()[0])
        except (AttributeError, OSError):
            busy = 0
        return max(1, cores - busy)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgumentError(f"threads must be an int >= 1 or 'auto'; received {threads!r}")
    return threads
