"""Helpers shared by the experiment scripts: thread limits, timing, JSON and tables."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def limit_threads(backend: str, threads: int) -> None:
    """Run `backend`'s framework on `threads` CPU threads (call before any training)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
    return float(arr.mean()), se


def fmt(values: Sequence[float], digits: int = 2, scale: float = 1.0) -> str:
    """``mean ± se`` of `values` times `scale`."""
    m, s = mean_se([scale * v for v in values])
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def run_per_backend(script: str, backends: Sequence[str]) -> None:
    """Run `script` again once per backend, with this process's other arguments: one
    framework per process, so each keeps its own thread settings and memory."""
    import subprocess
    import sys

    argv = sys.argv[1:]
    start = argv.index("--backends")
    end = start + 1
    while end < len(argv) and not argv[end].startswith("--"):
        end += 1
    for backend in backends:
        subprocess.run([sys.executable, script, *argv[:start], *argv[end:],
                        "--backends", backend], check=True)
