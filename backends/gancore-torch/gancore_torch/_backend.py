"""`TorchBackend`: what gancore needs from PyTorch."""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
from typing import Any, ClassVar

from gancore import BackendInfo, framework_version, gpu_visible


def _version() -> str:
    try:
        return md.version("gancore-torch")
    except md.PackageNotFoundError:
        return "0+unknown"


class TorchBackend:
    """gancore on PyTorch: ops for the losses, native networks, compiled training steps."""

    name: ClassVar[str] = "torch"
    framework: ClassVar[str] = "torch"
    array_modules: ClassVar[tuple[str, ...]] = ("torch",)

    @classmethod
    def describe(cls) -> BackendInfo:
        """Version and devices from package metadata, without importing torch."""
        version = framework_version("torch")
        # A CPU build says so in its local version label ("2.13.0+cpu").
        cuda_build = version is not None and "+cpu" not in version
        devices = ("cpu", "cuda") if cuda_build and gpu_visible() else ("cpu",)
        return BackendInfo(cls.name, cls.framework, version, "gancore-torch", _version(), devices)

    def __init__(self) -> None:
        if "torch" not in sys.modules:
            # OpenMP threads spin for a long while when they wait: on a machine where another
            # process keeps a core busy, a small network's step then took 10-30x longer
            # (1,900 ms against 54 idle); a short spin keeps the idle speed (56 ms) and
            # bounds the shared case (185 ms). Only before torch loads its OpenMP runtime.
            os.environ.setdefault("GOMP_SPINCOUNT", "10000")
        import torch

        from gancore_torch._ops import TorchOps

        self.torch = torch
        self.ops = TorchOps()

    def __repr__(self) -> str:
        return f"TorchBackend(torch {self.torch.__version__})"

    def resolve_device(self, device: str = "auto") -> Any:
        """`auto` picks CUDA when available; `cpu` and `cuda[:N]` are taken as given."""
        from gancore_torch._device import resolve_device

        return resolve_device(device)

    # --- networks -----------------------------------------------------------------------

    def build_network(self, spec: Any, state: Any, device: str = "auto") -> Any:
        """The native `torch.nn.Module` for a portable spec, loaded with `state`."""
        from gancore_torch._nn import build_network

        return build_network(spec, state, self.resolve_device(device))

    def to_native(self, x: Any, device: str = "auto") -> Any:
        """A numpy array as a tensor on `device`; NHWC images become NCHW."""
        from gancore_torch._nn import to_native

        return to_native(x, self.resolve_device(device))

    def to_numpy(self, x: Any) -> Any:
        """A tensor as numpy; NCHW images become NHWC."""
        from gancore_torch._nn import to_numpy

        return to_numpy(x)

    def wrap_native(self, module: Any) -> Any:
        """A plugin's own `torch.nn.Module` with the interface of gancore's networks."""
        from gancore_torch._native import NativeNetwork

        return NativeNetwork(module)

    def seed(self, seed: int) -> None:
        """Seed torch's own generators (dropout masks, natively drawn noise)."""
        self.torch.manual_seed(seed)

    def set_threads(self, threads: int) -> None:
        """Run ops on `threads` threads (torch's intra-op parallelism)."""
        self.torch.set_num_threads(int(threads))

    def random_state(self) -> dict[str, Any]:
        """torch's generators (dropout masks) as arrays: the CPU's, and each CUDA device's
        once CUDA is in use."""
        from gancore_torch._train import random_state

        return random_state()

    def set_random_state(self, state: Any) -> None:
        """Restore a `random_state()`."""
        from gancore_torch._train import set_random_state

        set_random_state(state)

    # --- training -----------------------------------------------------------------------

    def make_optimizer(self, config: Any, params: Any) -> Any:
        from gancore_torch._train import make_optimizer

        return make_optimizer(config, params)

    def set_learning_rate(self, optimizer: Any, lr: float) -> None:
        from gancore_torch._train import set_learning_rate

        set_learning_rate(optimizer, lr)

    def optimizer_state(self, optimizer: Any) -> Any:
        """The optimizer's state in gancore's neutral layout (see `gancore.Backend`)."""
        from gancore_torch._train import optimizer_state

        return optimizer_state(optimizer)

    def set_optimizer_state(self, optimizer: Any, state: Any) -> None:
        from gancore_torch._train import set_optimizer_state

        set_optimizer_state(optimizer, state)

    def make_update(self, objective: Any, optimizer: Any, *, post: Any = None,
                    compile: bool = False, workers: Any = None) -> Any:
        """One compiled optimizer step on `objective(inputs) -> (loss, metrics)`; with
        `workers` (a data-parallel job) its gradients and metrics averaged over them."""
        from gancore_torch._train import Update

        return Update(objective, optimizer, post=post, compile=compile, workers=workers)

    def make_joint_update(self, first: Any, first_optimizer: Any, second: Any,
                          second_optimizer: Any, *, post: Any = None,
                          compile: bool = False, workers: Any = None) -> Any:
        """A critic update then a generator update on the fakes the first carried over."""
        from gancore_torch._train import JointUpdate

        return JointUpdate(first, first_optimizer, second, second_optimizer, post=post,
                           compile=compile, workers=workers)

    # --- data-parallel jobs (torch.distributed) -------------------------------------------

    def init_workers(self, workers: Any, device: str = "auto") -> str:
        """Join the job's process group (gloo on the CPU, NCCL on CUDA); returns the device
        this worker trains on (``cuda:<local_rank>`` on a GPU host)."""
        from gancore_torch._distributed import init_workers

        return init_workers(workers, device)

    def broadcast(self, network: Any, workers: Any) -> None:
        """Rank 0's parameters and buffers into every worker's copy of `network`."""
        from gancore_torch._distributed import broadcast

        broadcast([*network.parameters(), *network.buffers()])

    def any_worker(self, flag: bool, workers: Any) -> bool:
        """Whether `flag` holds on any worker; every worker calls it at the same point."""
        from gancore_torch._distributed import any_worker

        return any_worker(flag)

    def all_gather(self, x: Any, workers: Any) -> Any:
        """Every worker's rows of `x` (same shape on each), concatenated in rank order."""
        from gancore_torch._distributed import all_gather_rows

        return all_gather_rows(x)

    def global_mean(self, x: Any, workers: Any) -> Any:
        """The mean over the rows of every worker's `x`, differentiable (inside an update)."""
        from gancore_torch._distributed import global_row_mean

        return global_row_mean(x)

    def leave_workers(self) -> None:
        """Leave the process group."""
        from gancore_torch._distributed import leave

        leave()

    def no_grad(self) -> Any:
        from gancore_torch._train import no_grad

        return no_grad()

    def ema_update(self, target: Any, source: Any, decay: float) -> None:
        from gancore_torch._train import ema_update

        ema_update(target, source, decay)

    def copy_values(self, target: Any, source: Any) -> None:
        from gancore_torch._train import copy_values

        copy_values(target, source)
