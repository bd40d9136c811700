"""Background prefetch: a thread reads the next batches while the step runs.

The reader thread owns the wrapped iterator while it runs. After each batch it records the
iterator's position (`snapshot()`); the prefetcher's `state_dict` is the position of the
last batch *consumed*, not of the last one read ahead, so a checkpoint resumes exactly.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from gancore.data._batches import Batch, copy_state

__all__ = ["Prefetcher"]

# How often (seconds) a reader blocked on a full queue checks whether it should stop.
_POLL = 0.05


class _Positioned(Protocol):
    def __next__(self) -> Batch: ...

    def snapshot(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class _End:
    """Put by the reader when the wrapped iterator is exhausted."""


class _Failure:
    """Put by the reader when reading raised: the exception, re-raised in the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _read_ahead(source: _Positioned, out: queue.Queue[Any], stop: threading.Event) -> None:
    """The reader thread. It holds no reference to the `Prefetcher`, so that dropping the
    prefetcher lets it be collected (and its finalizer stop this thread)."""
    while not stop.is_set():
        try:
            item: Any = (next(source), source.snapshot())
        except StopIteration:
            item = _End()
        except BaseException as e:  # any error belongs to the consumer
            item = _Failure(e)
        while not stop.is_set():
            try:
                out.put(item, timeout=_POLL)
                break
            except queue.Full:
                continue
        if not isinstance(item, tuple):
            return


class _Reader:
    """One reader thread, its queue and its stop flag."""

    def __init__(self, source: _Positioned, depth: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=_read_ahead, args=(source, self.queue, self.stop),
                                       name="gancore-prefetch", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the thread and wait for it (at most the batch it is reading)."""
        self.stop.set()
        self.thread.join()


class Prefetcher(Iterator[Batch]):
    """Wraps a batch iterator (`iterate_batches`' or an iterable's) so that a background
    thread reads up to `depth` batches ahead. The batches are the wrapped iterator's, in
    order; `state_dict` is the position after the last batch returned by `next`, and
    `load_state_dict` stops the thread, moves the wrapped iterator and reads ahead from
    there at the next `next`. An error in the reader is raised by `next` (the same
    exception, with its message and traceback). `close()` stops the thread and puts the
    wrapped iterator back to the consumed position (the next `next` starts a new
    reader); a prefetcher that is garbage-collected stops its thread too, and the thread is
    a daemon: it never holds up the interpreter's exit."""

    def __init__(self, source: _Positioned, depth: int) -> None:
        self.source = source
        self.depth = depth
        self._consumed = source.snapshot()
        self._reader: _Reader | None = None
        self._finalizer: weakref.finalize | None = None

    def __next__(self) -> Batch:
        if self._reader is None:
            self._reader = _Reader(self.source, self.depth)
            # Only the stop flag: a finalizer that joined could wait on a user's iterator.
            self._finalizer = weakref.finalize(self, self._reader.stop.set)
        item = self._reader.queue.get()
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        if isinstance(item, _End):
            self.close()
            raise StopIteration
        batch, self._consumed = item
        return batch

    def close(self) -> None:
        """Stop the reader thread; the next `next` continues after the last batch consumed."""
        if self._reader is None:
            return
        self._reader.close()
        if self._finalizer is not None:
            self._finalizer.detach()
        self._reader, self._finalizer = None, None
        self.source.load_state_dict(copy_state(self._consumed))

    def state_dict(self) -> dict[str, Any]:
        """The wrapped iterator's state after the last batch consumed."""
        return copy_state(self._consumed)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from `state` (discarding what was read ahead)."""
        self.close()
        self.source.load_state_dict(state)
        self._consumed = self.source.snapshot()
