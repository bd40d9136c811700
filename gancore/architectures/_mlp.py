"""Fully connected pairs: `vanilla` (Raschka), `fc_bn` (the DCGAN lecture's 256-512-1024
generator) and `mlp` (a small generic pair for 1-D samples and fast tests)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gancore._errors import InvalidArgumentError
from gancore.architectures._blocks import (
    chain,
    critic_inputs,
    drop_cancelled_biases,
    generator_inputs,
)
from gancore.architectures._checks import (
    check_bool,
    check_choice,
    check_int,
    check_ints,
    check_latent_dim,
    check_sample_shape,
    pair_name,
    resolve_kind,
)
from gancore.architectures._conditional import label_features
from gancore.architectures._pair import ArchitecturePair
from gancore.nn import (
    Activation,
    BatchNorm,
    Concat,
    Dense,
    Dropout,
    Flatten,
    GraphBuilder,
    Layer,
    NetworkSpec,
    Reshape,
)

__all__ = ["dense_critic", "dense_generator", "dense_pair", "fc_bn", "mlp", "vanilla"]

Shape = tuple[int, ...]

_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")


def dense_generator(
    name: str,
    init: str,
    latent_dim: int,
    label_classes: int | None,
    hidden: Sequence[Layer | None],
    sample_shape: Shape,
    output_activation: str,
) -> NetworkSpec:
    """z (+ embedded labels, concatenated) -> `hidden` -> Dense(prod(sample_shape)) ->
    `output_activation` -> Reshape to `sample_shape` (when it is not flat already)."""
    g = GraphBuilder(name, init)
    z, labels = generator_inputs(g, latent_dim, label_classes is not None)
    h = z
    if labels is not None and label_classes is not None:
        h = g.add(Concat(), z, label_features(g, labels, label_classes))
    h = chain(g, h, hidden)
    h = g.add(Dense(math.prod(sample_shape)), h)
    if output_activation != "identity":
        h = g.add(Activation(output_activation), h)
    if len(sample_shape) > 1:
        h = g.add(Reshape(sample_shape), h)
    return g.build(h)


def dense_critic(
    name: str,
    init: str,
    input_shape: Shape,
    label_classes: int | None,
    hidden: Sequence[Layer | None],
    head_units: int,
) -> NetworkSpec:
    """x flattened (+ embedded labels, concatenated) -> `hidden` -> Dense(head_units) raw
    scores."""
    g = GraphBuilder(name, init)
    x, labels = critic_inputs(g, input_shape, label_classes is not None)
    h = x if len(input_shape) == 1 else g.add(Flatten(), x)
    if labels is not None and label_classes is not None:
        h = g.add(Concat(), h, label_features(g, labels, label_classes))
    h = chain(g, h, hidden)
    return g.build(g.add(Dense(head_units), h))


def dense_pair(
    builder: str,
    sample_shape: Shape,
    kind: str,
    num_classes: int | None,
    latent_dim: int,
    init: str,
    generator_hidden: Sequence[Layer | None],
    critic_hidden: Sequence[Layer | None],
    output_activation: str,
    options: Sequence[tuple[str, Any, Any]],
    packing: int = 1,
) -> ArchitecturePair:
    """A pair of `dense_generator` and `dense_critic`, named by `pair_name`; the labels go
    to both networks for "conditional", the critic ends in `num_classes` logits for
    "semi_supervised", and takes `packing` samples concatenated."""
    name = pair_name(builder, sample_shape, kind, num_classes, options)
    label_classes = num_classes if kind == "conditional" else None
    head = num_classes if kind == "semi_supervised" and num_classes is not None else 1
    critic_shape = (*sample_shape[:-1], sample_shape[-1] * packing)
    return ArchitecturePair(
        name=name,
        generator=drop_cancelled_biases(dense_generator(
            f"{name}-generator",
            init,
            latent_dim,
            label_classes,
            generator_hidden,
            sample_shape,
            output_activation,
        )),
        critic=dense_critic(
            f"{name}-critic", init, critic_shape, label_classes, critic_hidden, head
        ),
        latent_dim=latent_dim,
        num_classes=num_classes,
        kind=kind,
        packing=packing,
    )


def vanilla(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 20,
    num_classes: int | None = None,
    hidden: int = 100,
    layers: int = 1,
    semi_supervised: bool = False,
) -> ArchitecturePair:
    """The fully connected GAN of Raschka, Liu and Mirjalili, "Machine Learning with PyTorch
    and Scikit-Learn" (2022), chapter 17, for any sample shape.

    Generator: z (20) -> [Dense `hidden` (100) -> LeakyReLU 0.01] x `layers` ->
    Dense prod(sample_shape) -> tanh -> Reshape. Critic: Flatten -> [Dense `hidden`
    without bias -> LeakyReLU 0.01 -> Dropout 0.5] x `layers` -> Dense 1 (logits; the book's
    sigmoid belongs to the loss here). Glorot initialisation.

    `num_classes` gives the conditional variant (label embedding concatenated to z and to
    the flattened sample); with `semi_supervised=True` the critic ends in `num_classes`
    class logits instead.
    """
    shape = check_sample_shape("vanilla", sample_shape)
    latent = check_latent_dim("vanilla", latent_dim)
    kind = resolve_kind("vanilla", num_classes, semi_supervised)
    units = check_int("vanilla", "hidden", hidden)
    depth = check_int("vanilla", "layers", layers)
    return dense_pair(
        "vanilla",
        shape,
        kind,
        num_classes,
        latent,
        "glorot",
        [Dense(units), Activation("leaky_relu", 0.01)] * depth,
        [Dense(units, use_bias=False), Activation("leaky_relu", 0.01), Dropout(0.5)] * depth,
        "tanh",
        [("latent_dim", latent, 20), ("hidden", units, 100), ("layers", depth, 1)],
    )


def fc_bn(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 100,
    num_classes: int | None = None,
    semi_supervised: bool = False,
) -> ArchitecturePair:
    """The fully connected GAN with a batch-normalised generator of the DCGAN lecture slides
    (after Erik Linder-Noren's Keras-GAN `gan.py`), for any sample shape.

    Generator: z (100) -> [Dense n -> LeakyReLU 0.2 -> BatchNorm] for n = 256, 512, 1024 ->
    Dense prod(sample_shape) -> tanh -> Reshape. The batch norm momentum is Keras' 0.8,
    i.e. `BatchNorm(momentum=0.2)` in gancore's (PyTorch's) convention. Critic: Flatten ->
    Dense 512 -> LeakyReLU 0.2 -> Dense 256 -> LeakyReLU 0.2 -> Dense 1 (logits). Glorot
    initialisation (Keras' default).

    `num_classes` and `semi_supervised` as in `vanilla`.
    """
    shape = check_sample_shape("fc_bn", sample_shape)
    latent = check_latent_dim("fc_bn", latent_dim)
    kind = resolve_kind("fc_bn", num_classes, semi_supervised)
    generator_hidden: list[Layer | None] = []
    for units in (256, 512, 1024):
        generator_hidden += [Dense(units), Activation("leaky_relu", 0.2), BatchNorm(momentum=0.2)]
    critic_hidden: list[Layer | None] = []
    for units in (512, 256):
        critic_hidden += [Dense(units), Activation("leaky_relu", 0.2)]
    return dense_pair(
        "fc_bn",
        shape,
        kind,
        num_classes,
        latent,
        "glorot",
        generator_hidden,
        critic_hidden,
        "tanh",
        [("latent_dim", latent, 100)],
    )


def mlp(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 8,
    num_classes: int | None = None,
    hidden: int | Sequence[int] = (64, 64),
    activation: str = "leaky_relu",
    batch_norm: bool = False,
    output_activation: str = "identity",
    semi_supervised: bool = False,
    packing: int = 1,
) -> ArchitecturePair:
    """A generic fully connected pair for 1-D samples (2-D points, features); small and
    fast, for tests and toy problems.

    Generator: z -> [Dense h -> BatchNorm (if `batch_norm`) -> `activation`] for h in
    `hidden` -> Dense d -> `output_activation` (linear by default, for points). Critic:
    x -> [Dense h -> `activation`] for h in `hidden` -> Dense 1 (logits); the critic never
    gets batch norm (it would break gradient penalties). LeakyReLU has slope 0.2. With
    `packing` m > 1 (unconditional only) the critic takes m samples concatenated, (d * m,)
    (PacGAN). Glorot
    initialisation.

    `num_classes` and `semi_supervised` as in `vanilla`.
    """
    shape = check_sample_shape("mlp", sample_shape, ranks=(1,))
    latent = check_latent_dim("mlp", latent_dim)
    kind = resolve_kind("mlp", num_classes, semi_supervised)
    sizes = check_ints("mlp", "hidden", hidden)
    act = check_choice("mlp", "activation", activation, _ACTIVATIONS)
    out_act = check_choice("mlp", "output_activation", output_activation, _ACTIVATIONS)
    bn = check_bool("mlp", "batch_norm", batch_norm)
    m = check_int("mlp", "packing", packing)
    if m > 1 and kind != "gan":
        raise InvalidArgumentError(
            f"mlp packing must be 1 with num_classes (a packed group has no single label); "
            f"received {m}"
        )
    nonlinearity = Activation(act, 0.2)
    generator_hidden: list[Layer | None] = []
    critic_hidden: list[Layer | None] = []
    for units in sizes:
        generator_hidden += [Dense(units), BatchNorm() if bn else None, nonlinearity]
        critic_hidden += [Dense(units), nonlinearity]
    return dense_pair(
        "mlp",
        shape,
        kind,
        num_classes,
        latent,
        "glorot",
        generator_hidden,
        critic_hidden,
        out_act,
        [
            ("latent_dim", latent, 8),
            ("hidden", sizes, (64, 64)),
            ("activation", act, "leaky_relu"),
            ("batch_norm", bn, False),
            ("output_activation", out_act, "identity"),
            ("packing", m, 1),
        ],
        packing=m,
    )
