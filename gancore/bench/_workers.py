"""``gancore bench --workers N``: data-parallel scaling at the same global batch.

For each backend and training workload, the same trainer (`GANTrainer.fit`, as users call
it) runs in alternating rounds as one process on one thread, one process on N threads, and
N worker processes of one thread each (launched as ``gancore train --workers`` launches
them: torchrun's variables for torch, a ``TF_CONFIG`` for TensorFlow). Every configuration
trains the same global batch, so its steps/s compare directly; the scaling efficiency is
``(steps/s of N workers) / (N * steps/s of one process on one thread)``. The bytes each update
all-reduces are counted from the networks' parameters.

Each configuration is a fresh set of processes: startup and the first (compiling) steps are
excluded from the timing by warm-up steps; worker 0's wall time over the timed steps is the
job's (the collectives keep the workers in step).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError

#: The backends that train data-parallel, and the framework whose launcher variables they read.
FRAMEWORKS = {"torch": "torch", "tensorflow": "tensorflow"}
WORKLOADS = ("dcgan", "wgan_gp")


def _parameter_bytes(spec: Any) -> int:
    from gancore.nn import parameter_shapes, trainable_names

    shapes = parameter_shapes(spec)
    return 4 * sum(int(np.prod(shapes[name])) for name in trainable_names(spec))


def _child(backend: str, workload: str, batch: int, warmup: int, steps: int, out: str) -> None:
    """One configuration: train `warmup` steps, then time `steps`; worker 0 writes JSON."""
    from gancore.bench._catalog import Job
    from gancore.bench._training import setup
    from gancore.distributed import from_environment
    from gancore.training import make_trainer

    workers = from_environment(FRAMEWORKS[backend])
    threads = int(os.environ.get("GANCORE_THREADS", "1"))
    from gancore._backend import backend as get_backend

    native = get_backend(backend)
    native.set_threads(threads)
    s = setup(Job(0, backend, workload, "default", batch))
    trainer = make_trainer(s.architecture, s.data, s.config, backend=backend, device="cpu",
                           workers=workers)
    trainer.fit(warmup, progress=False)
    start = time.perf_counter()
    trainer.fit(steps, progress=False)
    seconds = time.perf_counter() - start
    if workers.is_main:
        Path(out).write_text(json.dumps({
            "seconds": seconds, "steps": steps, "steps_per_s": steps / seconds,
            "critic_update_bytes": _parameter_bytes(s.architecture.critic),
            "generator_update_bytes": _parameter_bytes(s.architecture.generator),
            "n_critic": s.config.n_critic,
        }))


def _run_config(backend: str, workload: str, batch: int, warmup: int, steps: int,
                workers: int, threads: int, timeout: float) -> dict[str, Any]:
    from gancore.distributed import worker_environments

    with tempfile.TemporaryDirectory(prefix="gancore-bench-workers-") as tmp:
        out = os.path.join(tmp, "result.json")
        base = {**os.environ, "GANCORE_THREADS": str(threads), "GANCORE_WORKER_TIMEOUT": "300"}
        args = [sys.executable, "-m", "gancore.bench._workers", backend, workload, str(batch),
                str(warmup), str(steps), out]
        envs = (worker_environments(FRAMEWORKS[backend], workers, base=base) if workers > 1
                else [base])
        procs = [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for env in envs]
        errors = []
        for p in procs:
            try:
                _, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                return {"error": f"timed out after {timeout:.0f} s"}
            if p.returncode:
                errors.append(err.strip().splitlines()[-1] if err.strip() else
                              f"exit {p.returncode}")
        if errors:
            return {"error": errors[0]}
        return json.loads(Path(out).read_text())


def run_scaling(backends: tuple[str, ...], workers: int, *, workloads: tuple[str, ...] = WORKLOADS,
                batch: int = 64, rounds: int = 3, warmup: int = 3, steps: int = 20,
                timeout: float = 900.0, progress: Any = print) -> dict[str, Any]:
    """Steps/s of one process (one thread and `workers` threads) and of `workers` workers
    (one thread each) at the same global batch, in alternating rounds; the median and the
    worst round of each, and the scaling efficiency."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 2:
        raise InvalidArgumentError(f"workers must be an int >= 2; received {workers!r}")
    if batch % workers:
        raise InvalidArgumentError(
            f"batch must be divisible by workers ({workers}); received {batch}")
    configs = {"1 process, 1 thread": (1, 1),
               f"1 process, {workers} threads": (1, workers),
               f"{workers} workers, 1 thread each": (workers, 1)}
    rows = []
    for backend in backends:
        if backend not in FRAMEWORKS:
            continue
        for workload in workloads:
            results: dict[str, list[float]] = {name: [] for name in configs}
            info: dict[str, Any] = {}
            error = None
            for r in range(rounds):
                for name, (n, threads) in configs.items():
                    progress(f"  {backend} {workload} round {r + 1}/{rounds}: {name}")
                    got = _run_config(backend, workload, batch, warmup, steps, n, threads,
                                      timeout)
                    if "error" in got:
                        error = f"{name}: {got['error']}"
                        break
                    results[name].append(got["steps_per_s"])
                    info = got
                if error:
                    break
            row: dict[str, Any] = {"backend": backend, "workload": workload, "batch": batch,
                                   "workers": workers}
            if error:
                row["error"] = error
            else:
                for name, values in results.items():
                    row[name] = {"median": statistics.median(values), "worst": min(values),
                                 "rounds": values}
                single = statistics.median(results["1 process, 1 thread"])
                many = results[f"{workers} workers, 1 thread each"]
                row["efficiency"] = statistics.median(many) / (workers * single)
                row["efficiency_worst"] = min(many) / (workers * single)
                row["allreduce_bytes_per_step"] = (
                    info["n_critic"] * info["critic_update_bytes"]
                    + info["generator_update_bytes"])
            rows.append(row)
    return {"workers": workers, "batch": batch, "rounds": rounds, "steps": steps,
            "warmup": warmup, "configs": list(configs), "rows": rows,
            "cpu_count": os.cpu_count()}


def scaling_table(report: dict[str, Any]) -> str:
    """The scaling report as a markdown table."""
    names = report["configs"]
    head = ["backend", "workload", *(f"{n} (steps/s)" for n in names), "efficiency",
            "all-reduced per step"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"| {row['backend']} | {row['workload']} | error: {row['error']} |")
            continue
        cells = [f"{row[n]['median']:.2f} (worst {row[n]['worst']:.2f})" for n in names]
        lines.append(
            f"| {row['backend']} | {row['workload']} | " + " | ".join(cells)
            + f" | {row['efficiency']:.2f} (worst {row['efficiency_worst']:.2f}) | "
            f"{row['allreduce_bytes_per_step'] / 1e6:.2f} MB |")
    return "\n".join(lines)


if __name__ == "__main__":
    backend, workload, batch, warmup, steps, out = sys.argv[1:7]
    _child(backend, workload, int(batch), int(warmup), int(steps), out)
