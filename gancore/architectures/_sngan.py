"""`sngan`: the ResNet generator and critic of SNGAN (Miyato et al. 2018, appendix B.4),
the critic spectrally normalised, for square images of side 8 to 64.

The generator projects z to 4x4 and doubles the size with one residual up-block per
octave; the critic halves it with residual down-blocks to 8x8 (4x4 for 8x8 images), then
runs two residual blocks at that size, a ReLU, a sum over the positions and a spectrally
normalised dense head.
"""

from __future__ import annotations

from collections.abc import Sequence

from gancore.architectures._blocks import chain, drop_cancelled_biases
from gancore.architectures._checks import (
    check_bool,
    check_int_pair,
    check_latent_dim,
    check_square_image,
    check_unlabelled,
    pair_name,
)
from gancore.architectures._pair import ArchitecturePair
from gancore.nn import (
    Activation,
    Add,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    GlobalSumPool,
    GraphBuilder,
    Layer,
    NetworkSpec,
    Reshape,
    SpectralConv2D,
    SpectralDense,
    Upsample,
)

__all__ = ["SNGAN_SIDES", "sngan"]

#: Image sides `sngan` supports (square images, any channel count).
SNGAN_SIDES = (8, 16, 32, 64)

_RELU = Activation("relu")


def _generator(name: str, side: int, channels: int, latent_dim: int, width: int) -> NetworkSpec:
    g = GraphBuilder(name, "glorot")
    h = g.add(Reshape((4, 4, width)), g.add(Dense(4 * 4 * width), g.input("z", (latent_dim,))))
    size = 4
    while size < side:  # a residual up-block per octave
        body = chain(g, h, [BatchNorm(), _RELU, Upsample(2), Conv2D(width, 3, padding=1),
                            BatchNorm(), _RELU, Conv2D(width, 3, padding=1)])
        skip = chain(g, h, [Upsample(2), Conv2D(width, 1)])
        h = g.add(Add(), body, skip)
        size *= 2
    return g.build(chain(g, h, [BatchNorm(), _RELU, Conv2D(channels, 3, padding=1),
                                Activation("tanh")]))


def _critic(name: str, shape: tuple[int, int, int], width: int, spectral: bool) -> NetworkSpec:
    conv = SpectralConv2D if spectral else Conv2D
    dense = SpectralDense if spectral else Dense

    def convs(pre: Sequence[Layer]) -> list[Layer]:
        return [*pre, conv(width, 3, padding=1), _RELU, conv(width, 3, padding=1)]

    g = GraphBuilder(name, "glorot")
    x = g.input("x", shape)
    # The first block has no ReLU before its first conv, and pools before its shortcut conv.
    h = g.add(Add(), chain(g, x, [*convs(()), AvgPool2D(2)]),
              chain(g, x, [AvgPool2D(2), conv(width, 1)]))
    size = shape[0] // 2
    while size > 8:
        h = g.add(Add(), chain(g, h, [*convs((_RELU,)), AvgPool2D(2)]),
                  chain(g, h, [conv(width, 1), AvgPool2D(2)]))
        size //= 2
    for _ in range(2):
        h = g.add(Add(), chain(g, h, convs((_RELU,))), h)
    return g.build(chain(g, h, [_RELU, GlobalSumPool(), dense(1)]))


def sngan(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 128,
    num_classes: int | None = None,
    widths: int | Sequence[int] = (256, 128),
    spectral_norm: bool = True,
) -> ArchitecturePair:
    """SNGAN's ResNet pair for square NHWC images of side 8, 16, 32 or 64 (any channel
    count): tanh output in [-1, 1], critic logits of shape (1,), glorot initialisation.

    - Generator: z -> Dense 4*4*w -> Reshape -> [up-block] per octave -> BatchNorm ->
      ReLU -> Conv channels k3 p1 -> tanh. An up-block is BatchNorm -> ReLU -> Upsample 2
      -> Conv w k3 -> BatchNorm -> ReLU -> Conv w k3, plus the shortcut Upsample 2 ->
      Conv w k1.
    - Critic (spectral convolutions and head, unless `spectral_norm=False`): a first
      block Conv k3 -> ReLU -> Conv k3 -> AvgPool 2 plus AvgPool 2 -> Conv k1; down-blocks
      ReLU -> Conv k3 -> ReLU -> Conv k3 -> AvgPool 2 plus Conv k1 -> AvgPool 2 until 8x8;
      two blocks ReLU -> Conv k3 -> ReLU -> Conv k3 plus the identity; ReLU -> sum over
      positions -> Dense 1. 32x32 is the paper's CIFAR-10 network.

    `widths` is the channel count of every block, (generator, critic) or one int for both
    (the paper's 256 and 128). `num_classes` must be None (no conditional variant).
    """
    shape = check_square_image("sngan", sample_shape, tuple(SNGAN_SIDES))
    height, width, channels = shape
    latent = check_latent_dim("sngan", latent_dim)
    check_unlabelled("sngan", num_classes)
    g_width, c_width = check_int_pair("sngan", "widths", widths)
    spectral = check_bool("sngan", "spectral_norm", spectral_norm)
    name = pair_name("sngan", shape, "gan", None, [
        ("latent_dim", latent, 128), ("widths", (g_width, c_width), (256, 128)),
        ("spectral_norm", spectral, True)])
    return ArchitecturePair(
        name=name,
        generator=drop_cancelled_biases(
            _generator(f"{name}-generator", height, channels, latent, g_width)),
        critic=_critic(f"{name}-critic", (height, width, channels), c_width, spectral),
        latent_dim=latent,
    )
