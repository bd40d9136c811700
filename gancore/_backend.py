"""Backends: listing them from metadata, loading one, and finding the one an array belongs to.

Listing never imports a framework. Loading a backend class imports only its small gancore
package; the framework is imported when the backend is instantiated. An array is matched
to a backend through `sys.modules`, so dispatch never imports a framework either: if `x` is
a torch tensor, torch is already imported (einops `_backends.py`, array-api-compat).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore import _registry
from gancore._errors import InvalidArgumentError, PluginLoadError
from gancore._numpy_backend import NUMPY_OPS
from gancore._ops import ArrayOps

__all__ = ["BackendInfo", "backend", "backends", "describe_backends", "ops_for", "gpu_visible"]


@attrs.frozen
class BackendInfo:
    """What is known of a backend without importing its framework."""

    name: str
    framework: str
    framework_version: str | None
    distribution: str
    version: str
    devices: tuple[str, ...]


def gpu_visible() -> bool:
    """Whether an NVIDIA GPU is visible to this process (read from /dev and /proc, no import)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in {"", "-1"}:
        return False
    return Path("/proc/driver/nvidia/gpus").is_dir() or Path("/dev/nvidia0").exists()


def framework_version(*distributions: str) -> str | None:
    """The installed version of the first of `distributions` that is installed, or None."""
    import importlib.metadata as md

    for dist in distributions:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return None


def backends() -> list[str]:
    """The names of the installed backends, sorted, without importing any framework."""
    return _registry.plugin_names("backends")


def describe_backends() -> list[BackendInfo]:
    """A `BackendInfo` for each installed backend that loads (broken ones warn and are left out).

    Imports each backend's gancore package, never its framework.
    """
    return [cls.describe() for cls in _registry.try_load_all("backends").values()]


_INSTANCES: dict[str, Any] = {}


def backend(name: str) -> Any:
    """The backend called `name`, loaded (this imports its framework) and cached."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"backend name must be a str; received {name!r}")
    if name not in _INSTANCES:
        cls = _registry.load_plugin("backends", name)
        try:
            _INSTANCES[name] = cls()
        except ImportError as e:
            info = cls.describe()
            raise PluginLoadError(
                f"backend {name!r} needs {info.framework}, which failed to import "
                f"({e}); install it with: pip install gancore[{name}]"
            ) from e
        # The backend's tensor types go straight into the dispatch cache: a loss first
        # called inside a compiled function (torch.compile, tf.function) then finds its
        # backend by a dict lookup the compiler can trace, not by reading the registry.
        ops = _INSTANCES[name].ops
        for kind in getattr(ops, "array_types", ()):
            _TYPE_CACHE.setdefault(kind, ops)
    return _INSTANCES[name]


@functools.cache
def _backend_classes() -> tuple[Any, ...]:
    return tuple(
        cls for name, cls in _registry.try_load_all("backends").items() if name != "numpy"
    )


_TYPE_CACHE: dict[type, ArrayOps] = {}


def _ops_of(x: Any) -> Any:
    """The ops of the backend that owns `x`, or None for numpy arrays and Python scalars."""
    kind = type(x)
    if kind in _TYPE_CACHE:
        return _TYPE_CACHE[kind]
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return None
    root = kind.__module__.partition(".")[0]
    for cls in _backend_classes():
        if root in cls.array_modules and any(m in sys.modules for m in cls.array_modules):
            ops = backend(cls.name).ops
            if ops.is_array(x):
                _TYPE_CACHE[kind] = ops
                return ops
    raise InvalidArgumentError(
        f"arrays must be numpy arrays or tensors of an installed backend "
        f"({', '.join(backends())}); received {kind.__module__}.{kind.__qualname__}"
    )


def ops_for(named: Sequence[tuple[str, Any]]) -> Any:
    """The ops of the one backend that all the named arrays belong to.

    `named` pairs argument names with values; None values are skipped. Python scalars and
    numpy arrays go with any backend. Arrays of two frameworks raise an error naming them.
    """
    found: ArrayOps | None = None
    first = ""
    for arg, value in named:
        if value is None:
            continue
        ops = _ops_of(value)
        if ops is None:
            continue
        if found is None:
            found, first = ops, arg
        elif ops is not found:
            raise InvalidArgumentError(
                f"all arrays must come from one framework; received {first} from "
                f"{found.name} and {arg} from {ops.name}"
            )
    return found if found is not None else NUMPY_OPS
