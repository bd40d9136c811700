"""Device selection for the JAX backend."""

from __future__ import annotations

from typing import Any

import jax

from gancore import InvalidArgumentError


def _devices(platform: str) -> list[Any]:
    try:
        return list(jax.devices(platform))
    except RuntimeError:  # no such platform in this JAX installation
        return []


def resolve_device(device: str = "auto") -> Any:
    """A `jax.Device`: `auto` is JAX's default device (a GPU when JAX sees one), `cpu`, or
    `gpu[:N]` / `cuda[:N]`."""
    if not isinstance(device, str):
        raise InvalidArgumentError(
            f"device must be 'auto', 'cpu', 'gpu[:N]' or 'cuda[:N]'; received {device!r}")
    if device == "auto":
        return jax.devices()[0]
    if device == "cpu":
        return _devices("cpu")[0]
    if device.startswith(("cuda", "gpu")):
        gpus = _devices("gpu")
        index = device.partition(":")[2] or "0"
        if not index.isdigit() or int(index) >= len(gpus):
            raise InvalidArgumentError(
                f"device must name one of JAX's {len(gpus)} GPUs, 'cpu' or 'auto'; received "
                f"{device!r}"
            )
        return gpus[int(index)]
    raise InvalidArgumentError(
        f"device must be 'auto', 'cpu', 'gpu[:N]' or 'cuda[:N]'; received {device!r}"
    )
