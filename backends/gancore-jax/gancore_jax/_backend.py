"""`JaxBackend`: what gancore needs from JAX (the `gancore.Backend` contract)."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os
import re
from typing import Any, ClassVar

from gancore import BackendInfo, GancoreError, framework_version, gpu_visible

_CUDA_PLUGINS = ("jax-cuda13-plugin", "jax-cuda12-plugin")


def _version() -> str:
    try:
        return md.version("gancore-jax")
    except md.PackageNotFoundError:
        return "0+unknown"


def _backends_started() -> bool:
    """Whether XLA's clients exist already (then its thread pools are fixed)."""
    from jax._src import xla_bridge

    return bool(getattr(xla_bridge, "_backends", None))


def _start_on_cores(threads: int) -> None:
    """Start XLA's clients while this thread may run on `threads` of its cores (they size
    their thread pools by that), then let it, and the threads they started, run on all of
    them again."""
    import jax

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    if not 0 < threads < len(cores):
        jax.devices()
        return
    tasks = "/proc/self/task"  # Linux: the process's threads, by id
    before = set(os.listdir(tasks))
    os.sched_setaffinity(0, cores[:threads])
    try:
        jax.devices()
    finally:
        os.sched_setaffinity(0, cores)
        for task in set(os.listdir(tasks)) - before:  # the threads XLA started
            with contextlib.suppress(OSError):  # one that has ended since
                os.sched_setaffinity(int(task), cores)


class JaxBackend:
    """gancore on JAX: ops for the losses, networks as pure functions of their arrays,
    `jax.jit`-compiled updates with PyTorch's optimizer arithmetic."""

    name: ClassVar[str] = "jax"
    framework: ClassVar[str] = "jax"
    array_modules: ClassVar[tuple[str, ...]] = ("jax", "jaxlib")
    #: A step's last critic update and its generator update run as one `jax.jit` program
    #: (`make_joint_update` with nothing carried): two programs cost the PacGAN mixture's
    #: 15 ms step about 2 ms more, in dispatch and in what XLA cannot share between them.
    fuses_steps: ClassVar[bool] = True

    @classmethod
    def describe(cls) -> BackendInfo:
        """Version and devices from package metadata, without importing JAX: a GPU where a
        CUDA plugin of jaxlib is installed and the machine shows an NVIDIA GPU."""
        cuda = any(framework_version(d) for d in _CUDA_PLUGINS) and gpu_visible()
        devices = ("cpu", "gpu") if cuda else ("cpu",)
        return BackendInfo(cls.name, cls.framework, framework_version("jax"), "gancore-jax",
                           _version(), devices)

    def __init__(self) -> None:
        import jax

        from gancore_jax._ops import JaxOps

        self.jax = jax
        self.ops = JaxOps()
        self._threads: int | None = None

    def __repr__(self) -> str:
        return f"JaxBackend(jax {self.jax.__version__})"

    def resolve_device(self, device: str = "auto") -> Any:
        """`auto` is JAX's default device (a GPU when JAX sees one); `cpu`, `gpu[:N]`,
        `cuda[:N]`."""
        from gancore_jax._device import resolve_device

        return resolve_device(device)

    # --- networks -----------------------------------------------------------------------

    def build_network(self, spec: Any, state: Any, device: str = "auto") -> Any:
        """A `JaxNetwork` for a portable spec, its arrays `state` on `device`."""
        from gancore_jax._nn import build_network

        return build_network(spec, state, self.resolve_device(device))

    def to_native(self, x: Any, device: str = "auto") -> Any:
        """A numpy array as a JAX array on `device` (NHWC stays NHWC; integers int32)."""
        from gancore_jax._nn import to_native

        return to_native(x, self.resolve_device(device))

    def to_numpy(self, x: Any) -> Any:
        from gancore_jax._nn import to_numpy

        return to_numpy(x)

    def wrap_native(self, module: Any) -> Any:
        """A user's ``(apply, params)`` pair (``apply(params, *inputs, training=bool)``
        pure, ``params`` a pytree of arrays) with the interface of gancore's networks."""
        from gancore_jax._native import wrap

        return wrap(module)

    def seed(self, seed: int) -> None:
        """Seed the backend's key (dropout masks)."""
        from gancore_jax import _random

        _random.seed(seed)

    def set_threads(self, threads: int) -> None:
        """Run XLA's CPU ops on `threads` threads, from here on: XLA's CPU client starts
        now, and later the same count passes and another raises.

        XLA sizes its CPU thread pool by the cores the process may run on, not by its
        flags (jax 0.10: a matrix product under ``intra_op_parallelism_threads=1`` keeps
        two cores busy). Where the OS lets a process choose its cores (Linux), the
        client starts while this thread may run on `threads` of them only, and then every
        thread of the process runs on all of them again: the pool has `threads` threads,
        none of them tied to a core."""
        threads = int(threads)
        if _backends_started():
            if self._threads not in (None, threads):
                raise GancoreError(
                    f"threads can be set only before JAX runs its first computation; this "
                    f"process already runs it on {self._threads} threads"
                )
            if self._threads is None:
                raise GancoreError(
                    "threads can be set only before JAX runs its first computation; this "
                    "process already runs it on XLA's default threads"
                )
            return
        flags = re.sub(r"--xla_cpu_multi_thread_eigen=\S+|intra_op_parallelism_threads=\S+",
                       "", os.environ.get("XLA_FLAGS", "")).split()
        flags += [f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'}",
                  f"intra_op_parallelism_threads={threads}"]
        os.environ["XLA_FLAGS"] = " ".join(flags)
        _start_on_cores(threads)
        self._threads = threads

    def random_state(self) -> dict[str, Any]:
        """The backend's key (dropout masks) as a uint32 array."""
        from gancore_jax import _random

        return {"key": _random.get_state()}

    def set_random_state(self, state: Any) -> None:
        from gancore_jax import _random

        _random.set_state(state["key"])

    # --- training -----------------------------------------------------------------------

    def make_optimizer(self, config: Any, params: Any) -> Any:
        from gancore_jax._train import make_optimizer

        return make_optimizer(config, params)

    def set_learning_rate(self, optimizer: Any, lr: float) -> None:
        from gancore_jax._train import set_learning_rate

        set_learning_rate(optimizer, lr)

    def optimizer_state(self, optimizer: Any) -> Any:
        """The optimizer's state in gancore's neutral layout (see `gancore.Backend`)."""
        from gancore_jax._train import optimizer_state

        return optimizer_state(optimizer)

    def set_optimizer_state(self, optimizer: Any, state: Any) -> None:
        from gancore_jax._train import set_optimizer_state

        set_optimizer_state(optimizer, state)

    def make_update(self, objective: Any, optimizer: Any, *, post: Any = None,
                    compile: bool = False) -> Any:
        """One `jax.jit`-compiled optimizer step on `objective(inputs) -> (loss, metrics)`."""
        from gancore_jax._train import Update

        return Update(objective, optimizer, post=post, compile=compile)

    def make_joint_update(self, first: Any, first_optimizer: Any, second: Any,
                          second_optimizer: Any, *, post: Any = None,
                          compile: bool = False) -> Any:
        """A critic update then a generator update on the fakes the first carried over, in
        one compiled function."""
        from gancore_jax._train import JointUpdate

        return JointUpdate(first, first_optimizer, second, second_optimizer, post=post,
                           compile=compile)

    def no_grad(self) -> Any:
        from gancore_jax._train import no_grad

        return no_grad()

    def ema_update(self, target: Any, source: Any, decay: float) -> None:
        from gancore_jax._train import ema_update

        ema_update(target, source, decay)

    def copy_values(self, target: Any, source: Any) -> None:
        from gancore_jax._train import copy_values

        copy_values(target, source)

    def unsupported_layers(self) -> frozenset[str]:
        """The `gancore.nn` layer kinds this backend cannot build yet."""
        from gancore_jax._nn import unsupported_layers

        return unsupported_layers()
