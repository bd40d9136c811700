"""Portable networks (`gancore.nn`) built as native TensorFlow modules.

Plain `tf.Variable`s and `tf.nn` ops, no Keras layers: every op says exactly what it
computes, everything runs inside `tf.function` with a dynamic batch size, and is
differentiable to second order (gradient penalties). TensorFlow is NHWC like the numpy
reference, so activations need no layout conversion; only the transposed-convolution kernel
is stored in TensorFlow's (kh, kw, out, in) order. `training` is a Python bool (one trace
per value inside `tf.function`).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from gancore.nn import (
    CanonicalLayouts,
    NetworkSpec,
    check_state,
    node_index,
    parameter_shapes,
    trainable_names,
)
from gancore.nn import _layers as L
from gancore_tensorflow import _distributed
from gancore_tensorflow._random import generator

__all__ = ["TensorFlowNetwork", "build_network", "to_native", "to_numpy"]

Shape = tuple[int, ...]

# canonical (kh, kw, in, out) -> conv2d_transpose's (kh, kw, out, in)
_CONV_T_KERNEL = (0, 1, 3, 2)


def _on(device: str | None) -> Any:
    return tf.device(device) if device else contextlib.nullcontext()


def to_native(x: Any, device: str | None = None) -> tf.Tensor:
    """A TensorFlow tensor for a numpy array (NHWC stays NHWC): floats become float32,
    integers int64."""
    arr = np.asarray(x)
    dtype = tf.int64 if np.issubdtype(arr.dtype, np.integer) else tf.float32
    tensor = tf.convert_to_tensor(arr, dtype=dtype)  # in host memory
    if device is not None and _on_host(device):
        return tensor  # no copy to make: one eager op less per input of every step
    with _on(device):
        return tf.identity(tensor)


@functools.lru_cache(maxsize=16)
def _on_host(device: str) -> bool:
    return tf.DeviceSpec.from_string(device).device_type == "CPU"


_tracing = threading.local()


@contextlib.contextmanager
def _marked(flag: str) -> Iterator[None]:
    before = getattr(_tracing, flag, False)
    setattr(_tracing, flag, True)
    try:
        yield
    finally:
        setattr(_tracing, flag, before)


def tracing_for_xla() -> contextlib.AbstractContextManager[None]:
    """Marks the trace of an XLA-compiled update (`jit_compile=True`): the convolutions
    then take the form XLA compiles fastest. The kernel choices below are measured on
    TensorFlow's own CPU kernels, where "SAME" padding on mirrored inputs beats explicit
    padding; XLA pads any way for free and pays for every `tf.reverse` (a transposed
    convolution 7x7x256 -> 128, forward and backward: 44 ms explicit against 62 mirrored)."""
    return _marked("xla")


def differentiated_twice() -> contextlib.AbstractContextManager[None]:
    """Marks a forward pass whose gradient is differentiated again (a gradient penalty's
    critic pass, `ops.input_gradient`): its normalisations keep the exact second-order
    form. Elsewhere an XLA-compiled batch norm takes `tf.nn.moments`' form, whose variance
    stops the gradient through the mean: the same value and first derivative (the
    deviations from the mean sum to 0), which XLA compiles to faster code."""
    return _marked("twice")


def _for_xla() -> bool:
    return getattr(_tracing, "xla", False)


def _first_order_only() -> bool:
    return not getattr(_tracing, "twice", False)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy array for a TensorFlow tensor or variable."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


class _Op(tf.Module):
    """One node: holds its variables (native layout) and computes the layer."""

    # suffix -> permutation from the canonical to the native layout
    layouts: ClassVar[Mapping[str, tuple[int, ...]]] = {}

    def __init__(self, name: str, layer: L.Layer, in_shapes: tuple[Shape, ...]) -> None:
        super().__init__(name=None)
        self.layer = layer
        self.in_shapes = in_shapes
        self.vars: dict[str, tf.Variable] = {}
        for p in layer.params(in_shapes):
            perm = self.layouts.get(p.suffix, tuple(range(len(p.shape))))
            self.vars[p.suffix] = tf.Variable(
                tf.zeros([p.shape[i] for i in perm], tf.float32),
                trainable=p.trainable,
                name=f"{name}.{p.suffix}",
            )

    def __call__(self, *xs: tf.Tensor, training: bool) -> tf.Tensor:
        raise NotImplementedError

    def _bias(self, y: tf.Tensor) -> tf.Tensor:
        bias = self.vars.get("bias")
        return y if bias is None else tf.nn.bias_add(y, bias)


class _Dense(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return self._bias(tf.matmul(x, self.vars["kernel"]))


class _Conv2D(_Op):
    def __init__(self, name: str, layer: L.Layer, in_shapes: tuple[Shape, ...]) -> None:
        super().__init__(name, layer, in_shapes)
        lay = self.layer
        top, bottom, left, right = lay.pads
        self.pads: Any = [[0, 0], [top, bottom], [left, right], [0, 0]]
        self.explicit = self.pads  # under XLA (`tracing_for_xla`)
        self.flips: list[int] = []
        # Explicit padding takes a slow backward kernel (7x7x64 -> 128, stride 2: 6.0 ms
        # against 2.1 for "SAME"). Where the rows the conv reads are what "SAME" pads, or
        # their mirror image (computed on flipped input and kernel, flipped back), "SAME"
        # computes the same sums.
        flips = []
        for axis, size, before in ((1, in_shapes[0][0], top), (2, in_shapes[0][1], left)):
            after = (lay.output_shape(in_shapes)[axis - 1] - 1) * lay.stride \
                + lay.kernel_size - size - before  # the padding the windows reach
            same = _forward_same_pads(size, lay.output_shape(in_shapes)[axis - 1],
                                      lay.stride, lay.kernel_size)
            if same == (after, before) != (before, after):
                flips.append(axis)
            elif same != (before, after):
                return
        self.pads, self.flips = "SAME", flips

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return self.conv(x, self.vars["kernel"])

    def conv(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        if _for_xla():
            return self._bias(tf.nn.conv2d(x, kernel, self.layer.stride, self.explicit))
        if self.flips:
            x, kernel = tf.reverse(x, self.flips), tf.reverse(kernel, [a - 1 for a in self.flips])
        y = tf.nn.conv2d(x, kernel, self.layer.stride, self.pads)
        if self.flips:
            y = tf.reverse(y, self.flips)
        return self._bias(y)


class _ConvTranspose2D(_Op):
    layouts: ClassVar[Mapping[str, tuple[int, ...]]] = {"kernel": _CONV_T_KERNEL}

    def __init__(self, name: str, layer: L.Layer, in_shapes: tuple[Shape, ...]) -> None:
        super().__init__(name, layer, in_shapes)
        lay = self.layer
        h, w, _ = in_shapes[0]
        s, k, pad, extra = lay.stride, lay.kernel_size, lay.padding, lay.output_padding
        self.out = ((h - 1) * s - 2 * pad + k + extra, (w - 1) * s - 2 * pad + k + extra)
        # PyTorch's output = the VALID transposed conv cropped by `padding` at the top/left
        # and by `padding - output_padding` at the bottom/right. When that is >= 0 the
        # transposed conv can take the crop as padding and never compute the cropped rows
        # (the same sums); otherwise output_padding rows past the VALID size are grown at
        # the bottom/right, which VALID allows for up to stride - 1 rows, and then cropped.
        after = pad - extra
        # Under XLA (`tracing_for_xla`): the crop as explicit padding wherever it can be.
        self.explicit: Any = (None if after < 0
                              else [[0, 0], [pad, after], [pad, after], [0, 0]])
        # Which of TensorFlow's kernels computes it fastest (CPU, forward + backward, ms):
        # when the crop is what "SAME" pads, or its mirror image (computed on flipped input
        # and kernel, then flipped back), the "SAME" kernel (7x7x256 -> 128: 29 against 44
        # to 47 for the others; 14x14x128 -> 64: 33 against 38 and 55); with a few output
        # channels, explicit padding (14x14x64 -> 1: 1.1 against 2.4).
        same = _same_pads(h, self.out[0], s, k), _same_pads(w, self.out[1], s, k)
        self.mirror = False
        self.full, self.crop = self.out, False
        fast_same = after >= 0 and lay.filters >= 8 and same[0] == same[1] is not None
        if fast_same and same[0] == (pad, after):
            self.padding: Any = "SAME"
        elif fast_same and same[0] == (after, pad):
            self.padding, self.mirror = "SAME", True
        elif after >= 0 and not _valid_is_faster(h, w, in_shapes[0][-1], lay.filters):
            self.padding = [[0, 0], [pad, after], [pad, after], [0, 0]]
        else:
            self.padding = "VALID"
            self.full = ((h - 1) * s + k - min(after, 0), (w - 1) * s + k - min(after, 0))
            self.crop = True

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        lay = self.layer
        shape = tf.stack([tf.shape(x)[0], self.full[0], self.full[1], lay.filters])
        kernel = self.vars["kernel"]
        if _for_xla() and self.explicit is not None:
            shape = tf.stack([tf.shape(x)[0], self.out[0], self.out[1], lay.filters])
            return self._bias(tf.nn.conv2d_transpose(x, kernel, shape, lay.stride,
                                                     self.explicit))
        if self.mirror:
            x, kernel = tf.reverse(x, [1, 2]), tf.reverse(kernel, [0, 1])
        y = tf.nn.conv2d_transpose(x, kernel, shape, lay.stride, self.padding)
        if self.mirror:
            y = tf.reverse(y, [1, 2])
        if self.crop:
            p = lay.padding
            y = y[:, p : p + self.out[0], p : p + self.out[1], :]
        return self._bias(y)


def _forward_same_pads(size: int, out: int, stride: int, kernel: int) -> tuple[int, int] | None:
    """The (before, after) padding of a "SAME" convolution from `size` to `out`, or None
    when "SAME" gives another size."""
    if -(-size // stride) != out:
        return None
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _same_pads(size: int, out: int, stride: int, kernel: int) -> tuple[int, int] | None:
    """The (before, after) crop of a transposed conv's "SAME" padding from `size` to `out`,
    or None when "SAME" cannot give that size."""
    if -(-out // stride) != size:
        return None
    total = max((size - 1) * stride + kernel - out, 0)
    return total // 2, total - total // 2


def _valid_is_faster(h: int, w: int, channels: int, filters: int) -> bool:
    """Whether a transposed conv with asymmetric explicit padding runs faster as a VALID one
    cropped after. Measured on TensorFlow 2.21's CPU kernels (forward plus backward, ms):
    explicit padding loses on small inputs with many channels (7x7 256 -> 128: 75 against
    55; 4x4 512 -> 256: 246 against 76) and wins elsewhere (14x14 128 -> 64: 53 against
    70; 14x14 64 -> 1: 1.8 against 4.4). A fixed rule, not a timing: the choice decides the
    order of the sums, which must not change from one run to the next."""
    return channels * filters >= 256 * h * w


def _moments(x: tf.Tensor, axes: list[int], keepdims: bool) -> tuple[tf.Tensor, tf.Tensor]:
    # Not tf.nn.moments: it stops the gradient through the mean inside the variance, which
    # is harmless to first order but makes second-order gradients (gradient penalties
    # through a normalised critic) wrong.
    mean = tf.reduce_mean(x, axes, keepdims=True)
    var = tf.reduce_mean(tf.square(_centre(x, mean)), axes, keepdims=keepdims)
    return (mean if keepdims else tf.squeeze(mean, axes)), var


def _centre(x: tf.Tensor, mean: tf.Tensor) -> tf.Tensor:
    # x + (-mean) is bitwise x - mean, but its gradient negates the reduced (per-channel)
    # gradient of the mean instead of the whole batch-sized gradient, as Sub's would.
    return x + (-mean)


def _normalize(x: tf.Tensor, axes: list[int], eps: float) -> tf.Tensor:
    mean, var = _moments(x, axes, keepdims=True)
    return _centre(x, mean) * tf.math.rsqrt(var + eps)


class _BatchNorm(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        lay = self.layer
        v = self.vars
        # TensorFlow's fused kernel (2-3x the op-by-op moments, forward and backward, and
        # twice differentiable: gradient penalties through it are right) takes NHWC only.
        shape = tf.shape(x)
        rank = len(self.in_shapes[0]) + 1
        x4 = x if rank == 4 else tf.reshape(x, [shape[0], 1, -1, shape[-1]])
        if training and _distributed.sync_workers() is not None:
            y = self._synchronised(x4)
        elif training and _for_xla() and _first_order_only():
            # Under XLA the fused kernel's expansion is slow (a DCGAN generator's forward
            # and backward: 146 ms against 121 for this form, one thread).
            y = self._first_order(x4)
        elif not training:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x4, v["gamma"], v["beta"], v["running_mean"], v["running_var"],
                epsilon=lay.eps, is_training=False)
        else:
            # Its batch variance is the unbiased one (0 for one value), as PyTorch's running
            # variance takes it.
            y, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
                x4, v["gamma"], v["beta"], epsilon=lay.eps, is_training=True)
            m = lay.momentum
            v["running_mean"].assign((1.0 - m) * v["running_mean"] + m * tf.stop_gradient(mean))
            v["running_var"].assign((1.0 - m) * v["running_var"]
                                    + m * tf.stop_gradient(unbiased))
        return y if rank == 4 else tf.reshape(y, shape)

    def _first_order(self, x: tf.Tensor) -> tf.Tensor:
        """Training-mode batch norm as `tf.nn.moments` and `tf.nn.batch_normalization`
        write it (exact to first order; see `differentiated_twice`)."""
        lay, v = self.layer, self.vars
        mean, var = tf.nn.moments(x, [0, 1, 2])
        n = tf.cast(tf.size(x) // tf.shape(x)[-1], x.dtype)
        unbiased = var * n / tf.maximum(n - 1.0, 1.0)
        m = lay.momentum
        v["running_mean"].assign((1.0 - m) * v["running_mean"] + m * tf.stop_gradient(mean))
        v["running_var"].assign((1.0 - m) * v["running_var"] + m * tf.stop_gradient(unbiased))
        return tf.nn.batch_normalization(x, mean, var, v["beta"], v["gamma"], lay.eps)

    def _synchronised(self, x: tf.Tensor) -> tf.Tensor:
        """Batch norm over the global batch of a data-parallel job: the moments of every
        worker's rows, the running statistics updated as one process would update them."""
        lay, v = self.layer, self.vars
        mean, var, count = _distributed.global_moments(x, [0, 1, 2])
        m = lay.momentum
        unbiased = var * count / tf.maximum(count - 1.0, 1.0)
        v["running_mean"].assign((1.0 - m) * v["running_mean"] + m * tf.stop_gradient(mean))
        v["running_var"].assign((1.0 - m) * v["running_var"] + m * tf.stop_gradient(unbiased))
        return (x - mean) * (v["gamma"] * tf.math.rsqrt(var + lay.eps)) + v["beta"]


class _LayerNorm(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        y = _normalize(x, list(range(1, len(self.in_shapes[0]) + 1)), self.layer.eps)
        return y * self.vars["gamma"] + self.vars["beta"]


class _InstanceNorm(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        y = _normalize(x, [1, 2], self.layer.eps)
        return y * self.vars["gamma"] + self.vars["beta"] if self.layer.affine else y


class _Activation(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        fn = self.layer.fn
        if fn == "relu":
            return tf.nn.relu(x)
        if fn == "leaky_relu":
            return tf.nn.leaky_relu(x, self.layer.negative_slope)
        if fn == "tanh":
            return tf.tanh(x)
        if fn == "sigmoid":
            return tf.sigmoid(x)
        return x


class _Dropout(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        if training and self.layer.rate > 0:
            # Masks come from the backend's generator, whose state a checkpoint holds (the
            # global-seed random ops keep theirs where nothing can save it).
            rate = self.layer.rate
            keep = generator().uniform(tf.shape(x), dtype=x.dtype) >= rate
            return x * tf.cast(keep, x.dtype) * (1.0 / (1.0 - rate))
        return x


class _Embedding(_Op):
    def __call__(self, ids: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.gather(self.vars["embeddings"], ids)


class _Reshape(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.reshape(x, [-1, *self.layer.shape])


class _Flatten(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.reshape(x, [-1, int(np.prod(self.in_shapes[0]))])


class _Maxout(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        *lead, channels = self.in_shapes[0]
        pieces = self.layer.pieces
        grouped = tf.reshape(x, [-1, *lead, channels // pieces, pieces])
        return tf.reduce_max(grouped, axis=-1)


class _CategoricalCode(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        k = self.layer.categories
        code = tf.one_hot(tf.argmax(x[..., -k:], axis=-1), k, dtype=x.dtype)
        return tf.concat([x[..., :-k], code], axis=-1)


class _Upsample(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        f = self.layer.factor
        return tf.repeat(tf.repeat(x, f, axis=1), f, axis=2)


class _Concat(_Op):
    def __call__(self, *xs: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.concat(xs, axis=-1)


class _Add(_Op):
    def __call__(self, *xs: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.add_n(list(xs))


def _normalized(a: tf.Tensor) -> tf.Tensor:
    return a / tf.maximum(tf.norm(a), 1e-12)


class _Spectral(_Op):
    """Spectral normalisation of the op's `kernel` (gancore.nn.SpectralDense's power
    iteration), read as the (fan_in, out) matrix M."""

    def normalized_kernel(self, training: bool) -> tf.Tensor:
        kernel, u = self.vars["kernel"], self.vars["u"]
        m = tf.reshape(kernel, [-1, kernel.shape[-1]])
        # u and v carry no gradient: sigma's gradient is u v^T, as in PyTorch.
        v = tf.stop_gradient(_normalized(tf.linalg.matvec(m, u)))
        if training:
            new_u = tf.stop_gradient(_normalized(tf.linalg.matvec(m, v, transpose_a=True)))
            u.assign(new_u)
        else:
            new_u = tf.convert_to_tensor(u)
        return kernel / tf.tensordot(new_u, tf.linalg.matvec(m, v, transpose_a=True), 1)


class _SpectralDense(_Spectral, _Dense):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return self._bias(tf.matmul(x, self.normalized_kernel(training)))


class _SpectralConv2D(_Spectral, _Conv2D):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return self.conv(x, self.normalized_kernel(training))


class _MinibatchStdDev(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        *positions, c = self.in_shapes[0]
        f = self.layer.channels
        n = tf.shape(x)[0]
        group = tf.minimum(self.layer.group_size, n)
        tf.debugging.assert_equal(
            n % group, 0, message="MinibatchStdDev needs a batch that is a multiple of its "
            "group size")
        y = tf.reshape(x, [group, -1, *positions, f, c // f])
        mean = tf.reduce_mean(y, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(_centre(y, mean)), axis=0) + 1e-8)
        axes = [a for a in range(1, len(positions) + 3) if a != len(positions) + 1]
        stat = tf.tile(tf.reduce_mean(std, axis=axes), [group, 1])  # (n, F)
        plane = tf.reshape(stat, [n, *[1] * len(positions), f])
        return tf.concat([x, tf.broadcast_to(plane, [n, *positions, f])], axis=-1)


class _MinibatchDiscrimination(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        m = tf.einsum("na,abc->nbc", x, self.vars["kernel"])
        l1 = tf.reduce_sum(tf.abs(m[:, None] - m[None, :]), axis=-1)
        return tf.concat([x, tf.reduce_sum(tf.exp(-l1), axis=1)], axis=-1)


class _SelfAttention(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        h, w, c = self.in_shapes[0]
        flat = tf.reshape(x, [-1, h * w, c])
        q, k, v = (tf.matmul(flat, self.vars[f"{role}_kernel"])
                   for role in ("query", "key", "value"))
        weights = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)
        o = tf.matmul(tf.matmul(weights, v), self.vars["out_kernel"])
        return x + self.vars["scale"] * tf.reshape(o, [-1, h, w, c])


class _AvgPool2D(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        f = self.layer.factor
        return tf.nn.avg_pool2d(x, f, f, "VALID")


class _GlobalSumPool(_Op):
    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.reduce_sum(x, axis=[1, 2])


_OPS: dict[type, type[_Op]] = {
    L.Dense: _Dense,
    L.Conv2D: _Conv2D,
    L.ConvTranspose2D: _ConvTranspose2D,
    L.BatchNorm: _BatchNorm,
    L.LayerNorm: _LayerNorm,
    L.InstanceNorm: _InstanceNorm,
    L.Activation: _Activation,
    L.Dropout: _Dropout,
    L.Embedding: _Embedding,
    L.Reshape: _Reshape,
    L.Flatten: _Flatten,
    L.Maxout: _Maxout,
    L.CategoricalCode: _CategoricalCode,
    L.Upsample: _Upsample,
    L.Concat: _Concat,
    L.Add: _Add,
    L.SpectralDense: _SpectralDense,
    L.SpectralConv2D: _SpectralConv2D,
    L.MinibatchStdDev: _MinibatchStdDev,
    L.MinibatchDiscrimination: _MinibatchDiscrimination,
    L.SelfAttention: _SelfAttention,
    L.AvgPool2D: _AvgPool2D,
    L.GlobalSumPool: _GlobalSumPool,
}


class TensorFlowNetwork(tf.Module, CanonicalLayouts):
    """A `gancore.nn.NetworkSpec` as a `tf.Module`.

    Call it as `net(*inputs, training=False)` with inputs in `spec.inputs` order (images NHWC
    float32, labels int64). With `training=True`, BatchNorm uses batch statistics and
    assigns its running variables (also inside `tf.function`), and dropout is active.
    """

    def __init__(
        self, spec: NetworkSpec, state: Mapping[str, Any], device: str | None = None
    ) -> None:
        super().__init__(name=None)
        self.spec = spec
        shapes = spec.shapes()
        slots = {inp.name: i for i, inp in enumerate(spec.inputs)}
        ops: list[_Op] = []
        plan: list[tuple[int, ...]] = []
        with _on(device):
            for node in spec.nodes:
                in_shapes = tuple(shapes[s] for s in node.inputs)
                ops.append(_OPS[type(node.layer)](node.name, node.layer, in_shapes))
                plan.append(tuple(slots[s] for s in node.inputs))
                slots[node.name] = len(slots)
        self.ops = ops
        self._plan = plan
        self._n_inputs = len(spec.inputs)
        self._output = slots[spec.output]
        # canonical name -> (variable, canonical-to-native permutation)
        index = {node.name: i for i, node in enumerate(spec.nodes)}
        self._entries: dict[str, tuple[tf.Variable, tuple[int, ...]]] = {}
        for name, shape in parameter_shapes(spec).items():
            owner, _, suffix = name.rpartition(".")
            op = ops[index[owner]]
            perm = op.layouts.get(suffix, tuple(range(len(shape))))
            self._entries[name] = (op.vars[suffix], perm)
        self._trainable = trainable_names(spec)
        self._perms = {name: entry[1] for name, entry in self._entries.items()}
        self.set_state(state)

    def __call__(self, *inputs: tf.Tensor, training: bool = False,
                 output: str | None = None) -> tf.Tensor:
        """The output for a batch of inputs (in `spec.inputs` order); with `output`, the
        output of the node of that name (the nodes after it do not run)."""
        if len(inputs) != self._n_inputs:
            names = ", ".join(i.name for i in self.spec.inputs)
            raise TypeError(
                f"network {self.spec.name!r} takes {self._n_inputs} inputs ({names}); "
                f"received {len(inputs)}"
            )
        last = self._output if output is None else self._n_inputs + node_index(self.spec,
                                                                                output)
        values = list(inputs)
        for op, ins in zip(self.ops[: last + 1 - self._n_inputs], self._plan, strict=False):
            values.append(op(*[values[i] for i in ins], training=training))
        return values[last]

    def trainable_parameters(self) -> list[tf.Variable]:
        """The trainable variables, in `gancore.nn.trainable_names(spec)` order."""
        return [self._entries[name][0] for name in self._trainable]

    def get_state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as float32 numpy arrays in the canonical names and layouts."""
        return {
            name: np.ascontiguousarray(var.numpy().transpose(np.argsort(perm)))
            for name, (var, perm) in self._entries.items()
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Load parameters and buffers given in the canonical names and layouts."""
        checked = check_state(self.spec, state)
        for name, (var, perm) in self._entries.items():
            var.assign(checked[name].transpose(perm))


def build_network(
    spec: NetworkSpec, state: Mapping[str, Any], device: str | None = None
) -> TensorFlowNetwork:
    """A `tf.Module` computing `spec`, loaded with `state` (canonical names and layouts), with
    its variables on `device` (a TensorFlow device string such as "/CPU:0"; None: default)."""
    return TensorFlowNetwork(spec, state, device)
