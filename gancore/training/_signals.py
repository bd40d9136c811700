"""A clean stop: SIGINT and SIGTERM (Ctrl-C, a cluster's preemption notice) ask the loop to
stop after the step it is in, instead of killing it halfway through a step or a write."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["StopRequest", "stop_requests"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """The first stop signal received while the loop runs, or None."""

    def __init__(self) -> None:
        self.signal: int | None = None

    @property
    def name(self) -> str:
        return "" if self.signal is None else signal.Signals(self.signal).name


@contextlib.contextmanager
def stop_requests(enabled: bool = True) -> Iterator[StopRequest]:
    """Catch SIGINT and SIGTERM for the block (main thread only: Python delivers signals
    there). A second Ctrl-C interrupts at once; the previous handlers come back after."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: Any) -> None:
        if request.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request.signal = signum

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
