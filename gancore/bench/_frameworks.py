"""What the benchmark needs from each framework, in the child process that measures it:
versions and threads, a matrix multiply for the machine's ceiling, and one forward plus
backward pass of a loss in each execution mode.

Only `gancore.bench._child` imports this module: it imports torch, TensorFlow or JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gancore.bench._losses import LossCase

Run = Callable[[int], None]


class TorchDriver:
    """PyTorch: eager autograd, or the loss through `torch.compile`."""

    name = "torch"

    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch

    def describe(self) -> dict[str, Any]:
        torch = self.torch
        return {"framework": "torch", "version": torch.__version__,
                "intra_op_threads": torch.get_num_threads(),
                "inter_op_threads": torch.get_num_interop_threads()}

    def matmul(self, n: int) -> Callable[[], Any]:
        a, b = self.torch.randn(n, n), self.torch.randn(n, n)
        return lambda: self.torch.mm(a, b)

    def loss_step(self, case: LossCase, inputs: dict[str, np.ndarray], mode: str) -> Run:
        torch = self.torch
        tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
        leaves = [tensors[k].requires_grad_(True) for k in case.grads]
        forward = torch.compile(case.call) if mode == "compile" else case.call

        def run(steps: int) -> None:
            for _ in range(steps):
                torch.autograd.grad(forward(tensors), leaves)

        return run


class TensorFlowDriver:
    """TensorFlow: eager execution, `tf.function`, or `tf.function` with XLA."""

    name = "tensorflow"

    def __init__(self, threads: int | None = None) -> None:
        import tensorflow as tf

        if threads:  # only possible before TensorFlow runs its first op
            # Both pools: independent ops of a graph run in parallel on the inter-op pool,
            # which would otherwise use every core whatever `threads` says.
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        self.tf = tf

    def describe(self) -> dict[str, Any]:
        tf = self.tf
        threading = tf.config.threading
        # 0 means TensorFlow's default: one thread per core.
        return {"framework": "tensorflow", "version": tf.__version__,
                "intra_op_threads": threading.get_intra_op_parallelism_threads(),
                "inter_op_threads": threading.get_inter_op_parallelism_threads()}

    def matmul(self, n: int) -> Callable[[], Any]:
        tf = self.tf
        a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
        return lambda: tf.linalg.matmul(a, b)

    def loss_step(self, case: LossCase, inputs: dict[str, np.ndarray], mode: str) -> Run:
        tf = self.tf
        tensors = {k: tf.constant(v) for k, v in inputs.items()}

        def once(t: dict[str, Any]) -> Any:
            watched = [t[k] for k in case.grads]
            with tf.GradientTape() as tape:
                tape.watch(watched)
                loss = case.call(t)
            return tape.gradient(loss, watched)

        step = once if mode == "eager" else tf.function(
            once, jit_compile=True if mode == "xla" else None, autograph=False
        )

        def run(steps: int) -> None:
            for _ in range(steps):
                step(tensors)

        return run


class JaxDriver:
    """JAX: the loss's value and gradient under `jax.jit`, or op by op (JAX dispatches
    asynchronously, so every timed call waits for its result)."""

    name = "jax"

    def __init__(self, threads: int | None = None) -> None:
        import gancore

        if threads:  # XLA reads its thread count once, before its first computation
            gancore.backend("jax").set_threads(threads)
        import jax

        self.jax = jax
        self.threads = threads

    def describe(self) -> dict[str, Any]:
        # XLA has one CPU pool; None is its default (one thread per core).
        return {"framework": "jax", "version": self.jax.__version__,
                "intra_op_threads": self.threads, "inter_op_threads": self.threads}

    def matmul(self, n: int) -> Callable[[], Any]:
        jax = self.jax
        a, b = (jax.random.normal(k, (n, n)) for k in jax.random.split(jax.random.PRNGKey(0)))
        return lambda: jax.numpy.dot(a, b).block_until_ready()

    def loss_step(self, case: LossCase, inputs: dict[str, np.ndarray], mode: str) -> Run:
        jax = self.jax
        arrays = {k: jax.numpy.asarray(v) for k, v in inputs.items()}

        def loss(watched: dict[str, Any], rest: dict[str, Any]) -> Any:
            return case.call({**rest, **watched})

        grad = jax.grad(loss)
        step = jax.jit(grad) if mode == "jit" else grad
        watched = {k: arrays[k] for k in case.grads}
        rest = {k: v for k, v in arrays.items() if k not in watched}

        def run(steps: int) -> None:
            for _ in range(steps):
                out = step(watched, rest)
            jax.block_until_ready(out)

        return run


DRIVERS: dict[str, type[TorchDriver] | type[TensorFlowDriver] | type[JaxDriver]] = {
    "torch": TorchDriver,
    "tensorflow": TensorFlowDriver,
    "jax": JaxDriver,
}
