"""Where a JAX network's arrays live while a compiled update traces it.

A `JaxNetwork` keeps its parameters and buffers in a dict of immutable arrays. A compiled
update runs the core's objective under an `Overlay`: every network it calls, and every
`JaxParameter` it reads or writes (weight clipping, say), sees the overlay's traced values
instead of its own, and whatever they write (BatchNorm's running statistics, clipped
weights) goes to the overlay. The update returns the overlay's final values, which then
replace the networks' arrays. Outside an overlay a network reads and writes its own
arrays: that is eager use (sampling, evaluation, standing statistics).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import jax

__all__ = ["Overlay", "capture", "current", "overlay"]


class Overlay:
    """Traced values of networks, by network; the random key of dropout masks.

    In `discover` mode a network met for the first time joins with its own arrays (an
    abstract trace that only learns which networks an objective calls, see `used`).
    """

    def __init__(self, values: dict[int, dict[str, Any]], key: Any, *,
                 discover: bool = False) -> None:
        self.values = values
        self.key = key
        self.discover = discover
        self.used: dict[int, Any] = {}

    def arrays(self, network: Any) -> dict[str, Any] | None:
        """The network's values under this overlay (None: it is not part of the update)."""
        uid = id(network)
        if uid not in self.values and self.discover:
            self.values[uid] = dict(network.arrays_outside())
        if uid in self.values:
            self.used.setdefault(uid, network)
            return self.values[uid]
        return None

    def next_key(self) -> Any:
        self.key, sub = jax.random.split(self.key)
        return sub


_STACK: list[Overlay] = []


def current() -> Overlay | None:
    """The innermost active overlay, or None in eager use."""
    return _STACK[-1] if _STACK else None


@contextlib.contextmanager
def overlay(active: Overlay) -> Iterator[Overlay]:
    """Run networks under `active`."""
    _STACK.append(active)
    try:
        yield active
    finally:
        _STACK.pop()


@contextlib.contextmanager
def capture() -> Iterator[dict[str, Any]]:
    """Keep what the block writes to the current overlay out of it: on exit the overlay is
    as it was, and the dict yielded holds the writes (``values``, ``key``). A nested JAX
    transformation (the input gradient of a penalty) returns them as auxiliary outputs and
    commits them with `commit`, so that none of its inner tracers leak into the overlay."""
    active = current()
    written: dict[str, Any] = {}
    if active is None:
        yield written
        return
    saved_values = {uid: dict(v) for uid, v in active.values.items()}
    saved_key = active.key
    try:
        yield written
        written["values"] = {uid: {k: v for k, v in active.values[uid].items()
                                   if saved_values.get(uid, {}).get(k) is not v}
                             for uid in active.values}
        written["key"] = active.key
    finally:
        active.values = saved_values
        active.key = saved_key


def commit(written: dict[str, Any]) -> None:
    """Apply the writes a `capture` block returned (as concrete or outer-traced values)."""
    active = current()
    if active is None or not written:
        return
    for uid, entries in written["values"].items():
        active.values.setdefault(uid, {}).update(entries)
    active.key = written["key"]
