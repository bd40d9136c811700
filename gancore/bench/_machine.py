"""The machine: what it is, its dense float32 matrix-multiply ceiling, and how long
`import gancore` takes. Imports no framework (each framework's own multiply is measured in
its child process with the same `matmul_gflops`)."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gancore.bench._measure import Summary

#: Distributions whose versions the report lists.
DISTRIBUTIONS = ("gancore", "gancore-torch", "gancore-tensorflow", "gancore-jax", "numpy",
                 "torch", "tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "matplotlib")

MATMUL_SIZE = 2048


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_threads() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"library": i.get("internal_api"), "threads": i.get("num_threads")}
            for i in threadpool_info()]


def describe() -> dict[str, Any]:
    """CPU model, core counts, OS, Python and the versions of the installed packages."""
    versions = {}
    for dist in DISTRIBUTIONS:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "numpy_blas": _blas_threads(),
    }


def load_average() -> list[float] | None:
    """The 1-minute load average (how busy the shared machine is), where the OS has one."""
    return [round(os.getloadavg()[0], 2)] if hasattr(os, "getloadavg") else None


def matmul_gflops(multiply: Callable[[], Any], n: int = MATMUL_SIZE, repeats: int = 5) -> float:
    """The best rate of `multiply()`, an n x n by n x n float32 product, in GFLOP/s.

    The best, not the median, of the repeats: a ceiling is what the hardware can reach.
    """
    multiply()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        multiply()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def numpy_matmul(n: int = MATMUL_SIZE) -> Callable[[], Any]:
    """A float32 numpy product for `matmul_gflops`."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return lambda: a @ b


#: What `import gancore` imports besides itself, by the design (numpy and attrs): the floor
#: of its import time.
DEPENDENCIES = ("numpy", "attrs")

_IMPORT_PROBE = (
    "import sys, time; t = time.perf_counter(); import {modules}; "
    "print(time.perf_counter() - t); "
    "print(','.join(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules))"
)


def _import_once(modules: str) -> tuple[float, list[str]]:
    out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(modules=modules)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return float(out[0]), [m for m in (out[1] if len(out) > 1 else "").split(",") if m]


def import_time(repeats: int) -> dict[str, Any]:
    """`import gancore` in fresh interpreters: seconds (interpreter start-up excluded), any
    framework it imported (there must be none), and the seconds of importing only its
    required dependencies, alternating with it."""
    times, floor, frameworks = [], [], set()
    for _ in range(repeats):
        seconds, imported = _import_once("gancore")
        times.append(seconds)
        frameworks.update(imported)
        floor.append(_import_once(", ".join(DEPENDENCIES))[0])
    return {"seconds": Summary.of(times).to_dict(), "frameworks_imported": sorted(frameworks),
            "dependencies": list(DEPENDENCIES),
            "dependencies_seconds": Summary.of(floor).to_dict()}
