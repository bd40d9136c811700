"""gancore: GAN algorithms written once, run and proven equal on every framework.

`import gancore` imports numpy and attrs, never a deep-learning framework.
"""

from __future__ import annotations

from gancore import _registry
from gancore._backend import (
    BackendInfo,
    backend,
    backends,
    describe_backends,
    framework_version,
    gpu_visible,
    ops_for,
)
from gancore._errors import (
    BackendUnsupportedError,
    GancoreError,
    InvalidArgumentError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
)
from gancore._numpy_backend import NumpyBackend
from gancore._ops import ArrayOps
from gancore._protocols import Backend, Critic, Generator, Loss, Trainer
from gancore._registry import PluginInfo, PluginWarning, list_plugins, refresh

__version__ = _registry._own_version()

_registry.register_builtin("backends", "numpy", NumpyBackend)
_registry.set_validator(
    "backends",
    lambda obj: isinstance(obj, type)
    and all(hasattr(obj, attr) for attr in ("name", "array_modules", "describe")),
    "backend class (with name, array_modules and describe)",
)

__all__ = [
    "ArrayOps",
    "Backend",
    "BackendInfo",
    "BackendUnsupportedError",
    "Critic",
    "GancoreError",
    "Generator",
    "InvalidArgumentError",
    "Loss",
    "PluginError",
    "PluginInfo",
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginWarning",
    "Trainer",
    "backend",
    "backends",
    "describe_backends",
    "framework_version",
    "gpu_visible",
    "list_plugins",
    "ops_for",
    "refresh",
]
