"""`pacgan_mlp`: the 2-D Gaussian-mixture networks of PacGAN (Lin et al., NeurIPS 2018)."""

from __future__ import annotations

from collections.abc import Sequence

from gancore._errors import InvalidArgumentError
from gancore.architectures._checks import (
    check_int,
    check_int_pair,
    check_latent_dim,
    check_sample_shape,
    check_unlabelled,
)
from gancore.architectures._mlp import dense_pair
from gancore.architectures._pair import ArchitecturePair
from gancore.nn import (
    Activation,
    BatchNorm,
    CategoricalCode,
    Dense,
    Layer,
    Maxout,
    MinibatchDiscrimination,
)

__all__ = ["pacgan_mlp"]


def pacgan_mlp(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 2,
    num_classes: int | None = None,
    hidden: int | Sequence[int] = (400, 200),
    layers: int | Sequence[int] = (4, 3),
    pieces: int = 5,
    packing: int = 1,
    categories: int = 0,
    minibatch_discrimination: int = 0,
    minibatch_dims: int = 5,
) -> ArchitecturePair:
    """PacGAN's networks for the 2-D ring and grid mixtures (Lin, Khetan, Fanti and Oh,
    "PacGAN: The power of two samples in generative adversarial networks", NeurIPS 2018;
    constants from the public code, fjxmlzn/PacGAN, `synthetic_data_experiments`).

    Generator: z (2-D standard normal) -> [Dense 400 without bias -> BatchNorm -> ReLU] x 4
    -> Dense 2 (linear). The batch norm keeps PacGAN's population-statistics update
    (`0.95 * old + 0.05 * new`: momentum 0.05) and Blocks' epsilon 1e-4. Critic: [Dense
    200 * 5 -> Maxout(5)] x 3 -> Dense 1 (logits). Weights N(0, 0.02), biases 0 (gancore's
    "dcgan" initialisation, as in PacGAN's config).

    `hidden` and `layers` are (generator, critic) pairs, or one int for both; `pieces` is
    the maxout's piece count. `packing` m >= 1 makes the critic take m samples
    concatenated, shape (2 * m,); the trainer packs them.

    `categories` K >= 2 adds a uniform categorical code to the generator's noise: the
    architecture's noise grows to `latent_dim + K` Gaussian features, of which the last K
    become the one-hot of their argmax (`CategoricalCode`) before the first layer. Disjoint
    categories let the generator reach disjoint modes without a continuous bridge of
    samples between them. 0 (PacGAN's generator) adds none.

    `minibatch_discrimination` B >= 1 puts minibatch discrimination (Salimans et al.,
    "Improved techniques for training GANs", NeurIPS 2016; `MinibatchDiscrimination`)
    between the critic's last maxout and its head: B features, each a sum over the batch of
    exp(-L1 distance) between `minibatch_dims`-dimensional projections (default 5, as in
    the authors' code, openai/improved-gan), so a sample's score depends on the rest of its
    batch and a batch of near copies scores apart from a varied one. 0 (PacGAN's critic)
    adds none; `minibatch_dims` is then left at 5.
    """
    shape = check_sample_shape("pacgan_mlp", sample_shape, ranks=(1,))
    latent = check_latent_dim("pacgan_mlp", latent_dim)
    check_unlabelled("pacgan_mlp", num_classes)
    gen_units, critic_units = check_int_pair("pacgan_mlp", "hidden", hidden)
    gen_layers, critic_layers = check_int_pair("pacgan_mlp", "layers", layers, low=0)
    k = check_int("pacgan_mlp", "pieces", pieces)
    m = check_int("pacgan_mlp", "packing", packing)
    code = check_int("pacgan_mlp", "categories", categories, low=0)
    kernels = check_int("pacgan_mlp", "minibatch_discrimination", minibatch_discrimination,
                        low=0)
    dims = check_int("pacgan_mlp", "minibatch_dims", minibatch_dims)
    if dims != 5 and not kernels:
        raise InvalidArgumentError(
            f"pacgan_mlp minibatch_dims needs minibatch_discrimination >= 1 (the kernels "
            f"whose dimensions it sets); received minibatch_dims={minibatch_dims} with "
            f"minibatch_discrimination=0"
        )
    if code == 1:
        raise InvalidArgumentError(
            f"pacgan_mlp categories must be 0 (no code) or an int >= 2; received {categories}"
        )
    generator_hidden: list[Layer | None] = [CategoricalCode(code)] if code else []
    generator_hidden += [
        Dense(gen_units, use_bias=False),
        BatchNorm(momentum=0.05, eps=1e-4),
        Activation("relu"),
    ] * gen_layers
    critic_hidden: list[Layer | None] = [Dense(critic_units * k), Maxout(k)] * critic_layers
    if kernels:
        critic_hidden.append(MinibatchDiscrimination(kernels, dims))
    return dense_pair(
        "pacgan_mlp",
        shape,
        "gan",
        None,
        latent + code,
        "dcgan",
        generator_hidden,
        critic_hidden,
        "identity",
        [
            ("latent_dim", latent, 2),
            ("hidden", (gen_units, critic_units), (400, 200)),
            ("layers", (gen_layers, critic_layers), (4, 3)),
            ("pieces", k, 5),
            ("packing", m, 1),
            ("categories", code, 0),
            ("minibatch_discrimination", kernels, 0),
            ("minibatch_dims", dims, 5),
        ],
        packing=m,
    )
