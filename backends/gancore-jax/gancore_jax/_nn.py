"""Portable networks (`gancore.nn`) as pure JAX functions over a dict of arrays.

Layout: JAX's convolutions take NHWC images and HWIO kernels, which are gancore's canonical
layouts, so a network's arrays are its canonical state as it is, and `to_native` /
`to_numpy` only convert dtypes. Convolutions and matrix products run at full float32
precision (``Precision.HIGHEST``: no TF32 or bf16 passes on a GPU), the arithmetic every
backend is held to.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gancore import BackendUnsupportedError, InvalidArgumentError
from gancore.nn import (
    CanonicalLayouts,
    NetworkSpec,
    check_state,
    node_index,
    parameter_shapes,
    trainable_names,
)
from gancore.nn import _layers as L
from gancore_jax import _random
from gancore_jax._state import current

__all__ = ["JaxNetwork", "JaxParameter", "build_network", "to_native", "to_numpy",
           "unsupported_layers"]

_HIGHEST = jax.lax.Precision.HIGHEST
Params = Mapping[str, jax.Array]
Result = tuple[jax.Array, dict[str, jax.Array]]


def to_native(x: Any, device: Any = None) -> jax.Array:
    """A JAX array for a numpy array: floats become float32, integers int32 (JAX's default
    integer width); images stay NHWC."""
    arr = np.asarray(x)
    arr = arr.astype(np.int32 if np.issubdtype(arr.dtype, np.integer) else np.float32)
    return jax.device_put(arr, device)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy of a JAX array (or a `JaxParameter`'s value)."""
    if isinstance(x, JaxParameter):
        x = x.value
    return np.array(x)


# -- one function per layer: (layer, params, inputs, training, key) -> (output, buffers) ----


def _dense(layer: L.Dense, p: Params, xs: list[jax.Array], training: bool, key: Any) -> Result:
    y = jnp.dot(xs[0], p["kernel"], precision=_HIGHEST)
    return (y + p["bias"] if layer.use_bias else y), {}


def _conv(x: jax.Array, kernel: jax.Array, stride: int,
          padding: list[tuple[int, int]], dilation: int = 1) -> jax.Array:
    return jax.lax.conv_general_dilated(
        x, kernel, (stride, stride), padding, lhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=_HIGHEST)


# XLA's CPU convolutions are slow where a matrix product is not: the DCGAN generator's first
# transposed convolution (7x7x256 -> 14x14x128, batch 64) takes 1,531 ms forward and
# backward through `lax.conv_general_dilated` at one thread against 70 ms as one product
# per tap, the output's phases interleaved. On a CPU, strided convolutions whose patch
# matrix stays under this size run as products; so do stride-1 ones on maps of fewer than
# `_XLA_PIXELS` output pixels. Larger stride-1 convolutions are XLA's own, which is faster
# there (the DCGAN's 14x14x128 -> 64: 82 ms forward and backward against 171 ms as a product
# of patches and 210 ms as spread taps). The forms compute the same sums in another order.
_PATCH_BYTES = 1 << 28
_XLA_PIXELS = 25
_patches = contextvars.ContextVar("gancore_jax_patches", default=False)


def _conv_patches(x: jax.Array, kernel: jax.Array, stride: int,
                  padding: list[tuple[int, int]]) -> jax.Array:
    """Cross-correlation as one matrix product of the (kh * kw * in)-wide patch matrix
    with the kernel: every output pixel's patch is gathered by kh * kw strided slices."""
    n, h, w, c = x.shape
    kh, kw, _, o = kernel.shape
    (top, bottom), (left, right) = padding
    out_h = (h + top + bottom - kh) // stride + 1
    out_w = (w + left + right - kw) // stride + 1
    xp = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    cols = [jax.lax.slice(xp, (0, i, j, 0),
                          (n, i + stride * (out_h - 1) + 1, j + stride * (out_w - 1) + 1, c),
                          (1, stride, stride, 1))
            for i in range(kh) for j in range(kw)]
    patches = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)
    y = jnp.dot(patches.reshape(-1, kh * kw * c), kernel.reshape(kh * kw * c, o),
                precision=_HIGHEST)
    return y.reshape(n, out_h, out_w, o)


def _conv_transpose_patches(x: jax.Array, kernel: jax.Array, stride: int, padding: int,
                            output_padding: int) -> jax.Array:
    """out[iy * stride + ky - padding] += x[iy] @ kernel[ky, kx]: one matrix product per tap
    gives every input pixel's contribution through it (its plane), and the planes are
    placed in the output and summed: no product by the zeros of a dilated input. One product
    per tap rather than one for every tap at once: the backward pass then takes each plane's
    gradient as it comes, where slicing one product's output apart costs a full-sized pad
    per tap (the DCGAN's 7x7x256 -> 14x14x128 forward and backward: 70 against 96 ms)."""
    n, h, w, c = x.shape
    kh, kw, _, o = kernel.shape
    out_h = (h - 1) * stride - 2 * padding + kh + output_padding
    out_w = (w - 1) * stride - 2 * padding + kw + output_padding
    rows = x.reshape(-1, c)

    def plane(ky: int, kx: int) -> jax.Array:
        return jnp.dot(rows, kernel[ky, kx], precision=_HIGHEST).reshape(n, h, w, o)

    if stride > 1 and out_h % stride == 0 and out_w % stride == 0:
        return _interleave_phases(plane, (n, h, w, kh, kw, o), stride, padding, out_h, out_w,
                                  x.dtype)
    # Each plane spread to the output by a strided (interior) pad.
    y = None
    for ky in range(kh):
        for kx in range(kw):
            low_y, low_x = ky - padding, kx - padding
            spread = jax.lax.pad(plane(ky, kx), jnp.zeros((), x.dtype), (
                (0, 0, 0),
                (low_y, out_h - low_y - stride * (h - 1) - 1, stride - 1),
                (low_x, out_w - low_x - stride * (w - 1) - 1, stride - 1),
                (0, 0, 0)))
            y = spread if y is None else y + spread
    return y


def _interleave_phases(plane: Callable[[int, int], jax.Array], shape: tuple[int, ...],
                       stride: int, padding: int, out_h: int, out_w: int, dtype: Any
                       ) -> jax.Array:
    """The sub-pixel form of a strided transposed convolution: the output pixels of one
    phase (oy % stride, ox % stride) = (ry, rx) take only the taps with
    (ky - padding - ry) % stride == 0 (and alike in x), each shifted by whole pixels, so
    every phase is a sum of shifted tap planes and the output is the phases interleaved.
    Its backward pass slices each plane's gradient out of one phase instead of reading an
    output-sized spread per tap."""
    n, h, w, kh, kw, o = shape
    mh, mw = out_h // stride, out_w // stride
    zero = jnp.zeros((), dtype)
    rows = []
    for ry in range(stride):
        phases = []
        for rx in range(stride):
            phase = None
            for ky in range((ry + padding) % stride, kh, stride):
                dy = (ky - padding - ry) // stride
                for kx in range((rx + padding) % stride, kw, stride):
                    dx = (kx - padding - rx) // stride
                    shifted = jax.lax.pad(plane(ky, kx), zero, (
                        (0, 0, 0), (dy, mh - h - dy, 0), (dx, mw - w - dx, 0), (0, 0, 0)))
                    phase = shifted if phase is None else phase + shifted
            phases.append(jnp.zeros((n, mh, mw, o), dtype) if phase is None else phase)
        rows.append(jnp.stack(phases, axis=3))
    return jnp.stack(rows, axis=2).reshape(n, out_h, out_w, o)


def _as_products(stride: int, out_pixels: int, *shape: int) -> bool:
    return (_patches.get() and (stride > 1 or out_pixels < _XLA_PIXELS)
            and 4 * math.prod(shape) <= _PATCH_BYTES)


def _conv2d(layer: L.Conv2D, p: Params, xs: list[jax.Array], training: bool, key: Any
            ) -> Result:
    top, bottom, left, right = layer.pads
    x, kernel, s = xs[0], p["kernel"], layer.stride
    n, h, w, c = x.shape
    k = layer.kernel_size
    out_hw = ((h + top + bottom - k) // s + 1) * ((w + left + right - k) // s + 1)
    if _as_products(s, out_hw, n, out_hw, k * k * c):
        y = _conv_patches(x, kernel, s, [(top, bottom), (left, right)])
    else:
        y = _conv(x, kernel, s, [(top, bottom), (left, right)])
    return (y + p["bias"] if layer.use_bias else y), {}


def _conv_transpose2d(layer: L.ConvTranspose2D, p: Params, xs: list[jax.Array],
                      training: bool, key: Any) -> Result:
    k, pad, extra = layer.kernel_size, layer.padding, layer.output_padding
    x, kernel = xs[0], p["kernel"]
    n, h, w, _ = x.shape
    stride = layer.stride
    out_hw = ((h - 1) * stride - 2 * pad + k + extra) * ((w - 1) * stride - 2 * pad + k + extra)
    if _as_products(stride, out_hw, n, h * w, k * k * kernel.shape[-1]):
        y = _conv_transpose_patches(x, kernel, stride, pad, extra)
    else:
        # A transposed convolution is a convolution of the stride-dilated input with the
        # spatially flipped kernel, padded by k - 1 - padding (plus output_padding at the
        # end).
        before, after = k - 1 - pad, k - 1 - pad + extra
        y = _conv(x, kernel[::-1, ::-1], 1, [(before, after), (before, after)],
                  dilation=stride)
    return (y + p["bias"] if layer.use_bias else y), {}


def _normalize(x: jax.Array, axes: tuple[int, ...], eps: float) -> jax.Array:
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)  # biased
    return (x - mean) * jax.lax.rsqrt(var + eps)


def _batch_norm(layer: L.BatchNorm, p: Params, xs: list[jax.Array], training: bool,
                key: Any) -> Result:
    x = xs[0]
    if not training:
        y = (x - p["running_mean"]) * jax.lax.rsqrt(p["running_var"] + layer.eps)
        return y * p["gamma"] + p["beta"], {}
    axes = tuple(range(x.ndim - 1))
    count = x.size // x.shape[-1]
    if count < 2:
        raise InvalidArgumentError(
            f"BatchNorm in training needs more than 1 value per channel; received input "
            f"shape {tuple(x.shape)}"
        )
    mean = jnp.mean(x, axis=axes)
    var = jnp.mean(jnp.square(x - mean), axis=axes)
    m = layer.momentum
    # PyTorch's momentum and unbiased running variance: what gancore.nn.BatchNorm means.
    buffers = {
        "running_mean": (1 - m) * p["running_mean"] + m * jax.lax.stop_gradient(mean),
        "running_var": (1 - m) * p["running_var"]
        + m * jax.lax.stop_gradient(var) * (count / (count - 1)),
    }
    y = (x - mean) * jax.lax.rsqrt(var + layer.eps)
    return y * p["gamma"] + p["beta"], buffers


def _layer_norm(layer: L.LayerNorm, p: Params, xs: list[jax.Array], training: bool,
                key: Any) -> Result:
    x = xs[0]
    return _normalize(x, tuple(range(1, x.ndim)), layer.eps) * p["gamma"] + p["beta"], {}


def _instance_norm(layer: L.InstanceNorm, p: Params, xs: list[jax.Array], training: bool,
                   key: Any) -> Result:
    y = _normalize(xs[0], (1, 2), layer.eps)
    return (y * p["gamma"] + p["beta"] if layer.affine else y), {}


_ACTIVATIONS: dict[str, Callable[[jax.Array, float], jax.Array]] = {
    "relu": lambda x, a: jax.nn.relu(x),
    # x > 0, not >= 0: at 0 the derivative is the negative slope, as in torch and TensorFlow.
    "leaky_relu": lambda x, a: jnp.where(x > 0, x, a * x),
    "tanh": lambda x, a: jnp.tanh(x),
    "sigmoid": lambda x, a: jax.nn.sigmoid(x),
    "identity": lambda x, a: x,
}


def _activation(layer: L.Activation, p: Params, xs: list[jax.Array], training: bool,
                key: Any) -> Result:
    return _ACTIVATIONS[layer.fn](xs[0], layer.negative_slope), {}


def _dropout(layer: L.Dropout, p: Params, xs: list[jax.Array], training: bool, key: Any
             ) -> Result:
    x = xs[0]
    if not training or layer.rate == 0:
        return x, {}
    keep = jax.random.bernoulli(key, 1.0 - layer.rate, x.shape)
    return jnp.where(keep, x / (1.0 - layer.rate), jnp.zeros((), x.dtype)), {}


def _embedding(layer: L.Embedding, p: Params, xs: list[jax.Array], training: bool,
               key: Any) -> Result:
    return jnp.take(p["embeddings"], xs[0], axis=0), {}


def _reshape(layer: L.Reshape, p: Params, xs: list[jax.Array], training: bool, key: Any
             ) -> Result:
    return jnp.reshape(xs[0], (xs[0].shape[0], *layer.shape)), {}


def _flatten(layer: L.Flatten, p: Params, xs: list[jax.Array], training: bool, key: Any
             ) -> Result:
    return jnp.reshape(xs[0], (xs[0].shape[0], -1)), {}


def _maxout(layer: L.Maxout, p: Params, xs: list[jax.Array], training: bool, key: Any
            ) -> Result:
    x = xs[0]
    grouped = jnp.reshape(x, (*x.shape[:-1], x.shape[-1] // layer.pieces, layer.pieces))
    return jnp.max(grouped, axis=-1), {}


def _categorical_code(layer: L.CategoricalCode, p: Params, xs: list[jax.Array],
                      training: bool, key: Any) -> Result:
    x, k = xs[0], layer.categories
    code = jax.nn.one_hot(jnp.argmax(x[..., -k:], axis=-1), k, dtype=x.dtype)
    return jnp.concatenate([x[..., :-k], code], axis=-1), {}


def _upsample(layer: L.Upsample, p: Params, xs: list[jax.Array], training: bool, key: Any
              ) -> Result:
    f = layer.factor
    return jnp.repeat(jnp.repeat(xs[0], f, axis=1), f, axis=2), {}


def _concat(layer: L.Concat, p: Params, xs: list[jax.Array], training: bool, key: Any
            ) -> Result:
    return jnp.concatenate(xs, axis=-1), {}


def _add(layer: L.Add, p: Params, xs: list[jax.Array], training: bool, key: Any) -> Result:
    y = xs[0]
    for x in xs[1:]:
        y = y + x
    return y, {}


def _normalized(a: jax.Array) -> jax.Array:
    return a / jnp.maximum(jnp.linalg.norm(a), 1e-12)


def _spectral_kernel(kernel: jax.Array, u: jax.Array, training: bool) -> Result:
    """The kernel divided by its power-iteration estimate of sigma, and the new `u` (u and v
    carry no gradient: sigma's gradient is u v^T, as in PyTorch's `spectral_norm`)."""
    m = jnp.reshape(kernel, (-1, kernel.shape[-1]))  # (fan_in, out)
    fixed = jax.lax.stop_gradient(m)
    v = _normalized(jnp.dot(fixed, u, precision=_HIGHEST))
    if training:
        u = _normalized(jnp.dot(fixed.T, v, precision=_HIGHEST))
    sigma = jnp.dot(u, jnp.dot(m.T, v, precision=_HIGHEST), precision=_HIGHEST)
    return kernel / sigma, ({"u": u} if training else {})


def _spectral_dense(layer: L.SpectralDense, p: Params, xs: list[jax.Array], training: bool,
                    key: Any) -> Result:
    kernel, buffers = _spectral_kernel(p["kernel"], p["u"], training)
    y, _ = _dense(layer, {**p, "kernel": kernel}, xs, training, key)
    return y, buffers


def _spectral_conv2d(layer: L.SpectralConv2D, p: Params, xs: list[jax.Array],
                     training: bool, key: Any) -> Result:
    kernel, buffers = _spectral_kernel(p["kernel"], p["u"], training)
    y, _ = _conv2d(layer, {**p, "kernel": kernel}, xs, training, key)
    return y, buffers


def _minibatch_stddev(layer: L.MinibatchStdDev, p: Params, xs: list[jax.Array],
                      training: bool, key: Any) -> Result:
    x, f = xs[0], layer.channels
    n, group = x.shape[0], min(layer.group_size, x.shape[0])
    if n % group:
        raise InvalidArgumentError(f"MinibatchStdDev needs a batch that is a multiple of its "
                                   f"group size {group}; received a batch of {n}")
    # (members, groups, positions, slices, features per slice); flat features: 1 position.
    members = jnp.reshape(x, (group, n // group, -1, f, x.shape[-1] // f))
    std = jnp.sqrt(jnp.var(members, axis=0) + 1e-8)  # biased variance over the members
    stat = jnp.tile(jnp.mean(std, axis=(1, 3)), (group, 1))  # sample i: group i % (n / G)
    plane = jnp.reshape(stat, (n, *([1] * (x.ndim - 2)), f))
    return jnp.concatenate([x, jnp.broadcast_to(plane, (*x.shape[:-1], f))], axis=-1), {}


def _minibatch_discrimination(layer: L.MinibatchDiscrimination, p: Params,
                              xs: list[jax.Array], training: bool, key: Any) -> Result:
    x = xs[0]
    m = jnp.einsum("na,abc->nbc", x, p["kernel"], precision=_HIGHEST)
    l1 = jnp.sum(jnp.abs(m[:, None] - m[None, :]), axis=-1)  # (n, n, kernels)
    return jnp.concatenate([x, jnp.sum(jnp.exp(-l1), axis=1)], axis=-1), {}


def _self_attention(layer: L.SelfAttention, p: Params, xs: list[jax.Array], training: bool,
                    key: Any) -> Result:
    x = xs[0]
    n, h, w, c = x.shape
    flat = jnp.reshape(x, (n, h * w, c))
    q, k, v = (jnp.matmul(flat, p[f"{role}_kernel"], precision=_HIGHEST)
               for role in ("query", "key", "value"))
    weights = jax.nn.softmax(jnp.matmul(q, jnp.swapaxes(k, 1, 2), precision=_HIGHEST),
                             axis=-1)  # (n, queries, keys)
    o = jnp.matmul(jnp.matmul(weights, v, precision=_HIGHEST), p["out_kernel"],
                   precision=_HIGHEST)
    return x + p["scale"][0] * jnp.reshape(o, (n, h, w, c)), {}


def _avg_pool2d(layer: L.AvgPool2D, p: Params, xs: list[jax.Array], training: bool,
                key: Any) -> Result:
    x, f = xs[0], layer.factor
    n, h, w, c = x.shape
    return jnp.mean(jnp.reshape(x, (n, h // f, f, w // f, f, c)), axis=(2, 4)), {}


def _global_sum_pool(layer: L.GlobalSumPool, p: Params, xs: list[jax.Array],
                     training: bool, key: Any) -> Result:
    return jnp.sum(xs[0], axis=(1, 2)), {}


# Each function is named after the layer kind it computes (`_conv2d`: "conv2d").
_FORWARD: dict[type, Callable[..., Result]] = {L.LAYER_KINDS[fn.__name__[1:]]: fn for fn in (
    _dense, _conv2d, _conv_transpose2d, _batch_norm, _layer_norm, _instance_norm, _activation,
    _dropout, _embedding, _reshape, _flatten, _maxout, _categorical_code, _upsample, _concat,
    _add, _spectral_dense, _spectral_conv2d, _minibatch_stddev, _minibatch_discrimination,
    _self_attention, _avg_pool2d, _global_sum_pool)}


def unsupported_layers() -> frozenset[str]:
    """The kinds of `gancore.nn` layers this backend cannot build yet."""
    return frozenset(kind for kind, cls in L.LAYER_KINDS.items() if cls not in _FORWARD)


class JaxParameter:
    """One trainable array of a `JaxNetwork`, by reference: optimizers, EMA and weight
    clipping read and write `value`, which is the traced value inside a compiled update and
    the network's own array outside one."""

    __slots__ = ("name", "network")

    def __init__(self, network: JaxNetwork, name: str) -> None:
        self.network = network
        self.name = name

    @property
    def value(self) -> jax.Array:
        return self.network.arrays()[self.name]

    @value.setter
    def value(self, new: jax.Array) -> None:
        self.network.arrays()[self.name] = new

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> Any:
        return self.value.dtype

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.value, dtype=dtype)

    def __repr__(self) -> str:
        return f"JaxParameter({self.network!r}, {self.name!r})"


class JaxNetwork(CanonicalLayouts):
    """A `gancore.nn.NetworkSpec` as a pure JAX function of a dict of arrays.

    Call it as `net(*inputs, training=False, output=None)` with inputs in `spec.inputs`
    order (images NHWC float32, labels int32); `output` names a node to return instead.
    With `training=True`, BatchNorm normalises with batch statistics and updates its running
    buffers, and dropout draws masks from the backend's key. Eager calls run one
    `jax.jit`-compiled forward pass per input shape and mode.
    """

    def __init__(self, spec: NetworkSpec, state: Mapping[str, Any], device: Any = None) -> None:
        missing = sorted({type(node.layer).kind for node in spec.nodes
                          if type(node.layer) not in _FORWARD})
        if missing:
            raise BackendUnsupportedError(
                f"the jax backend does not implement the layer kind(s) {', '.join(missing)} "
                f"of network {spec.name!r} yet; it builds "
                f"{', '.join(sorted(c.kind for c in _FORWARD))}"
            )
        self.spec = spec
        self.device = device
        # Convolutions as matrix products where the arrays live on a CPU (see _PATCH_BYTES).
        self._products = (device or jax.devices()[0]).platform == "cpu"
        self._names = list(parameter_shapes(spec))
        self._trainable = trainable_names(spec)
        self._perms = {name: tuple(range(len(shape)))
                       for name, shape in parameter_shapes(spec).items()}
        self._random = any(isinstance(node.layer, L.Dropout) and node.layer.rate > 0
                           for node in spec.nodes)
        self._parameters = [JaxParameter(self, name) for name in self._trainable]
        self._state: dict[str, jax.Array] = {}
        self._eager = jax.jit(self.apply, static_argnames=("training", "output"))
        self.set_state(state)

    # -- the pure function -----------------------------------------------------------------

    def apply(self, arrays: Mapping[str, jax.Array], inputs: tuple[jax.Array, ...],
              training: bool, key: Any = None, output: str | None = None
              ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The output for `inputs` with these arrays (with `output`, that node's, the nodes
        after it not run), and the buffers training wrote."""
        if len(inputs) != len(self.spec.inputs):
            names = ", ".join(i.name for i in self.spec.inputs)
            raise TypeError(
                f"network {self.spec.name!r} takes {len(self.spec.inputs)} inputs ({names}); "
                f"received {len(inputs)}"
            )
        values: dict[str, jax.Array] = {i.name: x for i, x in zip(self.spec.inputs, inputs,
                                                                   strict=True)}
        token = _patches.set(self._products)
        try:
            return self._apply(arrays, values, training, key, output)
        finally:
            _patches.reset(token)

    def _apply(self, arrays: Mapping[str, jax.Array], values: dict[str, jax.Array],
               training: bool, key: Any, output: str | None
               ) -> tuple[jax.Array, dict[str, jax.Array]]:
        written: dict[str, jax.Array] = {}
        last = len(self.spec.nodes) - 1 if output is None else node_index(self.spec, output)
        for node in self.spec.nodes[: last + 1]:
            prefix = node.name + "."
            own = {name[len(prefix):]: arrays[name] for name in self._names
                   if name.startswith(prefix)}
            node_key = None
            if key is not None and isinstance(node.layer, L.Dropout):
                key, node_key = jax.random.split(key)
            out, buffers = _FORWARD[type(node.layer)](
                node.layer, own, [values[s] for s in node.inputs], training, node_key)
            written.update({prefix + k: v for k, v in buffers.items()})
            values[node.name] = out
        return values[self.spec.output if output is None else output], written

    # -- calls, eager or under an update's overlay -------------------------------------------

    def arrays_outside(self) -> dict[str, jax.Array]:
        """The network's own arrays (what it holds between updates)."""
        return self._state

    def arrays(self) -> dict[str, jax.Array]:
        """The arrays a call sees now: the update's traced ones inside one, else its own."""
        active = current()
        traced = active.arrays(self) if active is not None else None
        return self._state if traced is None else traced

    def __call__(self, *inputs: jax.Array, training: bool = False,
                 output: str | None = None) -> jax.Array:
        active = current()
        traced = active.arrays(self) if active is not None else None
        needs_key = training and self._random
        if traced is None:
            key = _random.next_key() if needs_key else None
            out, written = self._eager(self._state, tuple(inputs), training, key, output)
            self._state.update(written)
            return out
        key = active.next_key() if needs_key else None  # type: ignore[union-attr]
        out, written = self.apply(traced, tuple(inputs), training, key, output)
        traced.update(written)
        return out

    # -- gancore's network interface ---------------------------------------------------------

    def trainable_parameters(self) -> list[JaxParameter]:
        """The trainable parameters, in `gancore.nn.trainable_names(spec)` order."""
        return list(self._parameters)

    def get_state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as float32 numpy copies, canonical names and layouts."""
        return {name: np.array(self._state[name], np.float32) for name in self._names}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Load parameters and buffers given in the canonical names and layouts."""
        checked = check_state(self.spec, state)
        self._state = {name: jax.device_put(np.array(checked[name]), self.device)
                       for name in self._names}

    def __repr__(self) -> str:
        return f"JaxNetwork({self.spec.name!r})"


def build_network(spec: NetworkSpec, state: Mapping[str, Any], device: Any = None
                  ) -> JaxNetwork:
    """A JAX network computing `spec`, loaded with `state`, its arrays on `device` (a
    `jax.Device`; None is JAX's default device)."""
    return JaxNetwork(spec, state, device)
