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

__all__ = ["forward_numpy", "forward_numpy_training", "node_index"]

Params = dict[str, np.ndarray]


def node_index(spec: NetworkSpec, name: str) -> int:
    """The position in `spec.nodes` of the node called `name`: what a network called with
    ``output=name`` returns, having run the nodes up to it and no further. An unknown name
    is an `InvalidArgumentError` listing the network's nodes."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"output must be a node name (str); received {name!r}")
    for i, node in enumerate(spec.nodes):
        if node.name == name:
            return i
    names = ", ".join(n.name for n in spec.nodes)
    raise InvalidArgumentError(
        f"output must name a node of network {spec.name!r} ({names}); received {name!r}")


def forward_numpy(
    spec: NetworkSpec, state: Mapping[str, Any], *inputs: Any, training: bool = False,
    output: str | None = None,
) -> np.ndarray:
    """The network's output (float64) for a batch of inputs given in `spec.inputs` order;
    with `output`, the output of the node of that name (`node_index`; the nodes after it
    do not run).

    Images are NHWC; labels are integer arrays. `training=True` normalises BatchNorm with
    batch statistics but leaves `state` alone (see `forward_numpy_training` for the buffer
    update; spectral norm's power iteration runs too, unsaved). Dropout is the identity in
    inference; in training with rate > 0 it raises `BackendUnsupportedError`, since random
    masks cannot match across frameworks.
    """
    return _run(spec, state, inputs, training, None, output)


def forward_numpy_training(
    spec: NetworkSpec, state: Mapping[str, Any], *inputs: Any, output: str | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A training-mode forward pass and the state after it: BatchNorm running statistics
    updated as every backend updates them in training mode (PyTorch's momentum, unbiased
    running variance), and spectral norm's `u` after its power iteration. Returns (output
    float64, new state float32). `output` as in `forward_numpy`: only the nodes up to it
    run, and only their buffers change."""
    updates: dict[str, np.ndarray] = {}
    out = _run(spec, state, inputs, True, updates, output)
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
    output: str | None,
) -> np.ndarray:
    last = len(spec.nodes) - 1 if output is None else node_index(spec, output)
    params = check_state(spec, state, np.float64)
    values = _check_inputs(spec, inputs)
    for node in spec.nodes[: last + 1]:
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
    return values[spec.output if output is None else output]


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


def _normalized(a: np.ndarray) -> np.ndarray:
    return a / max(float(np.linalg.norm(a)), 1e-12)


def _spectral_kernel(kernel: np.ndarray, u: np.ndarray, training: bool) -> Result:
    """The kernel divided by its power-iteration estimate of sigma, and the new `u`."""
    m = kernel.reshape(-1, kernel.shape[-1])  # (fan_in, out)
    v = _normalized(m @ u)
    if training:
        u = _normalized(m.T @ v)
    sigma = u @ (m.T @ v)
    return kernel / sigma, ({"u": u} if training else {})


def _spectral_dense(layer: L.SpectralDense, p: Params, xs: list[np.ndarray],
                    training: bool) -> Result:
    kernel, new = _spectral_kernel(p["kernel"], p["u"], training)
    y, _ = _dense(layer, {**p, "kernel": kernel}, xs, training)
    return y, new


def _spectral_conv2d(layer: L.SpectralConv2D, p: Params, xs: list[np.ndarray],
                     training: bool) -> Result:
    kernel, new = _spectral_kernel(p["kernel"], p["u"], training)
    y, _ = _conv2d(layer, {**p, "kernel": kernel}, xs, training)
    return y, new


def _minibatch_stddev(layer: L.MinibatchStdDev, p: Params, xs: list[np.ndarray],
                      training: bool) -> Result:
    x = xs[0]
    n = x.shape[0]
    group = min(layer.group_size, n)
    if n % group:
        raise InvalidArgumentError(
            f"MinibatchStdDev needs a batch that is a multiple of its group size {group}; "
            f"received a batch of {n}"
        )
    f = layer.channels
    y = x.reshape(group, n // group, *x.shape[1:-1], f, x.shape[-1] // f)
    std = np.sqrt(y.var(axis=0) + 1e-8)  # (n / G, ..., F, C / F)
    stat = std.mean(axis=tuple(a for a in range(1, std.ndim) if a != std.ndim - 2))
    stat = np.tile(stat, (group, 1))  # sample i gets its group's (i % (n / G)) values
    plane = np.broadcast_to(stat.reshape(n, *([1] * (x.ndim - 2)), f), (*x.shape[:-1], f))
    return np.concatenate([x, plane], axis=-1), {}


def _minibatch_discrimination(layer: L.MinibatchDiscrimination, p: Params,
                              xs: list[np.ndarray], training: bool) -> Result:
    x = xs[0]
    m = np.einsum("na,abc->nbc", x, p["kernel"])
    l1 = np.abs(m[:, None] - m[None, :]).sum(axis=-1)  # (n, n, kernels)
    return np.concatenate([x, np.exp(-l1).sum(axis=1)], axis=-1), {}


def _self_attention(layer: L.SelfAttention, p: Params, xs: list[np.ndarray],
                    training: bool) -> Result:
    x = xs[0]
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    q, k, v = (flat @ p[f"{role}_kernel"] for role in ("query", "key", "value"))
    logits = q @ k.transpose(0, 2, 1)  # (n, queries, keys)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    o = (weights @ v) @ p["out_kernel"]
    return x + p["scale"][0] * o.reshape(n, h, w, c), {}


def _avg_pool2d(layer: L.AvgPool2D, p: Params, xs: list[np.ndarray], training: bool) -> Result:
    x, f = xs[0], layer.factor
    n, h, w, c = x.shape
    return x.reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4)), {}


def _global_sum_pool(layer: L.GlobalSumPool, p: Params, xs: list[np.ndarray],
                     training: bool) -> Result:
    return xs[0].sum(axis=(1, 2)), {}


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
    L.SpectralDense: _spectral_dense,
    L.SpectralConv2D: _spectral_conv2d,
    L.MinibatchStdDev: _minibatch_stddev,
    L.MinibatchDiscrimination: _minibatch_discrimination,
    L.SelfAttention: _self_attention,
    L.AvgPool2D: _avg_pool2d,
    L.GlobalSumPool: _global_sum_pool,
}
