"""`TensorFlowBackend`: what gancore needs from TensorFlow."""

from __future__ import annotations

import importlib.metadata as md
import os
from typing import Any, ClassVar

from gancore import BackendInfo, framework_version, gpu_visible


def _version() -> str:
    try:
        return md.version("gancore-tensorflow")
    except md.PackageNotFoundError:
        return "0+unknown"


class TensorFlowBackend:
    """gancore on TensorFlow: ops for the losses, native networks, compiled training steps."""

    name: ClassVar[str] = "tensorflow"
    framework: ClassVar[str] = "tensorflow"
    array_modules: ClassVar[tuple[str, ...]] = ("tensorflow", "keras")

    @classmethod
    def describe(cls) -> BackendInfo:
        """Version and devices from package metadata, without importing TensorFlow."""
        cpu_only = framework_version("tensorflow-cpu", "tensorflow-intel")
        version = cpu_only or framework_version("tensorflow", "tf-nightly")
        gpu = cpu_only is None and version is not None and gpu_visible()
        devices = ("cpu", "gpu") if gpu else ("cpu",)
        return BackendInfo(
            cls.name, cls.framework, version, "gancore-tensorflow", _version(), devices
        )

    def __init__(self) -> None:
        # TensorFlow's C++ start-up chatter is noise to a gancore user.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        from gancore_tensorflow._ops import TensorFlowOps

        self.tf = tf
        self.ops = TensorFlowOps()

    def __repr__(self) -> str:
        return f"TensorFlowBackend(tensorflow {self.tf.__version__})"

    def resolve_device(self, device: str = "auto") -> Any:
        """`auto` picks the first GPU when TensorFlow sees one; `cpu`, `gpu[:N]`, `cuda[:N]`."""
        from gancore_tensorflow._device import resolve_device

        return resolve_device(device)
