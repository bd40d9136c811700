"""The numpy reference forward pass: the specification every backend is tested against.

Computed in float64 on NHWC arrays, written for clarity, not speed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gancore._errors import BackendUnsupportedError, InvalidArgumentError
from gancore.nn import _layers as L
from gancore.nn._init import check_state
from gancore.nn._spec import NetworkSpec

__all__ = ["forward_numpy", "forward_numpy_training"]

Params = dict[str, np.ndarray]


def forward_numpy(
    spec: NetworkSpec, state: Mapping[str, Any], *inputs: Any, training: bool = False
) -> np.ndarray:
    """The network's output (float64) for a batch of inputs given in `spec.inputs` order.

    Images are NHWC; labels are integer arrays. `training=True` normalises BatchNorm with
    batch statistics but leaves `state` alone (see `forward_numpy_training` for the buffer
    update). Dropout is the identity in inference; in training with rate > 0 it raises
    `BackendUnsupportedError`, since random masks cannot match across frameworks.
    """
    return _run(spec, state, inputs, training, None)


def forward_numpy_training(
    spec: NetworkSpec, state: Mapping[str, Any], *inputs: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A training-mode forward pass and the state after it: BatchNorm running statistics
    updated as every backend updates them in training mode (PyTorch's momentum, unbiased
    running variance). Returns (output float64, new state float32)."""
    updates: dict[str, np.ndarray] = {}
    out = _run(spec, state, inputs, True, updates)
    new_state = {k: v.copy() for k, v in check_state(spec, state).items()}
    for name, value in updates.items():
        new_state[name] = value.astype(np.float32)
    return out, new_state


def _run(
    spec: NetworkSpec,
    state: Mapping[str, Any],
    inputs: tuple[Any, ...],
    training: bool,
    updates: dict[str, np.ndarray] | None,
) -> np.ndarray:
    params = check_state(spec, state, np.float64)
    values = _check_inputs(spec, inputs)
    for node in spec.nodes:
        prefix = node.name + "."
        own = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
        xs = [values[s] for s in node.inputs]
        fn = _FORWARD[type(node.layer)]
        try:
            out, new_buffers = fn(node.layer, own, xs, training)
        except (InvalidArgumentError, BackendUnsupportedError) as e:
            raise type(e)(f"node {node.name!r}: {e}") from None
        if updates is not None:
            updates.update({prefix + k: v for k, v in new_buffers.items()})
        values[node.name] = out
    return values[spec.output]


def _check_inputs(spec: NetworkSpec, inputs: tuple[Any, ...]) -> dict[str, np.ndarray]:
    if len(inputs) != len(spec.inputs):
        names = [i.name for i in spec.inputs]
        raise InvalidArgumentError(
            f"inputs must be {len(names)} arrays ({', '.join(names)}); received {len(inputs)}"
        )
    values: dict[str, np.ndarray] = {}
    batch = None
    for inp, x in zip(spec.inputs, inputs, strict=True):
        x = np.asarray(x)
        if x.shape[1:] != inp.shape or x.ndim != len(inp.shape) + 1:
            raise InvalidArgumentError(
                f"input {inp.name!r} must have shape (batch, {', '.join(map(str, inp.shape))}"
                f"{',' if len(inp.shape) == 0 else ''}); received {x.shape}"
            )
        if batch is not None and x.shape[0] != batch:
            raise InvalidArgumentError(
                f"inputs must share one batch size; received {batch} and {x.shape[0]} "
                f"for {inp.name!r}"
            )
        batch = x.shape[0]
        if inp.dtype == "int64":
            if not np.issubdtype(x.dtype, np.integer):
                raise InvalidArgumentError(
                    f"input {inp.name!r} must be an integer array; received {x.dtype}"
                )
            values[inp.name] = x.astype(np.int64)
        else:
            values[inp.name] = x.astype(np.float64)
    return values


# -- one function per layer: (layer, params, inputs, training) -> (output, new buffers) -----

Result = tuple[np.ndarray, Params]


def _dense(layer: L.Dense, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    y = xs[0] @ p["kernel"]
    return (y + p["bias"] if layer.use_bias else y), {}


def _conv2d(layer: L.Conv2D, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    top, bottom, left, right = layer.pads
    x = np.pad(xs[0], ((0, 0), (top, bottom), (left, right), (0, 0)))
    k, s = layer.kernel_size, layer.stride
    # windows: (n, out_h, out_w, c, kh, kw) after striding
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
    y = np.einsum("nhwcij,ijco->nhwo", win, p["kernel"])
    return (y + p["bias"] if layer.use_bias else y), {}


def _conv_transpose2d(
    layer: L.ConvTranspose2D, p: Params, xs: list[np.ndarray], training: bool
) -> Result:
    x = xs[0]
    n, h, w, _ = x.shape
    k, s, pad, extra = layer.kernel_size, layer.stride, layer.padding, layer.output_padding
    kernel = p["kernel"]
    # Scatter into the uncropped output, where in[iy] lands on rows iy * s + ky.
    full = np.zeros((n, (h - 1) * s + k, (w - 1) * s + k, kernel.shape[3]))
    for ky in range(k):
        for kx in range(k):
            full[:, ky : ky + (h - 1) * s + 1 : s, kx : kx + (w - 1) * s + 1 : s] += (
                x @ kernel[ky, kx]
            )
    # output_padding rows beyond the uncropped size get nothing but the bias.
    more = max(0, extra - pad)
    full = np.pad(full, ((0, 0), (0, more), (0, more), (0, 0)))
    out_h = (h - 1) * s - 2 * pad + k + extra
    out_w = (w - 1) * s - 2 * pad + k + extra
    y = full[:, pad : pad + out_h, pad : pad + out_w]
    return (y + p["bias"] if layer.use_bias else y), {}


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased, as every framework normalises
    return (x - mean) / np.sqrt(var + eps)


def _batch_norm(layer: L.BatchNorm, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    x = xs[0]
    axes = tuple(range(x.ndim - 1))
    if not training:
        y = (x - p["running_mean"]) / np.sqrt(p["running_var"] + layer.eps)
        return y * p["gamma"] + p["beta"], {}
    count = x.size // x.shape[-1]
    if count < 2:
        raise InvalidArgumentError(
            f"BatchNorm in training needs more than 1 value per channel; received input "
            f"shape {x.shape}"
        )
    mean = x.mean(axis=axes)
    unbiased = x.var(axis=axes) * count / (count - 1)
    m = layer.momentum
    new = {
        "running_mean": (1 - m) * p["running_mean"] + m * mean,
        "running_var": (1 - m) * p["running_var"] + m * unbiased,
    }
    return _normalize(x, axes, layer.eps) * p["gamma"] + p["beta"], new


def _layer_norm(layer: L.LayerNorm, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    x = xs[0]
    y = _normalize(x, tuple(range(1, x.ndim)), layer.eps)
    return y * p["gamma"] + p["beta"], {}


def _instance_norm(
    layer: L.InstanceNorm, p: Params, xs: list[np.ndarray], training: bool
) -> Result:
    y = _normalize(xs[0], (1, 2), layer.eps)
    return (y * p["gamma"] + p["beta"] if layer.affine else y), {}


_ACTIVATIONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "relu": lambda x, a: np.maximum(x, 0.0),
    "leaky_relu": lambda x, a: np.where(x >= 0, x, a * x),
    "tanh": lambda x, a: np.tanh(x),
    "sigmoid": lambda x, a: 0.5 * (1.0 + np.tanh(0.5 * x)),  # stable for large |x|
    "identity": lambda x, a: x,
}


def _activation(layer: L.Activation, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    return _ACTIVATIONS[layer.fn](xs[0], layer.negative_slope), {}


def _dropout(layer: L.Dropout, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    if training and layer.rate > 0:
        raise BackendUnsupportedError(
            f"the numpy reference runs Dropout only in inference (random masks cannot match "
            f"a backend's); received training=True with rate {layer.rate}"
        )
    return xs[0], {}


def _embedding(layer: L.Embedding, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    ids = xs[0]
    if ids.size and (ids.min() < 0 or ids.max() >= layer.num_embeddings):
        raise InvalidArgumentError(
            f"Embedding ids must be in [0, {layer.num_embeddings}); received values in "
            f"[{ids.min()}, {ids.max()}]"
        )
    return p["embeddings"][ids], {}


def _reshape(layer: L.Reshape, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    return xs[0].reshape(xs[0].shape[0], *layer.shape), {}


def _flatten(layer: L.Flatten, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    return xs[0].reshape(xs[0].shape[0], -1), {}


def _maxout(layer: L.Maxout, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    x = xs[0]
    grouped = x.reshape(*x.shape[:-1], x.shape[-1] // layer.pieces, layer.pieces)
    return grouped.max(axis=-1), {}


def _categorical_code(
    layer: L.CategoricalCode, p: Params, xs: list[np.ndarray], training: bool
) -> Result:
    k = layer.categories
    out = xs[0].copy()
    out[..., -k:] = np.eye(k)[xs[0][..., -k:].argmax(-1)]
    return out, {}


def _upsample(layer: L.Upsample, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    f = layer.factor
    return xs[0].repeat(f, axis=1).repeat(f, axis=2), {}


def _concat(layer: L.Concat, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    return np.concatenate(xs, axis=-1), {}


def _add(layer: L.Add, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    return sum(xs[1:], xs[0]), {}


_FORWARD: dict[type, Callable[..., Result]] = {
    L.Dense: _dense,
    L.Conv2D: _conv2d,
    L.ConvTranspose2D: _conv_transpose2d,
    L.BatchNorm: _batch_norm,
    L.LayerNorm: _layer_norm,
    L.InstanceNorm: _instance_norm,
    L.Activation: _activation,
    L.Dropout: _dropout,
    L.Embedding: _embedding,
    L.Reshape: _reshape,
    L.Flatten: _flatten,
    L.Maxout: _maxout,
    L.CategoricalCode: _categorical_code,
    L.Upsample: _upsample,
    L.Concat: _concat,
    L.Add: _add,
}
