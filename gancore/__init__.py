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
    CheckpointError,
    GancoreError,
    InvalidArgumentError,
    NonFiniteError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
    RunFolderError,
    TrainingStopped,
)
from gancore._numpy_backend import NumpyBackend
from gancore._ops import ArrayOps
from gancore._protocols import Backend, Critic, DistributedBackend, Generator, Loss, Trainer
from gancore._registry import PluginInfo, PluginWarning, list_plugins, refresh


def __getattr__(name: str) -> str:
    # The version is read from the installed metadata on first use: importing
    # importlib.metadata would cost `import gancore` a third of its time.
    if name == "__version__":
        version = _registry._own_version()
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module 'gancore' has no attribute {name!r}")

_registry.register_builtin("backends", "numpy", NumpyBackend)


def _builtin(module: str, table: str, name: str) -> object:
    import importlib

    return getattr(importlib.import_module(module), table)[name]


# Built-in architectures, losses and datasets are listed like plugins but imported only
# when used.
for _group, _module, _table, _names in (
    ("architectures", "gancore.architectures", "BUILTIN_ARCHITECTURES",
     ("cyclegan", "dcgan", "fc_bn", "mlp", "pacgan_mlp", "sngan", "vanilla")),
    ("losses", "gancore.losses", "LOSS_FAMILIES",
     ("hinge", "least_squares", "minimax", "nonsaturating", "wasserstein")),
    ("datasets", "gancore.data", "BUILTIN_DATASETS",
     ("cifar10", "digits", "fashion_mnist", "grid", "image_folder", "mnist", "ring")),
):
    for _name in _names:
        _registry.register_builtin(
            _group, _name,
            lambda m=_module, t=_table, n=_name: _builtin(m, t, n), lazy=True,
        )
_registry.set_validator(
    "backends",
    lambda obj: isinstance(obj, type)
    and all(hasattr(obj, attr) for attr in ("name", "array_modules", "describe")),
    "backend class (with name, array_modules and describe)",
)
_registry.set_validator("architectures", callable, "architecture builder (a callable)")
_registry.set_validator(
    "losses",
    lambda obj: callable(getattr(obj, "critic_loss", None))
    and callable(getattr(obj, "generator_loss", None)),
    "loss (an object with critic_loss(real, fake) and generator_loss(fake))",
)
_registry.set_validator("datasets", callable, "dataset loader (a callable returning a Dataset)")

__all__ = [
    "ArrayOps",
    "Backend",
    "DistributedBackend",
    "BackendInfo",
    "BackendUnsupportedError",
    "CheckpointError",
    "Critic",
    "GancoreError",
    "Generator",
    "InvalidArgumentError",
    "Loss",
    "NonFiniteError",
    "PluginError",
    "PluginInfo",
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginWarning",
    "RunFolderError",
    "Trainer",
    "TrainingStopped",
    "backend",
    "backends",
    "describe_backends",
    "framework_version",
    "gpu_visible",
    "list_plugins",
    "ops_for",
    "refresh",
]
