"""`TorchBackend`: what gancore needs from PyTorch."""

from __future__ import annotations

import importlib.metadata as md
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
