"""Drawing samples from a generator on any backend, numpy included.

The noise is drawn in numpy from the seed, so the same checkpoint and seed give the same
samples on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.nn import NetworkSpec, forward_numpy

__all__ = ["generate", "make_noise", "make_labels", "translate", "NumpyNetwork"]

_CHUNK = 256


class NumpyNetwork:
    """A spec and its state evaluated by the numpy reference (inference only)."""

    def __init__(self, spec: NetworkSpec, state: Mapping[str, np.ndarray]) -> None:
        self.spec = spec
        self.state = dict(state)

    def __call__(self, *inputs: np.ndarray, training: bool = False) -> np.ndarray:
        return forward_numpy(self.spec, self.state, *inputs, training=training).astype(np.float32)

    def get_state(self) -> dict[str, np.ndarray]:
        return dict(self.state)


def make_noise(n: int, latent_dim: int, seed: int | None) -> np.ndarray:
    """Standard normal noise ``(n, latent_dim)`` float32 from `seed`."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def make_labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    """``n`` class ids: one int repeated, a sequence of ``n`` ints, or None (cycling)."""
    if labels is None:
        return np.arange(n, dtype=np.int64) % num_classes
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = np.full(n, int(arr))
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgumentError(
            f"labels must be an int or {n} ints; received {arr.dtype} array of shape {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= num_classes:
        raise InvalidArgumentError(
            f"labels must be in [0, {num_classes}); received values from {arr.min()} to "
            f"{arr.max()}"
        )
    return arr.astype(np.int64)


def _run(backend: Any, net: Any, inputs: list[np.ndarray], device: str) -> np.ndarray:
    if isinstance(net, NumpyNetwork):
        return net(*inputs)
    with backend.no_grad():
        out = net(*[backend.to_native(x, device) for x in inputs], training=False)
    return np.asarray(backend.to_numpy(out), dtype=np.float32)


def generate(backend: Any, net: Any, architecture: Any, n: int, *, labels: Any = None,
             seed: int | None = None, noise: np.ndarray | None = None,
             device: str = "auto") -> np.ndarray:
    """`n` samples of a generator network in inference mode, as numpy."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidArgumentError(f"n must be an int >= 1; received {n!r}")
    latent_dim = int(architecture.latent_dim)
    if noise is None:
        noise = make_noise(n, latent_dim, seed)
    noise = np.asarray(noise, dtype=np.float32)
    if noise.shape != (n, latent_dim):
        raise InvalidArgumentError(
            f"noise must have shape ({n}, {latent_dim}); received {noise.shape}"
        )
    conditional = architecture.kind == "conditional"
    if labels is not None and not conditional:
        raise InvalidArgumentError(
            "labels can only be given to a conditional model; this one is "
            f"{architecture.kind!r}"
        )
    ids = make_labels(labels, n, architecture.num_classes) if conditional else None
    out = []
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        inputs = [noise[start:stop]] + ([ids[start:stop]] if ids is not None else [])
        out.append(_run(backend, net, inputs, device))
    return np.concatenate(out)


def translate(backend: Any, net: Any, images: np.ndarray, *, batch_size: int = 64,
              device: str = "auto") -> np.ndarray:
    """An image-to-image generator applied to NHWC images in inference mode."""
    images = np.asarray(images, dtype=np.float32)
    expected = tuple(net.spec.inputs[0].shape) if hasattr(net, "spec") else images.shape[1:]
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(expected):
        raise InvalidArgumentError(
            f"images must have shape (n, {', '.join(map(str, expected))}); received "
            f"{images.shape}"
        )
    return np.concatenate([
        _run(backend, net, [images[i:i + batch_size]], device)
        for i in range(0, len(images), batch_size)
    ])
