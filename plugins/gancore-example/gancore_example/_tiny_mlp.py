"""`tiny_mlp`: a portable fully connected pair, described once with `gancore.nn` layers.

gancore builds the specs natively on every backend (PyTorch, TensorFlow) and initialises
their parameters in numpy from one seed, so the same seed gives the same network everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gancore.architectures import ArchitecturePair
from gancore.nn import Activation, Dense, Flatten, GraphBuilder, NetworkSpec, Reshape
from gancore_example._checks import check_options, check_positive_int, check_sample_shape

__all__ = ["tiny_mlp"]

Shape = tuple[int, ...]


def _generator(name: str, latent_dim: int, hidden: int, sample_shape: Shape) -> NetworkSpec:
    g = GraphBuilder(name, "glorot")
    h = g.input("z", (latent_dim,))
    for _ in range(2):
        h = g.add(Activation("leaky_relu", 0.2), g.add(Dense(hidden), h))
    h = g.add(Dense(math.prod(sample_shape)), h)
    if len(sample_shape) == 3:
        # Images cross gancore's API in [-1, 1]; points (vectors) stay unbounded.
        h = g.add(Activation("tanh"), h)
        h = g.add(Reshape(sample_shape), h)
    return g.build(h)


def _critic(name: str, hidden: int, sample_shape: Shape) -> NetworkSpec:
    g = GraphBuilder(name, "glorot")
    h = g.input("x", sample_shape)
    if len(sample_shape) > 1:
        h = g.add(Flatten(), h)
    for _ in range(2):
        h = g.add(Activation("leaky_relu", 0.2), g.add(Dense(hidden), h))
    # Raw scores (logits): the loss applies any sigmoid.
    return g.build(g.add(Dense(1), h))


def tiny_mlp(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 16,
    num_classes: int | None = None,
    hidden: int = 64,
    **options: Any,
) -> ArchitecturePair:
    """A small unconditional fully connected GAN for any sample shape.

    Generator: z (`latent_dim`) -> [Dense `hidden` -> LeakyReLU 0.2] x 2 ->
    Dense prod(sample_shape) -> (tanh -> Reshape for NHWC images). Critic: (Flatten for
    images) -> [Dense `hidden` -> LeakyReLU 0.2] x 2 -> Dense 1 logits. Glorot
    initialisation.

    `sample_shape` is `(features,)` for points or `(h, w, c)` for NHWC images. The builder
    has gancore's architecture signature; it is unconditional, so `num_classes` must be
    None, and it takes no options besides `hidden`.
    """
    shape = check_sample_shape("tiny_mlp", sample_shape)
    latent = check_positive_int("tiny_mlp", "latent_dim", latent_dim)
    units = check_positive_int("tiny_mlp", "hidden", hidden)
    check_options("tiny_mlp", num_classes, options)
    name = f"tiny_mlp-{'x'.join(map(str, shape))}-z{latent}-h{units}"
    return ArchitecturePair(
        name=name,
        generator=_generator(f"{name}-generator", latent, units, shape),
        critic=_critic(f"{name}-critic", units, shape),
        latent_dim=latent,
    )
