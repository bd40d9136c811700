"""Test helpers: loading a backend, numpy <-> native arrays, gradients of a scalar loss."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gancore

FRAMEWORKS = ("torch", "tensorflow")
#: Every framework backend of the checkout. The `backend` fixture runs the tests written for
#: torch and TensorFlow arrays (FRAMEWORKS); JAX is held to the same contract by the
#: conformance suite (tests/test_conformance.py) and joins the cross-backend tests below
#: where its compiles are cheap (sampling a checkpoint, the bench's quick run).
ALL_FRAMEWORKS = (*FRAMEWORKS, "jax")
IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def _mnist_dir() -> Path:
    """The real MNIST test set: $GANCORE_MNIST, else ../shared/data/mnist beside the
    checkout, else the workspace's shared folder (a clone made elsewhere still finds it)."""
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist",
                  Path("/work/shared/data/mnist")]
    if os.environ.get("GANCORE_MNIST"):
        candidates.insert(0, Path(os.environ["GANCORE_MNIST"]))
    return next((c for c in candidates if c.is_dir()), candidates[0])


#: Where the MNIST tests read the real MNIST test set (IDX files); may be missing.
MNIST_DIR = _mnist_dir()


def load_backend(name: str) -> Any:
    """`gancore.backend(name)`; skips when its framework is missing, fails under CI=true."""
    try:
        return gancore.backend(name)
    except (gancore.PluginError, ImportError) as e:
        message = f"backend {name!r} is not available: {e}"
        if IN_CI:
            pytest.fail(f"{message} (under CI every backend must be tested)", pytrace=False)
        pytest.skip(message)


def native(backend: Any, array: Any) -> Any:
    """A numpy array (or nested list) as an array of `backend`, keeping its dtype."""
    array = np.asarray(array)
    if backend.name == "torch":
        import torch

        return torch.tensor(array)
    if backend.name == "tensorflow":
        import tensorflow as tf

        return tf.constant(array)
    return array.copy()


def to_numpy(backend: Any, x: Any) -> np.ndarray:
    return np.asarray(backend.ops.to_numpy(x))


def tensor_type(backend: Any) -> type | tuple[type, ...]:
    """The type every result of a loss on `backend` must have."""
    if backend.name == "torch":
        import torch

        return torch.Tensor
    if backend.name == "tensorflow":
        import tensorflow as tf

        return tf.Tensor
    return (np.ndarray, np.generic)


def value_and_grads(
    backend: Any,
    fn: Callable[..., Any],
    arrays: Mapping[str, np.ndarray],
    wrt: tuple[str, ...],
    **constants: Any,
) -> tuple[Any, dict[str, Any]]:
    """`fn(**arrays, **constants)` on native arrays, and the gradient of its sum (a scalar
    loss, or the sum of a 'none' loss) with respect to each array named in `wrt`.

    Returns the native output and the native gradients (dtype checks need them native).
    """
    inputs = {name: native(backend, a) for name, a in arrays.items()}
    if backend.name == "torch":
        import torch

        for name in wrt:
            inputs[name].requires_grad_(True)
        out = fn(**inputs, **constants)
        grads = torch.autograd.grad(out.sum(), [inputs[n] for n in wrt])
        return out, dict(zip(wrt, grads, strict=True))
    if backend.name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for name in wrt:
                tape.watch(inputs[name])
            out = fn(**inputs, **constants)
            total = tf.reduce_sum(out)
        grads = tape.gradient(total, [inputs[n] for n in wrt])
        assert all(g is not None for g in grads), f"no gradient for some of {wrt}"
        return out, dict(zip(wrt, grads, strict=True))
    raise AssertionError(f"backend {backend.name!r} has no autodiff")


# A child's ru_maxrss starts at its parent's peak (Linux carries the high-water mark over
# fork and exec), so a small launcher stands between pytest and the script it measures.
_LAUNCHER = r"""
import resource, subprocess, sys
child = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]],
                       capture_output=True, text=True)
print(child.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.write(child.stdout + child.stderr)
"""


def run_measured(script: str, args: list[str], timeout: float = 180
                 ) -> tuple[int, int, str]:
    """Run `script` with `args` in a fresh interpreter: its exit status, its peak resident
    memory in KiB and its output."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _LAUNCHER, script, *args],
                            capture_output=True, text=True, timeout=timeout, check=False)
    head, _, output = result.stdout.partition("\n")
    returncode, peak_kib = map(int, head.split())
    return returncode, peak_kib, output + result.stderr
