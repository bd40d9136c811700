"""The child process of `gancore bench`: runs one backend's jobs and reports each result as
one JSON line, so that the parent survives a crash, a hang or a slow compile of any job.

Input (stdin, JSON): {"backend", "jobs": [Job dicts], "repeats", "warmup", "min_repeat_s",
"threads", "ceiling"}. Output (the original stdout; everything else printed goes to stderr):
{"event": "info", ...} once, then {"event": "start", "id"} and {"event": "result", "id",
"result"} per job.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from gancore.bench._catalog import BASELINE_STYLE, Job
from gancore.bench._machine import MATMUL_SIZE, load_average, matmul_gflops, numpy_matmul
from gancore.bench._measure import MemoryProbe, measure, measure_interleaved, speedup, timed
from gancore.bench._measure import steps_per_repeat as calibrate

Run = Callable[[int], Any]

#: A loss's repeats last this fraction of a training repeat: a loss call is short and
#: steady, and there are 28 loss jobs per mode.
_LOSS_REPEAT_FRACTION = 0.2
#: Each training round runs its sides in turn this many times, a quarter of a repeat each
#: (see `measure_interleaved`): on a shared machine, a round's sides share its bursts.
_SLICES_PER_ROUND = 4


def _side(first: float, repeats: Any, memory: dict[str, Any]) -> dict[str, Any]:
    return {"first_step_s": first, "step_s": repeats.step_s.to_dict(),
            "cpu_step_s": repeats.cpu_step_s.to_dict(), "repeat_wall_s": list(repeats.walls),
            "memory": memory}


def _warm(run: Any, warmup: int) -> tuple[float, float]:
    """The first step (compiles) and the mean time of `warmup` steps after it."""
    first = timed(run, 1).wall
    return first, timed(run, warmup).wall / warmup


def run_training(job: Job, settings: dict[str, Any], probe: MemoryProbe) -> dict[str, Any]:
    """gancore's step, interleaved with the hand-written loops' where there are some.

    Each side is built and warmed up in its own memory phase; then every side takes one
    more untimed step, since building a side can change global state that another side's
    compiled steps depend on (TensorFlow retraces a `tf.function` after a new global seed).
    """
    from gancore.bench._training import baseline_builders, gancore_run, setup

    s = setup(job)
    result: dict[str, Any] = {"kind": "train", "flops_per_step": s.flops,
                              "baseline_style": BASELINE_STYLE.get(job.backend)}
    warmup, repeats = settings["warmup"], settings["repeats"]
    builders = {**baseline_builders(s), "gancore": lambda: gancore_run(job, s)}
    runs: dict[str, Run] = {}
    warm: dict[str, tuple[float, float]] = {}
    memory: dict[str, dict[str, Any]] = {}
    for side, build in builders.items():
        probe.begin()
        runs[side] = build()
        warm[side] = _warm(runs[side], warmup)
        memory[side] = probe.end()
    for run in runs.values():
        run(1)
    steps = calibrate(max(step for _, step in warm.values()), settings["min_repeat_s"])
    sides, rounds = measure_interleaved(runs, steps, repeats, slices=_SLICES_PER_ROUND)
    for side, reps in sides.items():
        result[side] = _side(warm[side][0], reps, memory[side])
    # Where the hand-written loop runs eagerly itself (PyTorch), it is the eager reference.
    eager = "eager_baseline" if "eager_baseline" in runs else (
        "baseline" if result["baseline_style"] == "eager" else None)
    for key, reference in (("ratio", "baseline"), ("eager_ratio", eager),
                           ("compiled_ratio", "compiled_baseline")):
        if reference in runs:
            wall, cpu = speedup(rounds, reference, "gancore")
            result[key], result["cpu_" + key] = wall.to_dict(), cpu.to_dict()
    result["steps_per_repeat"] = steps
    return result


def run_loss(job: Job, settings: dict[str, Any], driver: Any, probe: MemoryProbe
             ) -> dict[str, Any]:
    """One loss's forward and backward pass."""
    from gancore.bench._losses import CASES

    if job.loss not in CASES:
        raise KeyError(f"no benchmark inputs for loss {job.loss!r}: add it to CASES")
    case = CASES[job.loss]
    probe.begin()
    run = driver.loss_step(case, case.inputs(np.random.default_rng(0), job.batch), job.mode)
    first, step = _warm(run, settings["warmup"])
    memory = probe.end()
    steps = calibrate(step, settings["min_repeat_s"] * _LOSS_REPEAT_FRACTION)
    return {"kind": "loss", "steps_per_repeat": steps,
            "gancore": _side(first, measure(run, steps, settings["repeats"]), memory)}


def _error(e: BaseException) -> str:
    # The last line of the exception is what went wrong; compile errors are long.
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def main(stdin: TextIO = sys.stdin) -> int:
    """Run the jobs read from stdin; report on the original stdout."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints of the frameworks must not corrupt the protocol

    def emit(**message: Any) -> None:
        out.write(json.dumps(message) + "\n")

    payload = json.load(stdin)
    from gancore.bench._frameworks import DRIVERS

    driver = DRIVERS[payload["backend"]](payload.get("threads"))
    info = driver.describe()
    if payload.get("ceiling"):
        # numpy's and the framework's products, in this process's threads: the ceiling of
        # the jobs that run here
        info["matmul_gflops"] = {"numpy": matmul_gflops(numpy_matmul(MATMUL_SIZE)),
                                 driver.name: matmul_gflops(driver.matmul(MATMUL_SIZE))}
    emit(event="info", info=info)
    probe = MemoryProbe()
    for data in payload["jobs"]:
        job = Job.from_dict(data)
        emit(event="start", id=job.id)
        load = load_average()
        start = time.perf_counter()
        try:
            if job.loss is None:
                result = run_training(job, payload, probe)
            else:
                result = run_loss(job, payload, driver, probe)
            result["status"] = "ok"
        except Exception as e:
            traceback.print_exc()
            result = {"status": "error", "error": _error(e)}
        result["elapsed_s"] = round(time.perf_counter() - start, 2)
        result["load_average"] = [*(load or []), *(load_average() or [])]
        emit(event="result", id=job.id, result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
