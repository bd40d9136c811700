"""`cyclegan`: the U-Net generator and PatchGAN critic of the Keras CycleGAN, and the ResNet
generator of the CycleGAN paper."""

from __future__ import annotations

from collections.abc import Sequence

from gancore._errors import InvalidArgumentError
from gancore.architectures._blocks import chain, drop_cancelled_biases, same_pads
from gancore.architectures._checks import (
    check_int,
    check_int_pair,
    check_sample_shape,
    check_unlabelled,
    pair_name,
)
from gancore.architectures._pair import ArchitecturePair
from gancore.nn import (
    Activation,
    Add,
    Concat,
    Conv2D,
    ConvTranspose2D,
    GraphBuilder,
    InstanceNorm,
    NetworkSpec,
    Upsample,
)

__all__ = ["cyclegan"]

Shape = tuple[int, ...]

_KERNEL = 4


def _generator(name: str, shape: Shape, filters: int, depth: int) -> NetworkSpec:
    g = GraphBuilder(name, "glorot")
    h = g.input("x", shape)
    size = shape[:2]
    skips = []
    for level in range(depth):
        conv = Conv2D(filters * 2**level, _KERNEL, stride=2, padding=same_pads(size, _KERNEL, 2))
        h = chain(g, h, (conv, Activation("leaky_relu", 0.2), InstanceNorm()))
        size = (size[0] // 2, size[1] // 2)
        skips.append(h)
    for level in reversed(range(depth - 1)):
        size = (size[0] * 2, size[1] * 2)
        conv = Conv2D(filters * 2**level, _KERNEL, padding=same_pads(size, _KERNEL, 1))
        h = chain(g, h, (Upsample(2), conv, Activation("relu"), InstanceNorm()))
        h = g.add(Concat(), h, skips[level])
    conv = Conv2D(shape[2], _KERNEL, padding=same_pads(shape, _KERNEL, 1))
    return g.build(chain(g, h, (Upsample(2), conv, Activation("tanh"))))


def _resnet_generator(name: str, shape: Shape, filters: int, blocks: int) -> NetworkSpec:
    """Zhu et al. (2017), appendix 7.2: c7s1-64, d128, d256, `blocks` x R256, u128, u64,
    c7s1-3 (k7 s1, two k3 s2 downsamplings, residual blocks of two k3 convolutions, two k3
    s2 transposed convolutions), instance norm and ReLU, tanh at the end. Zero padding where
    the paper reflects (gancore's convolutions pad with zeros on every backend)."""
    g = GraphBuilder(name, "glorot")
    h = g.input("x", shape)
    h = chain(g, h, (Conv2D(filters, 7, padding=3), InstanceNorm(), Activation("relu")))
    for level in (1, 2):
        h = chain(g, h, (Conv2D(filters * 2**level, 3, stride=2, padding=1), InstanceNorm(),
                         Activation("relu")))
    width = filters * 4
    for _ in range(blocks):
        r = chain(g, h, (Conv2D(width, 3, padding=1), InstanceNorm(), Activation("relu"),
                         Conv2D(width, 3, padding=1), InstanceNorm()))
        h = g.add(Add(), h, r)
    for level in (1, 0):
        h = chain(g, h, (ConvTranspose2D(filters * 2**level, 3, stride=2, padding=1,
                                         output_padding=1), InstanceNorm(), Activation("relu")))
    return g.build(chain(g, h, (Conv2D(shape[2], 7, padding=3), Activation("tanh"))))


def _critic(name: str, shape: Shape, filters: int, depth: int) -> NetworkSpec:
    g = GraphBuilder(name, "glorot")
    h = g.input("x", shape)
    size = shape[:2]
    for level in range(depth):
        conv = Conv2D(filters * 2**level, _KERNEL, stride=2, padding=same_pads(size, _KERNEL, 2))
        norm = InstanceNorm() if level > 0 else None
        h = chain(g, h, (conv, Activation("leaky_relu", 0.2), norm))
        size = (size[0] // 2, size[1] // 2)
    return g.build(g.add(Conv2D(1, _KERNEL, padding=same_pads(size, _KERNEL, 1)), h))


def cyclegan(
    sample_shape: Sequence[int],
    *,
    latent_dim: int | None = None,
    num_classes: int | None = None,
    base_filters: int | Sequence[int] = (32, 64),
    depth: int = 4,
    generator: str = "unet",
    resnet_blocks: int | None = None,
) -> ArchitecturePair:
    """The CycleGAN of Langr and Bok, "GANs in Action" (2019), chapter 9 (the Keras CycleGAN
    after Erik Linder-Noren's Keras-GAN; Zhu et al. 2017). The generator maps an image of
    domain A to domain B; the trainer builds two copies of each spec with different seeds.

    U-Net generator (gf = 32): `depth` (4) downsampling blocks Conv2D k4 s2 -> LeakyReLU
    0.2 -> InstanceNorm at gf, 2gf, 4gf, 8gf filters; then per level back up Upsample(2) ->
    Conv2D k4 s1 -> ReLU -> InstanceNorm -> Concat with the skip of the same size at 4gf,
    2gf, gf; a final Upsample(2) -> Conv2D k4 s1 to the image's channels -> tanh.
    PatchGAN critic (df = 64): Conv2D k4 s2 -> LeakyReLU 0.2 (-> InstanceNorm from the
    second block on) at df, 2df, 4df, 8df, then Conv2D k4 s1 to 1 channel: a patch map of
    raw scores (side / 2**depth each way, 1). Keras "same" padding throughout: (1, 1, 1, 1)
    for k4 s2, (1, 2, 1, 2) for k4 s1. Glorot initialisation (Keras' default).

    `base_filters` is (gf, df), or one int for both; `depth` is the number of downsampling
    blocks in each network (small values give the tiny networks tests use). The image's
    height and width must be multiples of 2**depth.

    ``generator="resnet"`` takes the CycleGAN paper's ResNet generator instead (Zhu et al.
    2017, appendix 7.2: gf = 64 there; `resnet_blocks` residual blocks, default 6 below 256
    pixels a side and 9 from 256, as the paper uses), whose image sides must be multiples
    of 4.
    """
    shape = check_sample_shape("cyclegan", sample_shape, ranks=(3,))
    if latent_dim is not None:
        raise InvalidArgumentError(
            f"cyclegan latent_dim must be None (the generator maps images to images); "
            f"received {latent_dim!r}"
        )
    check_unlabelled("cyclegan", num_classes)
    gf, df = check_int_pair("cyclegan", "base_filters", base_filters)
    levels = check_int("cyclegan", "depth", depth)
    if generator not in ("unet", "resnet"):
        raise InvalidArgumentError(
            f"cyclegan generator must be 'unet' or 'resnet'; received {generator!r}")
    if resnet_blocks is not None and generator != "resnet":
        raise InvalidArgumentError(
            f"cyclegan resnet_blocks needs generator='resnet'; received resnet_blocks "
            f"{resnet_blocks!r} with generator {generator!r}")
    blocks = (check_int("cyclegan", "resnet_blocks", resnet_blocks)
              if resnet_blocks is not None else (9 if min(shape[:2]) >= 256 else 6))
    if generator == "resnet" and (shape[0] % 4 or shape[1] % 4):
        raise InvalidArgumentError(
            f"cyclegan sample_shape must have a height and width that are multiples of 4 for "
            f"the ResNet generator (two stride-2 downsamplings); received {shape}")
    step = 2**levels
    if shape[0] % step or shape[1] % step:
        raise InvalidArgumentError(
            f"cyclegan sample_shape must have a height and width that are multiples of "
            f"2**depth = {step} (depth {levels}), e.g. ({step}, {step}, {shape[2]}) or "
            f"({8 * step}, {8 * step}, {shape[2]}); received {shape}"
        )
    name = pair_name(
        "cyclegan",
        shape,
        "cyclegan",
        None,
        [("base_filters", (gf, df), (32, 64)), ("depth", levels, 4),
         ("generator", generator, "unet"),
         ("resnet_blocks", blocks if generator == "resnet" else None, None)],
    )
    spec = (_resnet_generator(f"{name}-generator", shape, gf, blocks) if generator == "resnet"
            else _generator(f"{name}-generator", shape, gf, levels))
    return ArchitecturePair(
        name=name,
        generator=drop_cancelled_biases(spec),
        critic=drop_cancelled_biases(_critic(f"{name}-critic", shape, df, levels)),
        latent_dim=None,
        num_classes=None,
        kind="cyclegan",
    )
