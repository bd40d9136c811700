"""The measuring method: repeats summarised as median / min / max, interleaved A/B pairs,
and the resident memory of the process.

Every time is wall-clock (`time.perf_counter`); the process's CPU time is recorded beside
it, since on a shared machine it is less disturbed by other processes than wall time.
"""

from __future__ import annotations

import math
import resource
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class Summary:
    """Median, min and max of repeated measurements."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """The summary of at least one value."""
        return cls(statistics.median(values), min(values), max(values), len(values))

    def scaled(self, factor: float) -> Summary:
        """Every statistic times `factor` (> 0), e.g. seconds per repeat -> per step."""
        return Summary(self.median * factor, self.min * factor, self.max * factor, self.n)

    def inverse(self, numerator: float = 1.0) -> Summary:
        """`numerator / value` (a time becomes a rate: min and max swap)."""
        return Summary(numerator / self.median, numerator / self.max, numerator / self.min,
                       self.n)

    def to_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


@attrs.frozen
class Timing:
    """Wall and CPU seconds of one repeat."""

    wall: float
    cpu: float


def timed(run: Callable[[int], Any], steps: int) -> Timing:
    """Run `run(steps)` once and time it."""
    wall, cpu = time.perf_counter(), time.process_time()
    run(steps)
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def steps_per_repeat(step_seconds: float, min_repeat_s: float) -> int:
    """Enough steps for one repeat to last about `min_repeat_s` (timer resolution and
    per-call jitter stop mattering)."""
    return max(1, math.ceil(min_repeat_s / max(step_seconds, 1e-9)))


@attrs.frozen
class Repeats:
    """The repeats of one side (gancore or the hand-written loop), per step."""

    step_s: Summary
    cpu_step_s: Summary
    walls: tuple[float, ...]
    cpus: tuple[float, ...]


def _repeats(timings: Sequence[Timing], steps: int) -> Repeats:
    walls = tuple(t.wall for t in timings)
    cpus = tuple(t.cpu for t in timings)
    return Repeats(Summary.of(walls).scaled(1 / steps), Summary.of(cpus).scaled(1 / steps),
                   walls, cpus)


def measure(run: Callable[[int], Any], steps: int, repeats: int) -> Repeats:
    """`repeats` timed repeats of `steps` steps each."""
    return _repeats([timed(run, steps) for _ in range(repeats)], steps)


def _parts(steps: int, slices: int) -> list[int]:
    """`steps` split into `slices` (at most `steps`) near-equal positive parts."""
    n = max(1, min(slices, steps))
    return [steps // n + (1 if i < steps % n else 0) for i in range(n)]


def measure_interleaved(runs: Mapping[str, Callable[[int], Any]], steps: int, repeats: int,
                        slices: int = 1
                        ) -> tuple[dict[str, Repeats], list[dict[str, Timing]]]:
    """`repeats` rounds, each timing one repeat of `steps` steps of every run in `runs`.

    The order rotates from round to round, and each cycle of rotations is run backwards
    in the next (A B C, B C A, C A B, C B A, A C B, B A C with three runs), so no side
    always runs first, or always after the same neighbour: a side that leaves the machine in
    a worse state (eager ops, a thread pool still spinning) slows each other side alike.
    With `slices` > 1
    each round's repeats are cut into that many parts, run in turn (A B A B ... within the
    round) and summed: a burst of another process's work then falls on every side of the
    round alike instead of on one of them. Returns each side's repeats and the rounds, for
    `speedup`.
    """
    names = list(runs)
    parts = _parts(steps, slices)
    rounds: list[dict[str, Timing]] = []
    for i in range(repeats):
        k = i % len(names)
        order = names[k:] + names[:k]
        if (i // len(names)) % 2:
            order.reverse()
        wall = dict.fromkeys(order, 0.0)
        cpu = dict.fromkeys(order, 0.0)
        for part in parts:
            for name in order:
                t = timed(runs[name], part)
                wall[name] += t.wall
                cpu[name] += t.cpu
        rounds.append({name: Timing(wall[name], cpu[name]) for name in order})
    sides = {name: _repeats([r[name] for r in rounds], steps) for name in names}
    return sides, rounds


def speedup(rounds: Sequence[Mapping[str, Timing]], baseline: str, candidate: str
            ) -> tuple[Summary, Summary]:
    """`candidate`'s speed relative to `baseline` (> 1: faster), per round, from wall and
    from CPU time. Ratios of the same round's neighbours cancel the slow drifts of a shared
    machine's load; their median is the figure to read."""
    wall = Summary.of([r[baseline].wall / r[candidate].wall for r in rounds])
    cpu = Summary.of([r[baseline].cpu / r[candidate].cpu for r in rounds])
    return wall, cpu


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class MemoryProbe:
    """The process's resident set size (RSS) and its peak over a phase, in MiB.

    On Linux the kernel's peak RSS (VmHWM) is reset at the start of each phase (writing 5
    to /proc/self/clear_refs), so a phase's peak is its own. Elsewhere the peak is the
    process's whole-life peak (`resource.getrusage`), an upper bound.
    """

    def __init__(self) -> None:
        self.resettable = self._reset()
        self.method = "VmHWM reset per phase" if self.resettable else "ru_maxrss (process peak)"
        self.start = self.rss()

    @staticmethod
    def _reset() -> bool:
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            return False
        return _status_kib("VmHWM") is not None and _status_kib("VmRSS") is not None

    @staticmethod
    def rss() -> float:
        """The current RSS (the whole-life peak where the current value cannot be read)."""
        kib = _status_kib("VmRSS")
        return kib / 1024 if kib is not None else MemoryProbe.process_peak()

    @staticmethod
    def process_peak() -> float:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

    def begin(self) -> None:
        """Start a phase: reset the peak, remember the RSS."""
        self._reset()
        self.start = self.rss()

    def end(self) -> dict[str, float | str]:
        """The phase's RSS at its start, its peak and the growth, in MiB."""
        kib = _status_kib("VmHWM") if self.resettable else None
        peak = kib / 1024 if kib is not None else self.process_peak()
        return {"rss_start_mib": round(self.start, 1), "peak_mib": round(peak, 1),
                "growth_mib": round(peak - self.start, 1), "method": self.method}
