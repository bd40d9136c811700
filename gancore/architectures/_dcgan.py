"""`dcgan`: deep convolutional GANs (Radford, Metz and Chintala 2015) sized from the image.

One plan per supported image side says what the generator projects z to, the layers after
the projection and the critic's convolutions; `dcgan` wires the plan into a plain,
conditional or semi-supervised pair. Transposed convolutions use PyTorch's padding /
output_padding so that each one doubles the size; where a Keras source used "same", the
output sizes match but TensorFlow would crop the extra row at the other edge (a one-pixel
shift of the learned filters, no difference in what the network can learn).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import attrs

from gancore._errors import InvalidArgumentError
from gancore.architectures._blocks import (
    chain,
    critic_inputs,
    drop_cancelled_biases,
    generator_inputs,
    same_pads,
)
from gancore.architectures._checks import (
    check_bool,
    check_choice,
    check_latent_dim,
    check_sample_shape,
    pair_name,
    resolve_kind,
)
from gancore.architectures._conditional import label_map
from gancore.architectures._pair import ArchitecturePair
from gancore.nn import (
    Activation,
    BatchNorm,
    Concat,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    Flatten,
    GraphBuilder,
    InstanceNorm,
    Layer,
    LayerNorm,
    MinibatchStdDev,
    NetworkSpec,
    Reshape,
    SelfAttention,
    SpectralConv2D,
    SpectralDense,
)

__all__ = ["CRITIC_NORMS", "DCGAN_SIDES", "MIN_SIDE", "dcgan"]

#: Normalisations the critic can use: batch norm (DCGAN), or none / layer / instance norm
#: for a gradient penalty, which batch norm breaks (Gulrajani et al. 2017, section 4).
CRITIC_NORMS = ("batch", "layer", "instance", "none")


@attrs.frozen
class _Plan:
    init: str
    base: tuple[int, int, int]  # (h0, w0, c0) the generator projects z to
    stem: tuple[Layer, ...]  # unconditional generator: after Reshape(base)
    generator: tuple[Layer, ...]  # from base to the image
    critic: tuple[Layer | None, ...]  # from the image to the last feature map
    # self-attention goes after these many layers, where the maps are half the image side
    generator_attention: int
    critic_attention: int


def _leaky(slope: float) -> Activation:
    return Activation("leaky_relu", slope)


def _plan_8(channels: int, norm: Layer | None) -> _Plan:
    # Small enough to train on the 8x8 digits in a few CPU minutes.
    return _Plan(
        init="dcgan",
        base=(2, 2, 128),
        stem=(BatchNorm(), _leaky(0.2)),
        generator=(
            ConvTranspose2D(64, 4, stride=2, padding=1),
            BatchNorm(),
            _leaky(0.2),
            ConvTranspose2D(channels, 4, stride=2, padding=1),
            Activation("tanh"),
        ),
        critic=(
            Conv2D(64, 4, stride=2, padding=1),
            _leaky(0.2),
            Conv2D(128, 4, stride=2, padding=1),
            norm,
            _leaky(0.2),
        ),
        generator_attention=3,
        critic_attention=2,
    )


def _plan_28(channels: int, norm: Layer | None) -> _Plan:
    # GANs in Action ch. 4; Keras "same" convolutions: 28 -> 14 -> 7 -> 4.
    return _Plan(
        init="glorot",
        base=(7, 7, 256),
        stem=(),
        generator=(
            ConvTranspose2D(128, 3, stride=2, padding=1, output_padding=1),
            BatchNorm(),
            _leaky(0.01),
            ConvTranspose2D(64, 3, stride=1, padding=1),
            BatchNorm(),
            _leaky(0.01),
            ConvTranspose2D(channels, 3, stride=2, padding=1, output_padding=1),
            Activation("tanh"),
        ),
        critic=(
            Conv2D(32, 3, stride=2, padding=same_pads((28, 28), 3, 2)),
            _leaky(0.01),
            Conv2D(64, 3, stride=2, padding=same_pads((14, 14), 3, 2)),
            norm,
            _leaky(0.01),
            Conv2D(128, 3, stride=2, padding=same_pads((7, 7), 3, 2)),
            norm,
            _leaky(0.01),
        ),
        generator_attention=3,
        critic_attention=2,
    )


def _plan_32(channels: int, norm: Layer | None) -> _Plan:
    # The CIFAR-10 DCGAN: 4 -> 8 -> 16 -> 32 with k4 s2 p1.
    generator: list[Layer] = []
    for filters in (256, 128, 64):
        generator += [
            ConvTranspose2D(filters, 4, stride=2, padding=1),
            BatchNorm(),
            Activation("relu"),
        ]
    critic: list[Layer | None] = [Conv2D(64, 4, stride=2, padding=1), _leaky(0.2)]
    for filters in (128, 256):
        critic += [Conv2D(filters, 4, stride=2, padding=1), norm, _leaky(0.2)]
    return _Plan(
        init="dcgan",
        base=(4, 4, 512),
        stem=(BatchNorm(), Activation("relu")),
        generator=(*generator, Conv2D(channels, 3, padding=1), Activation("tanh")),
        critic=tuple(critic),
        generator_attention=6,
        critic_attention=2,
    )


def _plan_64(channels: int, norm: Layer | None) -> _Plan:
    # The flowers DCGAN: 5x5 kernels, stride 2, TF "same" (1, 2, 1, 2) in the critic.
    generator: list[Layer] = []
    for filters in (512, 256, 128):
        generator += [
            ConvTranspose2D(filters, 5, stride=2, padding=2, output_padding=1),
            BatchNorm(),
            Activation("relu"),
        ]
    critic: list[Layer | None] = [
        Dropout(0.2),
        Conv2D(64, 5, stride=2, padding=same_pads((64, 64), 5, 2)),
        _leaky(0.2),
    ]
    for side, filters in ((32, 128), (16, 256), (8, 512)):
        critic += [Conv2D(filters, 5, stride=2, padding=same_pads((side, side), 5, 2)), norm]
        critic.append(_leaky(0.2))
    return _Plan(
        init="dcgan",
        base=(4, 4, 1024),
        stem=(BatchNorm(), Activation("relu")),
        generator=(
            *generator,
            ConvTranspose2D(channels, 5, stride=2, padding=2, output_padding=1),
            Activation("tanh"),
        ),
        critic=tuple(critic),
        generator_attention=9,
        critic_attention=3,
    )


def _sides_to(side: int) -> list[int]:
    """The map sides from the generator's base to `side`: each one halved (an odd one
    rounded up) until it is at most 7."""
    sides = [side]
    while sides[-1] > 7:
        sides.append((sides[-1] + 1) // 2)
    return sides[::-1]


def _resize_conv(small: int, large: int, filters: int, transposed: bool) -> Layer:
    # k4 s2 p1 doubles a side (and halves an even one); k3 s2 p1 maps n to 2n - 1 (and an
    # odd 2n - 1 back to n).
    kernel = 4 if large == 2 * small else 3
    if transposed:
        return ConvTranspose2D(filters, kernel, stride=2, padding=1)
    return Conv2D(filters, kernel, stride=2, padding=1)


def _plan_any(side: int, channels: int, norm: Layer | None) -> _Plan:
    # Any other side: the CIFAR-10 plan's shape, as many doublings as the side needs.
    sides = _sides_to(side)
    widths = [min(512, 64 * 2 ** i) for i in range(len(sides))][::-1]  # base ... image
    generator: list[Layer] = []
    for small, large, filters in zip(sides, sides[1:], widths[1:], strict=False):
        generator += [_resize_conv(small, large, filters, True), BatchNorm(),
                      Activation("relu")]
    critic: list[Layer | None] = []
    for i, (large, small) in enumerate(zip(sides[::-1], sides[-2::-1], strict=False)):
        critic += [_resize_conv(small, large, widths[::-1][i], False),
                   None if i == 0 else norm, _leaky(0.2)]
    if not critic:  # a side of 4 to 7: one convolution that keeps it
        critic = [Conv2D(64, 3, padding=1), _leaky(0.2)]
    return _Plan(
        init="dcgan",
        base=(sides[0], sides[0], widths[0]),
        stem=(BatchNorm(), Activation("relu")),
        generator=(*generator, Conv2D(channels, 3, padding=1), Activation("tanh")),
        critic=tuple(critic),
        generator_attention=max(0, 3 * (len(sides) - 2)),
        critic_attention=3 if len(sides) > 1 else 2,
    )


_PLANS: dict[int, Callable[[int, Layer | None], _Plan]] = {
    8: _plan_8,
    28: _plan_28,
    32: _plan_32,
    64: _plan_64,
}

#: Image sides with a plan of their own (a book's network); every other side from
#: `MIN_SIDE` on gets the generic plan (`dcgan`).
DCGAN_SIDES = tuple(_PLANS)
#: The smallest image side `dcgan` builds.
MIN_SIDE = 4


def _critic_norm(norm: str) -> Layer | None:
    return {"batch": BatchNorm(), "layer": LayerNorm(), "instance": InstanceNorm()}.get(norm)


@attrs.frozen
class _Stabilisers:
    attention: bool = False
    dropout: float = 0.0
    input_dropout: float | None = None
    spectral_norm: bool = False
    minibatch_stddev: bool = False


def _rate(arg: str, value: object, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        wanted = "None or a number" if allow_none else "a number"
        raise InvalidArgumentError(f"dcgan {arg} must be {wanted} in [0, 1); received {value!r}")
    return float(value)


def _stabilised(plan: _Plan, opts: _Stabilisers) -> _Plan:
    """The plan with self-attention at half the image side, the critic's dropout after its
    hidden activations (and on its input), spectral convolutions and a minibatch stddev
    before the critic's last convolution, as asked."""
    generator = list(plan.generator)
    if opts.attention:
        generator.insert(plan.generator_attention, SelfAttention())
    critic: list[Layer | None] = []
    if opts.input_dropout and not isinstance(plan.critic[0], Dropout):
        critic.append(Dropout(opts.input_dropout))
    for i, layer in enumerate(plan.critic):
        if i == plan.critic_attention and opts.attention:
            critic.append(SelfAttention())
        if i == 0 and isinstance(layer, Dropout) and opts.input_dropout is not None:
            layer = Dropout(opts.input_dropout) if opts.input_dropout else None
        if isinstance(layer, Conv2D) and opts.spectral_norm:
            layer = SpectralConv2D(**attrs.asdict(layer))
        critic.append(layer)
        if isinstance(layer, Activation) and opts.dropout:
            critic.append(Dropout(opts.dropout))
    if opts.minibatch_stddev:
        last = max(i for i, layer in enumerate(critic) if isinstance(layer, Conv2D))
        critic.insert(last, MinibatchStdDev())
    return attrs.evolve(plan, generator=tuple(generator), critic=tuple(critic))


def _generator(name: str, plan: _Plan, latent_dim: int, label_classes: int | None) -> NetworkSpec:
    g = GraphBuilder(name, plan.init)
    z, labels = generator_inputs(g, latent_dim, label_classes is not None)
    h0, w0, c0 = plan.base
    h = g.add(Dense(h0 * w0 * c0), z)
    if labels is None or label_classes is None:
        h = chain(g, g.add(Reshape(plan.base), h), plan.stem)
    else:
        # Brownlee's cGAN: LeakyReLU 0.2 on the projection, then the label channel joins.
        h = g.add(Reshape(plan.base), g.add(_leaky(0.2), h))
        h = g.add(Concat(), h, label_map(g, labels, label_classes, h0, w0))
    return g.build(chain(g, h, plan.generator))


def _critic(
    name: str, plan: _Plan, image_shape: tuple[int, ...], label_classes: int | None, head: int,
    spectral: bool = False,
) -> NetworkSpec:
    g = GraphBuilder(name, plan.init)
    x, labels = critic_inputs(g, image_shape, label_classes is not None)
    h = x
    if labels is not None and label_classes is not None:
        height, width, _ = image_shape
        h = g.add(Concat(), x, label_map(g, labels, label_classes, height, width))
    h = g.add(Flatten(), chain(g, h, plan.critic))
    return g.build(g.add((SpectralDense if spectral else Dense)(head), h))


def dcgan(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 100,
    num_classes: int | None = None,
    norm: str = "batch",
    semi_supervised: bool = False,
    attention: bool = False,
    dropout: float = 0.0,
    input_dropout: float | None = None,
    spectral_norm: bool = False,
    minibatch_stddev: bool = False,
) -> ArchitecturePair:
    """A DCGAN for square NHWC images of any side from 4 (any channel count), tanh output
    in [-1, 1], critic logits of shape (1,). Sides 8, 28, 32 and 64 have the books'
    networks below; every other side gets the 32x32 network's shape with as many
    up-samplings as it needs.

    - 8x8 (scikit-learn's digits, the default of `gancore train`): a small DCGAN that
      trains in a few CPU minutes. Generator z -> Dense 2*2*128 -> Reshape -> BatchNorm ->
      LeakyReLU 0.2 -> ConvT 64 k4 s2 p1 (4x4) -> BatchNorm -> LeakyReLU 0.2 ->
      ConvT channels k4 s2 p1 (8x8) -> tanh. Critic Conv 64 k4 s2 p1 (4x4) -> LeakyReLU
      0.2 -> Conv 128 k4 s2 p1 (2x2) -> norm -> LeakyReLU 0.2 -> Flatten -> Dense 1.
      N(0, 0.02) initialisation.
    - 28x28: the DCGAN of Langr and Bok, "GANs in Action" (2019), chapter 4. Generator
      Dense 256*7*7 -> Reshape 7x7x256 -> ConvT 128 k3 s2 (14x14) -> BatchNorm ->
      LeakyReLU 0.01 -> ConvT 64 k3 s1 -> BatchNorm -> LeakyReLU 0.01 -> ConvT channels
      k3 s2 (28x28) -> tanh. Critic Conv 32 k3 s2 -> LeakyReLU 0.01 -> Conv 64 k3 s2 ->
      norm -> LeakyReLU 0.01 -> Conv 128 k3 s2 -> norm -> LeakyReLU 0.01 -> Flatten ->
      Dense 1, with Keras "same" padding (28 -> 14 -> 7 -> 4: pads (0, 1, 0, 1),
      (0, 1, 0, 1), (1, 1, 1, 1)). Glorot initialisation (Keras' default).
    - 32x32: the CIFAR-10 DCGAN. Generator Dense 4*4*512 -> Reshape -> BatchNorm -> ReLU
      -> [ConvT n k4 s2 p1 -> BatchNorm -> ReLU] for n = 256, 128, 64 -> Conv channels k3
      p1 -> tanh. Critic Conv 64 k4 s2 p1 -> LeakyReLU 0.2 -> [Conv n k4 s2 p1 -> norm ->
      LeakyReLU 0.2] for n = 128, 256 -> Flatten -> Dense 1. N(0, 0.02) initialisation.
    - 64x64: the flowers DCGAN (Radford et al.'s 4x4x1024 projection). Generator Dense
      4*4*1024 -> Reshape -> BatchNorm -> ReLU -> [ConvT n k5 s2 -> BatchNorm -> ReLU] for
      n = 512, 256, 128 -> ConvT channels k5 s2 -> tanh. Critic Dropout 0.2 on the input
      -> Conv 64 k5 s2 -> LeakyReLU 0.2 -> [Conv n k5 s2 -> norm -> LeakyReLU 0.2] for
      n = 128, 256, 512 (TF "same" pads (1, 2, 1, 2)) -> Flatten -> Dense 1. N(0, 0.02)
      initialisation.
    - any other side s >= 4: the sides from a base b <= 7 to s, each the next one halved
      (rounded up), e.g. 48: 6 -> 12 -> 24 -> 48 and 100: 7 -> 13 -> 25 -> 50 -> 100.
      Generator Dense b*b*w0 -> Reshape -> BatchNorm -> ReLU -> [ConvT n s2 p1 -> BatchNorm
      -> ReLU] per step (k4 where the side doubles, k3 where it becomes 2n - 1) -> Conv
      channels k3 p1 -> tanh; widths 64 at the image side, doubling towards the base, at
      most 512. Critic the mirror: [Conv n s2 p1 -> norm (not on the first) -> LeakyReLU
      0.2] from 64 wide, doubling, at most 512 (one Conv 64 k3 p1 for sides 4 to 7) ->
      Flatten -> Dense 1. N(0, 0.02) initialisation.

    Batch norms use PyTorch's defaults (momentum 0.1, eps 1e-5).

    Options: `norm` is the critic's normalisation, "batch" (DCGAN), or "layer",
    "instance" or "none" for WGAN-GP, whose per-sample gradient penalty batch norm breaks.
    `num_classes` gives the conditional variant (Brownlee's cGANs): the critic gets the
    label as an extra image channel (Embedding 50 -> Dense H*W -> Reshape), the generator
    projects z with Dense + LeakyReLU 0.2 and joins a label channel at the base size.
    `semi_supervised=True` (with `num_classes`) keeps the generator unconditional and
    ends the critic in `num_classes` class logits (Salimans et al. 2016).

    Stabilisers: `attention=True` adds a SelfAttention layer (SAGAN, reduction 8) to both
    networks where their maps are half the image side; `dropout` is the rate of a Dropout
    after each of the critic's hidden activations (0: none); `input_dropout` the rate of
    one on the critic's input (None: the plan's, 0.2 at 64x64 and none elsewhere);
    `spectral_norm=True` makes the critic's convolutions and head spectrally normalised
    (Miyato et al. 2018); `minibatch_stddev=True` appends a MinibatchStdDev channel
    (group 4, ProGAN) before the critic's last convolution, so batches must then be
    multiples of 4 (or smaller than 4).
    """
    shape = check_sample_shape("dcgan", sample_shape, ranks=(3,))
    height, width, channels = shape
    if height != width or height < MIN_SIDE:
        raise InvalidArgumentError(
            f"dcgan sample_shape must be (side, side, channels) with a side >= {MIN_SIDE} "
            f"(square images: resize others, e.g. image_folder's size); received {shape}"
        )
    latent = check_latent_dim("dcgan", latent_dim)
    kind = resolve_kind("dcgan", num_classes, semi_supervised)
    norm = check_choice("dcgan", "norm", norm, CRITIC_NORMS)
    opts = _Stabilisers(
        attention=check_bool("dcgan", "attention", attention),
        dropout=_rate("dropout", dropout) or 0.0,
        input_dropout=_rate("input_dropout", input_dropout, allow_none=True),
        spectral_norm=check_bool("dcgan", "spectral_norm", spectral_norm),
        minibatch_stddev=check_bool("dcgan", "minibatch_stddev", minibatch_stddev),
    )
    plan_of = _PLANS.get(height) or functools.partial(_plan_any, height)
    plan = _stabilised(plan_of(channels, _critic_norm(norm)), opts)
    name = pair_name(
        "dcgan", shape, kind, num_classes,
        [("latent_dim", latent, 100), ("norm", norm, "batch"),
         *((f, getattr(opts, f), d) for f, d in attrs.asdict(_Stabilisers()).items())],
    )
    label_classes = num_classes if kind == "conditional" else None
    head = num_classes if kind == "semi_supervised" and num_classes is not None else 1
    return ArchitecturePair(
        name=name,
        generator=drop_cancelled_biases(
            _generator(f"{name}-generator", plan, latent, label_classes)
        ),
        critic=drop_cancelled_biases(
            _critic(f"{name}-critic", plan, shape, label_classes, head, opts.spectral_norm)
        ),
        latent_dim=latent,
        num_classes=num_classes,
        kind=kind,
    )
