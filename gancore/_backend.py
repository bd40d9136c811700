"""Backends: listing them from metadata, loading one, and finding the one an array belongs to.

Listing never imports a framework. Loading a backend class imports only its small gancore
package; the framework is imported when the backend is instantiated. An array is matched
to a backend through `sys.modules`, so dispatch never imports a framework either: if `x` is
a torch tensor, torch is already imported (einops `_backends.py`, array-api-compat).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore import _registry
from gancore._errors import InvalidArgumentError, PluginError, PluginLoadError
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
    """A `BackendInfo` for each installed backend that loads and describes itself (a broken
    one warns with a `PluginWarning` naming it, and is left out).

    Imports each backend's gancore package, never its framework.
    """
    infos = []
    for name, cls in _registry.try_load_all("backends").items():
        try:
            info = cls.describe()
        except (Exception, SystemExit, KeyboardInterrupt) as e:
            problem = f"raised {type(e).__name__}: {e}"
        else:
            if isinstance(info, BackendInfo):
                infos.append(info)
                continue
            problem = f"returned {type(info).__name__}, not a gancore.BackendInfo"
        warnings.warn(
            f"backend {name!r} ({_registry.origin('backends', name)}) cannot describe "
            f"itself: describe() {problem}",
            _registry.PluginWarning, stacklevel=2,
        )
    return infos


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
            framework = getattr(cls, "framework", name)
            hint = _registry.install_hint("backends", name)
            how = f"install it with: {hint}" if hint else f"install {framework} for it"
            raise PluginLoadError(
                f"backend {name!r} needs {framework}, which failed to import ({e}); {how}"
            ) from e
        except (Exception, SystemExit) as e:
            raise PluginLoadError(
                f"backend {name!r} ({_registry.origin('backends', name)}) failed to start: "
                f"{type(e).__name__}: {e}"
            ) from e
        # The backend's tensor types go straight into the dispatch cache: a loss first
        # called inside a compiled function (torch.compile, tf.function) then finds its
        # backend by a dict lookup the compiler can trace, not by reading the registry.
        ops = _INSTANCES[name].ops
        for kind in getattr(ops, "array_types", ()):
            _TYPE_CACHE.setdefault(kind, ops)
    return _INSTANCES[name]


_TYPE_CACHE: dict[type, ArrayOps] = {}


def _ops_of(x: Any) -> Any:
    """The ops of the backend that owns `x`, or None for numpy arrays and Python scalars."""
    kind = type(x)
    if kind in _TYPE_CACHE:
        return _TYPE_CACHE[kind]
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return None
    root = kind.__module__.partition(".")[0]
    broken: list[str] = []
    for ops in _candidate_ops(root, broken):
        if ops.is_array(x):
            _TYPE_CACHE[kind] = ops
            return ops
    why = f"; {'; '.join(broken)}" if broken else ""
    raise InvalidArgumentError(
        f"arrays must be numpy arrays or tensors of an installed backend "
        f"({', '.join(backends())}); received {kind.__module__}.{kind.__qualname__}{why}"
    )


def _candidate_ops(root: str, broken: list[str]) -> Iterator[Any]:
    """The ops of the backends that may own an array of module `root`, the cheapest first:
    backends already started (no import), then the installed backend named `root`, then
    the others. A backend is loaded only when no earlier one claimed the array, so training
    on one backend never imports another's plugin; those that fail to load are noted in
    `broken` (for the error, should no backend claim the array)."""
    for instance in list(_INSTANCES.values()):
        if root in getattr(type(instance), "array_modules", ()):
            yield instance.ops
    names = sorted((n for n in backends() if n != "numpy" and n not in _INSTANCES),
                   key=lambda n: n != root)
    for name in names:
        try:
            cls = _registry.load_plugin("backends", name)
            modules = tuple(getattr(cls, "array_modules", ()))
            if root in modules and any(m in sys.modules for m in modules):
                yield backend(name).ops
        except PluginError as e:
            broken.append(str(e))


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
