"""Drawing samples from a generator on any backend, numpy included.

The noise is drawn in numpy from the seed, so the same checkpoint and seed give the same
samples on every backend.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.nn import BatchNorm, NetworkSpec, forward_numpy, forward_numpy_training

__all__ = [
    "generate",
    "make_noise",
    "make_labels",
    "standing_statistics",
    "translate",
    "NumpyNetwork",
]

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

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.state = dict(state)


def make_noise(n: int, latent_dim: int, seed: Any, kind: str = "normal") -> np.ndarray:
    """Noise ``(n, latent_dim)`` float32 from `seed` (an int, None or a numpy Generator):
    standard normal, or with `kind` ``"uniform"`` uniform in [-1, 1]."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, (n, latent_dim)).astype(np.float32)
    if kind != "normal":
        raise InvalidArgumentError(f"noise must be 'normal' or 'uniform'; received {kind!r}")
    return rng.standard_normal((n, latent_dim)).astype(np.float32)


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
             device: str = "auto", noise_kind: str = "normal") -> np.ndarray:
    """`n` samples of a generator network in inference mode, as numpy (noise from `seed`,
    of the `noise_kind` it was trained on, unless `noise` is given)."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidArgumentError(f"n must be an int >= 1; received {n!r}")
    latent_dim = int(architecture.latent_dim)
    if noise is None:
        noise = make_noise(n, latent_dim, seed, noise_kind)
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


def standing_statistics(backend: Any, net: Any, architecture: Any, *, n: int = 4096,
                        batch_size: int = 512, seed: int = 0, device: str = "auto",
                        noise_kind: str = "normal") -> dict[str, np.ndarray]:
    """Recompute a generator's BatchNorm running statistics for its current weights, in place
    ("standing statistics", Brock et al. 2019; PyTorch's ``swa_utils.update_bn``).

    The generator runs in training mode on `n` samples of noise from `seed` (and cycling
    labels for a conditional one), `batch_size` at a time; every BatchNorm layer's
    ``running_mean`` and ``running_var`` become the mean and unbiased variance of its input
    pooled over all the batches, in place of the momentum average of training's batches.
    A generator whose weights are an average (an EMA copy) needs this: no batch ever went
    through those weights. Layers with momentum 0 (frozen statistics) are left as they are.
    Returns the new buffers by name.
    """
    for name, value, low in (("n", n, 2), ("batch_size", batch_size, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise InvalidArgumentError(f"{name} must be an int >= {low}; received {value!r}")
    spec: NetworkSpec = architecture.generator
    shapes = spec.shapes()
    layers = {node.name: node.layer.momentum for node in spec.nodes
              if isinstance(node.layer, BatchNorm) and node.layer.momentum > 0}
    if not layers:
        return {}
    state = net.get_state()
    zeroed = dict(state)
    for name in layers:
        for buffer in ("running_mean", "running_var"):
            zeroed[f"{name}.{buffer}"] = np.zeros_like(state[f"{name}.{buffer}"])
    noise = make_noise(n, int(architecture.latent_dim), seed, noise_kind)
    conditional = architecture.kind == "conditional"
    ids = make_labels(None, n, architecture.num_classes) if conditional else None
    # Batches of equal size but the last, which joins the one before if it would be tiny.
    bounds = [*range(0, n, batch_size), n]
    if len(bounds) > 2 and n - bounds[-2] < 2:
        del bounds[-2]
    moments: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {k: [] for k in layers}
    # Training-mode passes draw dropout masks from the framework's stream: put it back after,
    # so that when statistics are computed (a checkpoint, a sample) never changes training.
    saved_random = backend.random_state() if hasattr(backend, "random_state") else None
    for start, stop in itertools.pairwise(bounds):
        inputs = [noise[start:stop]] + ([ids[start:stop]] if ids is not None else [])
        if isinstance(net, NumpyNetwork):
            after = forward_numpy_training(spec, zeroed, *inputs)[1]
        else:
            net.set_state(zeroed)
            with backend.no_grad():
                net(*[backend.to_native(x, device) for x in inputs], training=True)
            after = net.get_state()
        # From zeroed buffers, one update leaves momentum * the batch's statistic.
        for name, m in layers.items():
            count = (stop - start) * int(np.prod(shapes[name][:-1]))
            moments[name].append((count,
                                  after[f"{name}.running_mean"].astype(np.float64) / m,
                                  after[f"{name}.running_var"].astype(np.float64) / m))
    if saved_random is not None:
        backend.set_random_state(saved_random)
    new: dict[str, np.ndarray] = {}
    for name, parts in moments.items():
        counts = np.array([c for c, _, _ in parts], dtype=np.float64)
        means = np.stack([mu for _, mu, _ in parts])
        variances = np.stack([v for _, _, v in parts])
        total = counts.sum()
        mean = (counts[:, None] * means).sum(0) / total
        squares = ((counts[:, None] - 1) * variances
                   + counts[:, None] * (means - mean) ** 2).sum(0)
        new[f"{name}.running_mean"] = mean.astype(np.float32)
        new[f"{name}.running_var"] = (squares / (total - 1)).astype(np.float32)
    state.update(new)
    net.set_state(state)
    return new


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
