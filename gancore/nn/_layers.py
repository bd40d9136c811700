"""The portable layers: frozen values that say what a layer computes, not how.

Every layer knows its shape rule (per-sample shapes, NHWC meaning for images) and the
shapes of its parameters. Each backend maps a layer to its own native ops; the numpy
reference (`_numpy_forward.py`) is the specification they are tested against.

Per-sample ranks: float tensors have rank 1 (features), 2 (sequence x features) or
3 (height x width x channels); integer tensors (labels) rank 0 to 2. The limit keeps one
simple layout rule on every backend: only rank-3 samples (4-D batches) are images.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from gancore._errors import InvalidArgumentError

__all__ = [
    "LAYER_KINDS",
    "Activation",
    "Add",
    "AvgPool2D",
    "BatchNorm",
    "CategoricalCode",
    "Concat",
    "Conv2D",
    "ConvTranspose2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalSumPool",
    "InstanceNorm",
    "Layer",
    "LayerNorm",
    "Maxout",
    "MinibatchDiscrimination",
    "MinibatchStdDev",
    "ParamSpec",
    "Reshape",
    "SelfAttention",
    "SpectralConv2D",
    "SpectralDense",
    "Upsample",
    "layer_from_dict",
]

Shape = tuple[int, ...]

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")


# -- validators: InvalidArgumentError in gancore's message format -----------------------------


def _int_at_least(low: int) -> Any:
    def check(inst: Any, attr: attrs.Attribute, value: Any) -> None:
        # bool is an int subclass; True as a kernel size is always a mistake.
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise InvalidArgumentError(
                f"{type(inst).__name__} {attr.name} must be an int >= {low}; received {value!r}"
            )

    return check


def _number_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Any:
    def check(inst: Any, attr: attrs.Attribute, value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            ok = (value > low if low_open else value >= low) and (
                value < high if high_open else value <= high
            )
        if not ok:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            raise InvalidArgumentError(
                f"{type(inst).__name__} {attr.name} must be a number in "
                f"{left}{low}, {high}{right}; received {value!r}"
            )

    return check


def _bool(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidArgumentError(
            f"{type(inst).__name__} {attr.name} must be a bool; received {value!r}"
        )


def _tuple_if_list(value: Any) -> Any:
    # JSON gives lists; the canonical, hashable form is a tuple.
    return tuple(value) if isinstance(value, list) else value


def _padding4(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    def good(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if good(value) or (isinstance(value, tuple) and len(value) == 4 and all(map(good, value))):
        return
    raise InvalidArgumentError(
        f"{type(inst).__name__} padding must be an int >= 0 or a 4-tuple "
        f"(top, bottom, left, right) of ints >= 0; received {value!r}"
    )


def _shape_tuple(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if not (
        isinstance(value, tuple)
        and 1 <= len(value) <= 3
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value)
    ):
        raise InvalidArgumentError(
            f"{type(inst).__name__} shape must be a tuple of 1 to 3 ints >= 1; received {value!r}"
        )


# -- the base --------------------------------------------------------------------------------


@attrs.frozen
class ParamSpec:
    """One parameter or buffer of a layer: its name suffix, shape and role.

    `fan_in` / `fan_out` are what glorot initialisation uses (receptive field included).
    """

    suffix: str
    shape: Shape
    trainable: bool = True
    fan_in: int = 0
    fan_out: int = 0


class Layer:
    """Base of the portable layers.

    Subclasses are `attrs.frozen` values with a `kind` (the JSON tag), how many inputs they
    take (`arity`; None means two or more), the dtype they consume, a shape rule and the
    shapes of their parameters.
    """

    kind: ClassVar[str] = ""
    arity: ClassVar[int | None] = 1
    input_dtype: ClassVar[str] = "float32"

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        """The per-sample output shape for these per-sample input shapes (or raise)."""
        raise NotImplementedError

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        """Parameters and buffers, in canonical order, for these input shapes."""
        return ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: `kind` plus the fields (tuples as lists)."""
        fields = {name: getattr(self, name) for name in _field_names(type(self))}
        return {"kind": self.kind, **{k: _list_if_tuple(v) for k, v in fields.items()}}


def _field_names(cls: type[Layer]) -> list[str]:
    return [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]  # subclasses are attrs


def _list_if_tuple(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _rank(layer: Layer, shape: Shape, ranks: tuple[int, ...], what: str) -> None:
    if len(shape) not in ranks:
        allowed = " or ".join(str(r) for r in ranks)
        raise InvalidArgumentError(
            f"{type(layer).__name__} needs a per-sample input of rank {allowed} ({what}); "
            f"received shape {shape}"
        )


# -- layers with parameters ------------------------------------------------------------------


@attrs.frozen
class Dense(Layer):
    """Fully connected: `y = x @ kernel + bias` on a flat per-sample input (features,).

    Parameters: `kernel` (in, units), `bias` (units,).
    """

    kind: ClassVar[str] = "dense"
    units: int = attrs.field(validator=_int_at_least(1))
    use_bias: bool = attrs.field(default=True, validator=_bool)

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (1,), "features; add a Flatten first")
        return (self.units,)

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        n_in = shapes[0][0]
        kernel = ParamSpec("kernel", (n_in, self.units), True, n_in, self.units)
        return (kernel, ParamSpec("bias", (self.units,))) if self.use_bias else (kernel,)


@attrs.frozen
class Conv2D(Layer):
    """2-D cross-correlation on NHWC images with explicit zero padding.

    `padding` is an int (all sides) or (top, bottom, left, right); there is no "same":
    the padding is part of the spec so every backend computes the same thing.
    out = (in + pad_before + pad_after - kernel_size) // stride + 1.
    Parameters: `kernel` (kh, kw, in, out), `bias` (out,).
    """

    kind: ClassVar[str] = "conv2d"
    filters: int = attrs.field(validator=_int_at_least(1))
    kernel_size: int = attrs.field(validator=_int_at_least(1))
    stride: int = attrs.field(default=1, validator=_int_at_least(1))
    padding: int | tuple[int, int, int, int] = attrs.field(
        default=0, converter=_tuple_if_list, validator=_padding4
    )
    use_bias: bool = attrs.field(default=True, validator=_bool)

    @property
    def pads(self) -> tuple[int, int, int, int]:
        """Padding as (top, bottom, left, right)."""
        p = self.padding
        return (p, p, p, p) if isinstance(p, int) else p

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        h, w, _ = shape
        top, bottom, left, right = self.pads
        out_h = (h + top + bottom - self.kernel_size) // self.stride + 1
        out_w = (w + left + right - self.kernel_size) // self.stride + 1
        if h + top + bottom < self.kernel_size or w + left + right < self.kernel_size:
            raise InvalidArgumentError(
                f"Conv2D kernel_size must be <= the padded input size "
                f"({h + top + bottom}x{w + left + right}); received {self.kernel_size}"
            )
        return (out_h, out_w, self.filters)

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        c_in = shapes[0][2]
        k = self.kernel_size
        kernel = ParamSpec(
            "kernel", (k, k, c_in, self.filters), True, k * k * c_in, k * k * self.filters
        )
        return (kernel, ParamSpec("bias", (self.filters,))) if self.use_bias else (kernel,)


@attrs.frozen
class ConvTranspose2D(Layer):
    """Transposed 2-D convolution on NHWC images, with PyTorch's output size.

    out = (in - 1) * stride - 2 * padding + kernel_size + output_padding, where
    out[iy * stride + ky - padding, o] += in[iy, i] * kernel[ky, kx, i, o] and the
    `output_padding` extra rows/columns are at the bottom/right. `output_padding` must be
    < stride (PyTorch's rule). Parameters: `kernel` (kh, kw, in, out), `bias` (out,).
    """

    kind: ClassVar[str] = "conv_transpose2d"
    filters: int = attrs.field(validator=_int_at_least(1))
    kernel_size: int = attrs.field(validator=_int_at_least(1))
    stride: int = attrs.field(default=1, validator=_int_at_least(1))
    padding: int = attrs.field(default=0, validator=_int_at_least(0))
    output_padding: int = attrs.field(default=0, validator=_int_at_least(0))
    use_bias: bool = attrs.field(default=True, validator=_bool)

    def __attrs_post_init__(self) -> None:
        if self.output_padding >= self.stride:
            raise InvalidArgumentError(
                f"ConvTranspose2D output_padding must be < stride ({self.stride}); "
                f"received {self.output_padding}"
            )

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        h, w, _ = shape
        grow = self.kernel_size + self.output_padding - 2 * self.padding
        out_h = (h - 1) * self.stride + grow
        out_w = (w - 1) * self.stride + grow
        if out_h < 1 or out_w < 1:
            raise InvalidArgumentError(
                f"ConvTranspose2D padding must leave an output of at least 1x1 "
                f"(input {h}x{w} gives {out_h}x{out_w}); received {self.padding}"
            )
        return (out_h, out_w, self.filters)

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        c_in = shapes[0][2]
        k = self.kernel_size
        kernel = ParamSpec(
            "kernel", (k, k, c_in, self.filters), True, k * k * c_in, k * k * self.filters
        )
        return (kernel, ParamSpec("bias", (self.filters,))) if self.use_bias else (kernel,)


def _norm_params(channels: int) -> tuple[ParamSpec, ParamSpec]:
    return (ParamSpec("gamma", (channels,)), ParamSpec("beta", (channels,)))


@attrs.frozen
class BatchNorm(Layer):
    """Batch normalisation over the last (channel / feature) axis.

    Statistics are taken over every axis but the last. `momentum` has PyTorch's meaning:
    running = (1 - momentum) * running + momentum * batch_stat. The running variance is
    updated with the unbiased batch variance (n / (n - 1)), while the batch is normalised
    with the biased one, as PyTorch does. Keras' `momentum=0.99` is `momentum=0.01` here.
    Parameters: `gamma`, `beta` (C,); buffers: `running_mean` (0), `running_var` (1).
    """

    kind: ClassVar[str] = "batch_norm"
    momentum: float = attrs.field(default=0.1, validator=_number_in(0.0, 1.0))
    eps: float = attrs.field(default=1e-5, validator=_number_in(0.0, math.inf, low_open=True))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        return shapes[0]

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        c = shapes[0][-1]
        return (
            *_norm_params(c),
            ParamSpec("running_mean", (c,), trainable=False),
            ParamSpec("running_var", (c,), trainable=False),
        )


@attrs.frozen
class LayerNorm(Layer):
    """Layer normalisation over all non-batch axes, with a per-channel (last axis) affine.

    On images this is PyTorch's `GroupNorm(1, C)`. Parameters: `gamma`, `beta` (C,).
    """

    kind: ClassVar[str] = "layer_norm"
    eps: float = attrs.field(default=1e-5, validator=_number_in(0.0, math.inf, low_open=True))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        return shapes[0]

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        return _norm_params(shapes[0][-1])


@attrs.frozen
class InstanceNorm(Layer):
    """Instance normalisation: per sample and channel over height and width (biased variance).

    Parameters (when `affine`): `gamma`, `beta` (C,).
    """

    kind: ClassVar[str] = "instance_norm"
    eps: float = attrs.field(default=1e-5, validator=_number_in(0.0, math.inf, low_open=True))
    affine: bool = attrs.field(default=True, validator=_bool)

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        return shape

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        return _norm_params(shapes[0][-1]) if self.affine else ()


@attrs.frozen
class Embedding(Layer):
    """A lookup table for integer inputs: shape (...) -> (..., dim).

    Parameters: `embeddings` (num_embeddings, dim).
    """

    kind: ClassVar[str] = "embedding"
    input_dtype: ClassVar[str] = "int64"
    num_embeddings: int = attrs.field(validator=_int_at_least(1))
    dim: int = attrs.field(validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (0, 1, 2), "integer ids")
        return (*shape, self.dim)

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        return (ParamSpec("embeddings", (self.num_embeddings, self.dim)),)


# -- layers without parameters ---------------------------------------------------------------


@attrs.frozen
class Reshape(Layer):
    """Reshape each sample to `shape`, read and written in NHWC (row-major) order."""

    kind: ClassVar[str] = "reshape"
    shape: tuple[int, ...] = attrs.field(converter=_tuple_if_list, validator=_shape_tuple)

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        if math.prod(shape) != math.prod(self.shape):
            raise InvalidArgumentError(
                f"Reshape shape must have as many elements as its input {shape} "
                f"({math.prod(shape)}); received {self.shape} ({math.prod(self.shape)})"
            )
        return self.shape


@attrs.frozen
class Flatten(Layer):
    """Flatten each sample to (features,), in NHWC (row-major) order."""

    kind: ClassVar[str] = "flatten"

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        return (math.prod(shapes[0]),)


@attrs.frozen
class Activation(Layer):
    """An elementwise activation: relu, leaky_relu (with `negative_slope`), tanh, sigmoid or
    identity. `negative_slope` is only used by leaky_relu."""

    kind: ClassVar[str] = "activation"
    fn: str = attrs.field()
    negative_slope: float = attrs.field(default=0.2, validator=_number_in(0.0, math.inf))

    @fn.validator
    def _check_fn(self, attr: attrs.Attribute, value: Any) -> None:
        if value not in ACTIVATIONS:
            allowed = ", ".join(repr(a) for a in ACTIVATIONS)
            raise InvalidArgumentError(
                f"Activation fn must be one of {allowed}; received {value!r}"
            )

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        return shapes[0]


@attrs.frozen
class Dropout(Layer):
    """Zero each element with probability `rate` in training (scaled by 1 / (1 - rate)).

    The identity in inference. Masks are random, so backends cannot agree on them; the numpy
    reference refuses training mode with rate > 0.
    """

    kind: ClassVar[str] = "dropout"
    rate: float = attrs.field(validator=_number_in(0.0, 1.0, high_open=True))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        return shapes[0]


@attrs.frozen
class Maxout(Layer):
    """Maxout (Goodfellow 2013): the last axis, of size units * pieces, grouped as
    (units, pieces) (row-major), reduced by max over the pieces: (..., units * pieces) ->
    (..., units)."""

    kind: ClassVar[str] = "maxout"
    pieces: int = attrs.field(validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        if shape[-1] % self.pieces:
            raise InvalidArgumentError(
                f"Maxout pieces must divide the last axis of its input {shape}; "
                f"received {self.pieces}"
            )
        return (*shape[:-1], shape[-1] // self.pieces)


@attrs.frozen
class CategoricalCode(Layer):
    """A uniform categorical code drawn from Gaussian noise inside the network: the last
    `categories` features of a flat input become the one-hot vector of their argmax, the
    others pass through unchanged; (features,) -> (features,).

    For i.i.d. noise every category is equally likely, so a generator that starts with this
    layer sees a continuous latent and a discrete one (InfoGAN's categorical code, Chen et
    al. 2016, without its mutual-information term): different categories are disconnected
    inputs, and the generator can place them on disconnected modes without stretching one
    connected noise space across the gaps between them. The code carries no gradient.
    """

    kind: ClassVar[str] = "categorical_code"
    categories: int = attrs.field(validator=_int_at_least(2))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (1,), "features")
        if shape[0] < self.categories:
            raise InvalidArgumentError(
                f"CategoricalCode categories must be at most its input's {shape[0]} "
                f"features; received {self.categories}"
            )
        return shape


@attrs.frozen
class Upsample(Layer):
    """Nearest-neighbour upsampling of height and width by an integer `factor`."""

    kind: ClassVar[str] = "upsample"
    factor: int = attrs.field(validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        h, w, c = shape
        return (h * self.factor, w * self.factor, c)


@attrs.frozen
class Concat(Layer):
    """Concatenate two or more inputs along the last (channel / feature) axis."""

    kind: ClassVar[str] = "concat"
    arity: ClassVar[int | None] = None

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        first = shapes[0]
        for shape in shapes[1:]:
            if len(shape) != len(first) or shape[:-1] != first[:-1]:
                raise InvalidArgumentError(
                    f"Concat inputs must agree on every axis but the last; received shapes "
                    f"{', '.join(str(s) for s in shapes)}"
                )
        return (*first[:-1], sum(s[-1] for s in shapes))


@attrs.frozen
class Add(Layer):
    """Elementwise sum of two or more inputs of the same shape."""

    kind: ClassVar[str] = "add"
    arity: ClassVar[int | None] = None

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        if any(s != shapes[0] for s in shapes):
            raise InvalidArgumentError(
                f"Add inputs must have the same shape; received shapes "
                f"{', '.join(str(s) for s in shapes)}"
            )
        return shapes[0]


@attrs.frozen
class AvgPool2D(Layer):
    """Average pooling over non-overlapping `factor` x `factor` windows; the height and width
    must be multiples of `factor`."""

    kind: ClassVar[str] = "avg_pool2d"
    factor: int = attrs.field(validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        h, w, c = shape
        if h % self.factor or w % self.factor:
            raise InvalidArgumentError(
                f"AvgPool2D factor must divide the input's height and width {h}x{w}; "
                f"received {self.factor}"
            )
        return (h // self.factor, w // self.factor, c)


@attrs.frozen
class GlobalSumPool(Layer):
    """The sum over every position of an image: (H, W, C) -> (C,) (SNGAN's critic head)."""

    kind: ClassVar[str] = "global_sum_pool"

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        return (shape[-1],)


# -- stabilisers: spectral normalisation, minibatch statistics, self-attention ---------------


def _power_iteration_buffer(out: int) -> ParamSpec:
    return ParamSpec("u", (out,), trainable=False)


@attrs.frozen
class SpectralDense(Dense):
    """`Dense` with its kernel divided by its largest singular value (Miyato et al. 2018).

    With M the kernel as an (in, out) matrix and u the `u` buffer, every training forward
    runs one power iteration, v = normalize(M u), u <- normalize(M^T v), and uses
    sigma = u . (M^T v); inference uses the stored u, v = normalize(M u) and
    sigma = u . (M^T v). u and v carry no gradient (sigma's gradient is u v^T, as in
    PyTorch's `spectral_norm`); normalize(a) = a / max(||a||, 1e-12). The bias is not
    scaled. Parameters: `kernel` (in, units), `bias` (units,); buffer: `u` (units,), drawn
    from N(0, 1) and normalised at initialisation.
    """

    kind: ClassVar[str] = "spectral_dense"

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        return (*super().params(shapes), _power_iteration_buffer(self.units))


@attrs.frozen
class SpectralConv2D(Conv2D):
    """`Conv2D` with its kernel divided by its largest singular value, the (kh, kw, in, out)
    kernel read as an (kh * kw * in, out) matrix M; the power iteration is `SpectralDense`'s.
    Parameters: `kernel` (kh, kw, in, out), `bias` (out,); buffer: `u` (filters,).
    """

    kind: ClassVar[str] = "spectral_conv2d"

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        return (*super().params(shapes), _power_iteration_buffer(self.filters))


@attrs.frozen
class MinibatchStdDev(Layer):
    """The minibatch standard-deviation layer (Karras et al. 2018, ProGAN; StyleGAN2's
    grouping): (..., C) -> (..., C + channels).

    The batch of N splits into G = min(group_size, N) groups-of-rows: sample i is member
    i // (N / G) of group i % (N / G), so N must be a multiple of G. The C features split
    into `channels` slices of C / channels. For each group and slice: the standard
    deviation over the G members, sqrt(biased variance + 1e-8), of every feature, averaged
    over the features (and positions); that value is appended, broadcast over the
    positions, as one extra channel per slice. On images or flat features.
    """

    kind: ClassVar[str] = "minibatch_stddev"
    group_size: int = attrs.field(default=4, validator=_int_at_least(1))
    channels: int = attrs.field(default=1, validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (1, 3), "features, or height, width, channels")
        if shape[-1] % self.channels:
            raise InvalidArgumentError(
                f"MinibatchStdDev channels must divide the last axis of its input {shape}; "
                f"received {self.channels}"
            )
        return (*shape[:-1], shape[-1] + self.channels)


@attrs.frozen
class MinibatchDiscrimination(Layer):
    """Minibatch discrimination (Salimans et al. 2016): (A,) -> (A + kernels,).

    With the learned tensor T (A, kernels, dims), M_i = x_i T is (kernels, dims) per
    sample, and feature b of sample i is sum_j exp(-||M_i,b - M_j,b||_1) over the whole
    batch (j = i included, which adds 1). The features are appended to the input.
    Parameter: `kernel` (A, kernels, dims).
    """

    kind: ClassVar[str] = "minibatch_discrimination"
    kernels: int = attrs.field(validator=_int_at_least(1))
    dims: int = attrs.field(validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (1,), "features; add a Flatten first")
        return (shape[0] + self.kernels,)

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        a = shapes[0][0]
        shape = (a, self.kernels, self.dims)
        return (ParamSpec("kernel", shape, True, a, self.kernels * self.dims),)


@attrs.frozen
class SelfAttention(Layer):
    """Self-attention over the positions of an image (Zhang et al. 2019, SAGAN).

    With x the (H * W, C) positions of a sample and C' = max(C // reduction, 1):
    q = x Wq, k = x Wk, v = x Wv (H * W, C'), A = softmax(q k^T) over the keys (no
    scaling, as in the paper), y = x + scale * (A v) Wo. `scale` starts at 0, so the layer
    starts as the identity. Parameters: `query_kernel`, `key_kernel`, `value_kernel`
    (C, C'), `out_kernel` (C', C), `scale` (1,).
    """

    kind: ClassVar[str] = "self_attention"
    reduction: int = attrs.field(default=8, validator=_int_at_least(1))

    def output_shape(self, shapes: tuple[Shape, ...]) -> Shape:
        (shape,) = shapes
        _rank(self, shape, (3,), "height, width, channels")
        return shape

    def inner(self, channels: int) -> int:
        """C', the width of the queries, keys and values."""
        return max(channels // self.reduction, 1)

    def params(self, shapes: tuple[Shape, ...]) -> tuple[ParamSpec, ...]:
        c = shapes[0][-1]
        inner = self.inner(c)
        projections = tuple(
            ParamSpec(f"{role}_kernel", (c, inner), True, c, inner)
            for role in ("query", "key", "value")
        )
        return (*projections, ParamSpec("out_kernel", (inner, c), True, inner, c),
                ParamSpec("scale", (1,)))


LAYER_KINDS: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (
        Dense,
        Reshape,
        Flatten,
        Conv2D,
        ConvTranspose2D,
        BatchNorm,
        LayerNorm,
        InstanceNorm,
        Activation,
        Dropout,
        Embedding,
        Maxout,
        CategoricalCode,
        Upsample,
        Concat,
        Add,
        SpectralDense,
        SpectralConv2D,
        MinibatchStdDev,
        MinibatchDiscrimination,
        SelfAttention,
        AvgPool2D,
        GlobalSumPool,
    )
}


def layer_from_dict(d: dict[str, Any]) -> Layer:
    """The layer a `Layer.to_dict()` dict describes."""
    if not isinstance(d, dict) or d.get("kind") not in LAYER_KINDS:
        kinds = ", ".join(repr(k) for k in LAYER_KINDS)
        got = d.get("kind") if isinstance(d, dict) else d
        raise InvalidArgumentError(f"layer kind must be one of {kinds}; received {got!r}")
    fields = {k: v for k, v in d.items() if k != "kind"}
    cls = LAYER_KINDS[d["kind"]]
    try:
        return cls(**fields)
    except TypeError as e:
        names = ", ".join(_field_names(cls)) or "none"
        raise InvalidArgumentError(
            f"{cls.__name__} fields must be among ({names}); received {sorted(fields)}"
        ) from e
