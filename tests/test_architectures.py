"""The built-in architectures: shapes, conventions, parameter counts, numpy forward passes,
argument checks and serialisation. Framework-free."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import numpy as np
import pytest

from gancore import InvalidArgumentError
from gancore.architectures import (
    BUILTIN_ARCHITECTURES,
    CRITIC_NORMS,
    ArchitecturePair,
    cyclegan,
    dcgan,
    fc_bn,
    mlp,
    pacgan_mlp,
    sngan,
    vanilla,
)
from gancore.architectures._blocks import same_padding
from gancore.nn import (
    BatchNorm,
    CategoricalCode,
    Concat,
    Conv2D,
    Embedding,
    InstanceNorm,
    LayerNorm,
    Maxout,
    NetworkSpec,
    buffer_names,
    forward_numpy,
    init_state,
    parameter_shapes,
    trainable_names,
)

# (builder, sample_shape, options, critic score shape, tanh output)
CASES = [
    pytest.param(vanilla, (28, 28, 1), {}, (1,), True, id="vanilla-28x28x1"),
    pytest.param(vanilla, (2,), {"latent_dim": 4, "layers": 2}, (1,), True, id="vanilla-2"),
    pytest.param(vanilla, (8, 8, 1), {"num_classes": 10}, (1,), True, id="vanilla-cond"),
    pytest.param(fc_bn, (28, 28, 1), {}, (1,), True, id="fc_bn-28x28x1"),
    pytest.param(
        fc_bn, (8, 8, 1), {"num_classes": 3, "semi_supervised": True}, (3,), True, id="fc_bn-ssl"
    ),
    pytest.param(dcgan, (8, 8, 1), {}, (1,), True, id="dcgan-8x8x1"),
    pytest.param(dcgan, (8, 8, 1), {"num_classes": 10}, (1,), True, id="dcgan-8-cond"),
    pytest.param(dcgan, (8, 8, 1), {"norm": "layer"}, (1,), True, id="dcgan-8-layer"),
    pytest.param(
        dcgan, (8, 8, 3), {"num_classes": 4, "semi_supervised": True}, (4,), True, id="dcgan-8-ssl"
    ),
    pytest.param(dcgan, (28, 28, 1), {}, (1,), True, id="dcgan-28x28x1"),
    pytest.param(dcgan, (28, 28, 1), {"num_classes": 10}, (1,), True, id="dcgan-28-cond"),
    pytest.param(dcgan, (28, 28, 1), {"norm": "instance"}, (1,), True, id="dcgan-28-instance"),
    pytest.param(dcgan, (32, 32, 3), {}, (1,), True, id="dcgan-32x32x3"),
    pytest.param(
        dcgan, (32, 32, 3), {"num_classes": 10, "norm": "none"}, (1,), True, id="dcgan-32-cond-none"
    ),
    pytest.param(dcgan, (64, 64, 3), {}, (1,), True, id="dcgan-64x64x3"),
    pytest.param(dcgan, (64, 64, 3), {"num_classes": 5}, (1,), True, id="dcgan-64-cond"),
    pytest.param(
        cyclegan, (16, 16, 3), {"depth": 2, "base_filters": 4}, (4, 4, 1), True, id="cyclegan-tiny"
    ),
    pytest.param(
        cyclegan,
        (16, 24, 1),
        {"depth": 3, "base_filters": (4, 6)},
        (2, 3, 1),
        True,
        id="cyclegan-rect",
    ),
    pytest.param(pacgan_mlp, (2,), {}, (1,), False, id="pacgan_mlp"),
    pytest.param(pacgan_mlp, (2,), {"packing": 4}, (1,), False, id="pacgan_mlp-pack4"),
    pytest.param(pacgan_mlp, (2,), {"categories": 5}, (1,), False, id="pacgan_mlp-code5"),
    pytest.param(mlp, (2,), {}, (1,), False, id="mlp"),
    pytest.param(mlp, (3,), {"batch_norm": True, "num_classes": 3}, (1,), False, id="mlp-cond"),
    pytest.param(mlp, (3,), {"hidden": 16, "packing": 3}, (1,), False, id="mlp-pack3"),
    pytest.param(
        mlp, (5,), {"output_activation": "tanh", "activation": "relu"}, (1,), True, id="mlp-tanh"
    ),
]


def _count(spec: NetworkSpec, names: list[str]) -> int:
    shapes = parameter_shapes(spec)
    return sum(math.prod(shapes[n]) for n in names)


def _inputs(pair: ArchitecturePair, batch: int, seed: int = 0) -> list[np.ndarray]:
    """Generator inputs for a batch: z (or an image for CycleGAN), then labels if needed."""
    rng = np.random.default_rng(seed)
    if pair.kind == "cyclegan":
        return [rng.uniform(-1, 1, (batch, *pair.sample_shape))]
    z = [rng.normal(size=(batch, pair.latent_dim))]
    return z + ([np.arange(batch) % pair.num_classes] if pair.kind == "conditional" else [])


def _pack(pair: ArchitecturePair, samples: np.ndarray) -> np.ndarray:
    """Samples (n * m, *shape) -> (n, *shape[:-1], shape[-1] * m), as the trainer packs."""
    m = pair.packing
    n = samples.shape[0] // m
    grouped = samples.reshape(n, m, *samples.shape[1:])
    return np.concatenate([grouped[:, i] for i in range(m)], axis=-1)


# -- shapes and conventions ------------------------------------------------------------------


@pytest.mark.parametrize(("builder", "shape", "options", "score", "tanh"), CASES)
def test_output_and_score_shapes(builder, shape, options, score, tanh) -> None:
    pair = builder(shape, **options)
    assert pair.generator.output_shape == shape
    assert pair.sample_shape == shape
    x = pair.critic.inputs[0]
    assert x.name == "x"
    assert x.shape == (*shape[:-1], shape[-1] * pair.packing)
    assert pair.critic.output_shape == score
    assert pair.score_shape == score


@pytest.mark.parametrize(("builder", "shape", "options", "score", "tanh"), CASES)
def test_input_conventions(builder, shape, options, score, tanh) -> None:
    pair = builder(shape, **options)
    gen = [(i.name, i.shape, i.dtype) for i in pair.generator.inputs]
    critic = [(i.name, i.dtype) for i in pair.critic.inputs]
    labels = [("labels", (), "int64")] if pair.kind == "conditional" else []
    if pair.kind == "cyclegan":
        assert gen == [("x", shape, "float32")]
        assert pair.latent_dim is None
    else:
        assert gen == [("z", (pair.latent_dim,), "float32"), *labels]
    assert critic == [("x", "float32"), *[(n, d) for n, _, d in labels]]


@pytest.mark.parametrize(("builder", "shape", "options", "score", "tanh"), CASES)
def test_forward_numpy_runs(builder, shape, options, score, tanh) -> None:
    pair = builder(shape, **options)
    batch = 2 * pair.packing
    inputs = _inputs(pair, batch)
    if shape[0] >= 64:
        # The 64x64 generator's transposed convolutions take seconds in the numpy reference;
        # its shapes are checked above, and the critic runs on stand-in samples.
        samples = np.random.default_rng(0).uniform(-1, 1, (batch, *shape))
    else:
        samples = forward_numpy(pair.generator, init_state(pair.generator, 1), *inputs)
    assert samples.shape == (batch, *shape)
    assert np.all(np.isfinite(samples))
    if tanh:
        assert np.all(np.abs(samples) <= 1.0)
    packed = _pack(pair, samples)
    labels = inputs[1:] if pair.kind == "conditional" else []
    scores = forward_numpy(pair.critic, init_state(pair.critic, 2), packed, *labels)
    assert scores.shape == (packed.shape[0], *score)
    assert np.all(np.isfinite(scores))


def test_builtin_registry_names_every_builder() -> None:
    expected = {
        "vanilla": vanilla,
        "fc_bn": fc_bn,
        "dcgan": dcgan,
        "cyclegan": cyclegan,
        "pacgan_mlp": pacgan_mlp,
        "mlp": mlp,
        "sngan": sngan,
    }
    assert expected == BUILTIN_ARCHITECTURES


@pytest.mark.parametrize(("builder", "shape", "options", "score", "tanh"), CASES)
def test_deterministic(builder, shape, options, score, tanh) -> None:
    assert builder(shape, **options) == builder(list(shape), **options)


def test_names_are_distinct_and_say_the_options() -> None:
    names = [p.values[0](p.values[1], **p.values[2]).name for p in CASES]
    assert len(set(names)) == len(names)
    assert dcgan((28, 28, 1)).name == "dcgan-28x28x1"
    assert dcgan((28, 28, 1), num_classes=10, norm="layer").name == (
        "dcgan-28x28x1-conditional_10-norm_layer"
    )
    assert pacgan_mlp((2,), packing=4).name == "pacgan_mlp-2-packing_4"
    pair = dcgan((8, 8, 1))
    assert (pair.generator.name, pair.critic.name) == (
        "dcgan-8x8x1-generator",
        "dcgan-8x8x1-critic",
    )


# -- the GANs in Action chapter 4 DCGAN, counted by hand -------------------------------------


def test_gans_in_action_dcgan_generator_parameter_count() -> None:
    spec = dcgan((28, 28, 1)).generator
    z = 100
    dense = z * 256 * 7 * 7 + 256 * 7 * 7
    # The book's transposed convolutions have biases; a batch norm follows each of the
    # first two and cancels them, so gancore drops those two (128 + 64 parameters).
    convt_128 = 3 * 3 * 256 * 128
    bn_128 = 2 * 128
    convt_64 = 3 * 3 * 128 * 64
    bn_64 = 2 * 64
    convt_1 = 3 * 3 * 64 * 1 + 1
    trainable = dense + convt_128 + bn_128 + convt_64 + bn_64 + convt_1
    assert _count(spec, trainable_names(spec)) == trainable == 1_636_737 - 128 - 64
    # Keras' summary adds the BatchNorm moving mean and variance: 1,637,121 in all.
    assert _count(spec, buffer_names(spec)) == 2 * (128 + 64)
    assert trainable + 128 + 64 + 2 * (128 + 64) == 1_637_121


def test_gans_in_action_dcgan_critic_parameter_count() -> None:
    spec = dcgan((28, 28, 1)).critic
    # As in the generator, the biases of the two convolutions before a batch norm are
    # dropped: the book's 95,105 less 64 + 128.
    conv_32 = 3 * 3 * 1 * 32 + 32
    conv_64 = 3 * 3 * 32 * 64
    bn_64 = 2 * 64
    conv_128 = 3 * 3 * 64 * 128
    bn_128 = 2 * 128
    dense = 4 * 4 * 128 + 1
    trainable = conv_32 + conv_64 + bn_64 + conv_128 + bn_128 + dense
    assert _count(spec, trainable_names(spec)) == trainable == 95_105 - 64 - 128
    assert _count(spec, buffer_names(spec)) == 2 * (64 + 128)


def test_gans_in_action_dcgan_follows_keras_same_padding() -> None:
    spec = dcgan((28, 28, 1)).critic
    shapes = spec.shapes()
    convs = [n for n in spec.nodes if isinstance(n.layer, Conv2D)]
    assert [n.layer.padding for n in convs] == [(0, 1, 0, 1), (0, 1, 0, 1), (1, 1, 1, 1)]
    assert [shapes[n.name] for n in convs] == [(14, 14, 32), (7, 7, 64), (4, 4, 128)]
    gen_shapes = list(dcgan((28, 28, 1)).generator.shapes().values())
    assert (14, 14, 128) in gen_shapes and (14, 14, 64) in gen_shapes


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (28, 3, 2, (0, 1)),
        (7, 3, 2, (1, 1)),
        (64, 5, 2, (1, 2)),
        (16, 4, 2, (1, 1)),
        (16, 4, 1, (1, 2)),
        (5, 1, 1, (0, 0)),
    ],
)
def test_same_padding_matches_tensorflow(size, kernel, stride, expected) -> None:
    before, after = same_padding(size, kernel, stride)
    assert (before, after) == expected
    assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)


# -- the fully connected pairs, counted by hand ----------------------------------------------


def test_raschka_vanilla_parameter_counts() -> None:
    pair = vanilla((28, 28, 1))
    gen, critic = pair.generator, pair.critic
    assert _count(gen, trainable_names(gen)) == (20 * 100 + 100) + (100 * 784 + 784)
    # The book's hidden critic layer has no bias (nn.Linear(..., bias=False)).
    assert _count(critic, trainable_names(critic)) == 784 * 100 + (100 * 1 + 1)
    assert pair.latent_dim == 20


def test_fc_bn_parameter_counts_match_keras_gan() -> None:
    pair = fc_bn((28, 28, 1))
    gen, critic = pair.generator, pair.critic
    dense = (100 * 256 + 256) + (256 * 512 + 512) + (512 * 1024 + 1024) + (1024 * 784 + 784)
    norms = 2 * (256 + 512 + 1024)
    assert _count(gen, trainable_names(gen)) == dense + norms == 1_489_936
    # Keras-GAN's summary counts the moving statistics too: 1,493,520 in all.
    assert _count(gen, trainable_names(gen) + buffer_names(gen)) == 1_493_520
    critic_dense = (784 * 512 + 512) + (512 * 256 + 256) + (256 + 1)
    assert _count(critic, trainable_names(critic)) == critic_dense == 533_505
    momenta = {n.layer.momentum for n in gen.nodes if isinstance(n.layer, BatchNorm)}
    assert momenta == {0.2}  # Keras' momentum=0.8


# -- PacGAN ----------------------------------------------------------------------------------


@pytest.mark.parametrize("packing", [1, 2, 4])
def test_pacgan_parameter_counts(packing: int) -> None:
    pair = pacgan_mlp((2,), packing=packing)
    gen, critic = pair.generator, pair.critic
    # Generator: 4 x (Dense 400 without bias + BatchNorm gamma/beta), then Dense 2.
    hidden = 2 * 400 + 2 * 400 + 3 * (400 * 400 + 2 * 400)
    assert _count(gen, trainable_names(gen)) == hidden + 400 * 2 + 2 == 484_802
    assert _count(gen, buffer_names(gen)) == 4 * 2 * 400
    # Critic: 3 maxout layers of 200 x 5 pieces (Dense 1000 each), then Dense 1.
    first = 2 * packing * 1000 + 1000
    expected = first + 2 * (200 * 1000 + 1000) + 200 + 1
    assert _count(critic, trainable_names(critic)) == expected
    assert expected == {1: 405_201, 2: 407_201, 4: 411_201}[packing]
    assert sum(isinstance(n.layer, Maxout) for n in critic.nodes) == 3
    assert pair.packing == packing and pair.latent_dim == 2
    assert gen.init == critic.init == "dcgan"  # PacGAN's N(0, 0.02)


def test_pacgan_options_shrink_the_networks() -> None:
    pair = pacgan_mlp((2,), hidden=(8, 4), layers=(2, 1), pieces=3)
    gen, critic = pair.generator, pair.critic
    assert _count(gen, trainable_names(gen)) == 2 * 8 + 16 + 8 * 8 + 16 + 8 * 2 + 2
    assert _count(critic, trainable_names(critic)) == 2 * 12 + 12 + 4 + 1


def test_pacgan_categorical_code_splits_the_noise() -> None:
    """categories K: noise of latent_dim + K features, the last K read as a one-hot code by
    the generator's first layer; samples of one category do not depend on the other K - 1
    features, and the categories lead to different samples."""
    pair = pacgan_mlp((2,), hidden=(8, 4), categories=3)
    assert pair.latent_dim == 5 and pair.name == "pacgan_mlp-2-hidden_8x4-categories_3"
    first = pair.generator.nodes[0].layer
    assert isinstance(first, CategoricalCode) and first.categories == 3
    gen = pair.generator
    state = init_state(gen, 0)
    z = np.random.default_rng(0).normal(size=(6, 5))
    z[:, 2:] = -5.0
    z[np.arange(6), 2 + np.arange(6) % 3] = 1.0  # categories 0, 1, 2, 0, 1, 2
    out = forward_numpy(gen, state, z)
    other = z.copy()
    other[:, 2:] = np.where(z[:, 2:] == 1.0, 9.0, -1.0)  # same argmax, other values
    np.testing.assert_allclose(forward_numpy(gen, state, other), out)
    z[:, :2] = z[0, :2]  # the same continuous noise in every row
    out = forward_numpy(gen, state, z)
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])
    np.testing.assert_allclose(out[0], out[3])
    with pytest.raises(InvalidArgumentError, match=r"categories must be 0 \(no code\) or an int"
                       r" >= 2; received 1"):
        pacgan_mlp((2,), categories=1)


# -- variants --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "shape"),
    [(dcgan, (8, 8, 1)), (dcgan, (28, 28, 1)), (mlp, (2,)), (vanilla, (8, 8, 1))],
)
def test_conditional_outputs_depend_on_labels(builder, shape) -> None:
    pair = builder(shape, num_classes=3)
    assert pair.kind == "conditional" and pair.num_classes == 3
    z = np.random.default_rng(0).normal(size=(1, pair.latent_dim)).repeat(3, axis=0)
    labels = np.arange(3)
    gen_state = init_state(pair.generator, 0)
    samples = forward_numpy(pair.generator, gen_state, z, labels)
    assert not np.allclose(samples[0], samples[1])
    assert not np.allclose(samples[1], samples[2])
    same = np.repeat(samples[:1], 3, axis=0)
    scores = forward_numpy(pair.critic, init_state(pair.critic, 1), same, labels)
    assert not np.allclose(scores[0], scores[1])
    with pytest.raises(InvalidArgumentError, match="Embedding ids"):
        forward_numpy(pair.generator, gen_state, z, np.array([0, 1, 3]))


def test_conditional_dcgan_joins_label_channels() -> None:
    pair = dcgan((28, 28, 1), num_classes=10)
    gen_shapes, critic_shapes = pair.generator.shapes(), pair.critic.shapes()
    gen_concat = next(n for n in pair.generator.nodes if isinstance(n.layer, Concat))
    critic_concat = next(n for n in pair.critic.nodes if isinstance(n.layer, Concat))
    assert gen_shapes[gen_concat.name] == (7, 7, 257)
    assert critic_shapes[critic_concat.name] == (28, 28, 2)
    assert critic_concat.inputs[0] == "x"
    for spec in (pair.generator, pair.critic):
        embedding = spec.node("label_embedding").layer
        assert embedding == Embedding(10, 50)


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_semi_supervised_critic_is_the_critic_with_a_class_head(shape) -> None:
    plain = dcgan(shape)
    ssl = dcgan(shape, num_classes=7, semi_supervised=True)
    assert ssl.kind == "semi_supervised" and ssl.num_classes == 7
    assert ssl.generator.nodes == plain.generator.nodes  # the generator stays unconditional
    assert ssl.critic.nodes[:-1] == plain.critic.nodes[:-1]
    assert ssl.critic.output_shape == (7,)


@pytest.mark.parametrize("norm", CRITIC_NORMS)
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_critic_norm_option(shape, norm) -> None:
    pair = dcgan(shape, norm=norm)
    kinds = {type(n.layer) for n in pair.critic.nodes}
    wanted = {"batch": BatchNorm, "layer": LayerNorm, "instance": InstanceNorm, "none": None}
    for cls in (BatchNorm, LayerNorm, InstanceNorm):
        assert (cls in kinds) == (cls is wanted[norm])
    # The generator keeps its batch norm whatever the critic uses.
    assert dcgan(shape).generator.nodes == pair.generator.nodes
    assert any(isinstance(n.layer, BatchNorm) for n in pair.generator.nodes)


def test_wgan_gp_critic_forward_is_per_sample() -> None:
    # Without batch norm, a sample's score must not depend on the rest of the batch.
    pair = dcgan((8, 8, 1), norm="layer")
    state = init_state(pair.critic, 0)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1))
    together = forward_numpy(pair.critic, state, x, training=True)
    alone = forward_numpy(pair.critic, state, x[:1], training=True)
    np.testing.assert_allclose(together[:1], alone, rtol=1e-10, atol=1e-12)


def test_cyclegan_unet_and_patchgan() -> None:
    pair = cyclegan((128, 128, 3))
    assert pair.kind == "cyclegan" and pair.latent_dim is None and pair.num_classes is None
    assert pair.critic.output_shape == (8, 8, 1)
    concats = [n for n in pair.generator.nodes if isinstance(n.layer, Concat)]
    assert len(concats) == 3
    shapes = pair.generator.shapes()
    # Skips join at the book's sizes: 4gf + 4gf at 16x16, 2gf + 2gf at 32, gf + gf at 64.
    assert [shapes[n.name] for n in concats] == [(16, 16, 256), (32, 32, 128), (64, 64, 64)]
    critic_convs = [n.layer for n in pair.critic.nodes if isinstance(n.layer, Conv2D)]
    assert [c.filters for c in critic_convs] == [64, 128, 256, 512, 1]
    assert [c.padding for c in critic_convs] == [(1, 1, 1, 1)] * 4 + [(1, 2, 1, 2)]
    assert sum(isinstance(n.layer, InstanceNorm) for n in pair.critic.nodes) == 3


def test_cyclegan_tiny_parameter_counts() -> None:
    pair = cyclegan((16, 16, 3), depth=2, base_filters=4)
    gen, critic = pair.generator, pair.critic
    down = (4 * 4 * 3 * 4 + 4 + 2 * 4) + (4 * 4 * 4 * 8 + 8 + 2 * 8)
    up = 4 * 4 * 8 * 4 + 4 + 2 * 4
    out = 4 * 4 * (4 + 4) * 3 + 3  # the last Concat gives 4 + 4 channels
    assert _count(gen, trainable_names(gen)) == down + up + out == 1651
    patch = (4 * 4 * 3 * 4 + 4) + (4 * 4 * 4 * 8 + 8 + 2 * 8) + (4 * 4 * 8 * 1 + 1)
    assert _count(critic, trainable_names(critic)) == patch == 861


# -- serialisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("builder", "shape", "options", "score", "tanh"), CASES)
def test_specs_round_trip_through_json(builder, shape, options, score, tanh) -> None:
    pair = builder(shape, **options)
    for spec in (pair.generator, pair.critic):
        again = NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
        assert again == spec
        assert again.shapes() == spec.shapes()
    assert ArchitecturePair.from_dict(json.loads(json.dumps(pair.to_dict()))) == pair


# -- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 32, 1), (3, 3, 1), (1, 1, 3)])
def test_dcgan_refuses_non_square_and_tiny_images(shape) -> None:
    with pytest.raises(InvalidArgumentError, match=r"\(side, side, channels\) with a side "
                                                   r">= 4") as info:
        dcgan(shape)
    assert str(shape) in str(info.value)


def test_cyclegan_size_must_divide_by_two_to_the_depth() -> None:
    with pytest.raises(InvalidArgumentError, match=r"multiples of 2\*\*depth = 8") as info:
        cyclegan((20, 20, 3), depth=3)
    assert "(20, 20, 3)" in str(info.value)
    assert cyclegan((24, 24, 3), depth=3, base_filters=2).critic.output_shape == (3, 3, 1)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dcgan((8, 8)), r"dcgan sample_shape must be a tuple of 3 ints"),
        (lambda: dcgan((8, 8, 1), norm="group"), r"norm must be one of 'batch', 'layer'"),
        (lambda: dcgan((8, 8, 1), num_classes=1), r"num_classes must be an int >= 2"),
        (lambda: dcgan((8, 8, 1), semi_supervised=True), r"when semi_supervised=True"),
        (lambda: dcgan((8, 8, 1), semi_supervised="yes"), r"semi_supervised must be a bool"),
        (lambda: dcgan((8, 8, 1), latent_dim=0), r"latent_dim must be an int >= 1"),
        (lambda: vanilla((8, 8, 1), latent_dim=True), r"latent_dim must be an int >= 1"),
        (lambda: vanilla((0, 8)), r"vanilla sample_shape must be"),
        (lambda: fc_bn((1, 2, 3, 4)), r"fc_bn sample_shape must be a tuple of 1 or 2 or 3"),
        (lambda: cyclegan((16, 16, 3), latent_dim=8), r"cyclegan latent_dim must be None"),
        (lambda: cyclegan((16, 16, 3), num_classes=2), r"cyclegan num_classes must be None"),
        (lambda: cyclegan((16, 16, 3), base_filters=(4, 4, 4)), r"base_filters must be an int"),
        (lambda: cyclegan((16, 16, 3), depth=0), r"cyclegan depth must be an int >= 1"),
        (lambda: pacgan_mlp((2, 2)), r"pacgan_mlp sample_shape must be a tuple of 1 ints"),
        (lambda: pacgan_mlp((2,), num_classes=3), r"pacgan_mlp num_classes must be None"),
        (lambda: pacgan_mlp((2,), packing=0), r"pacgan_mlp packing must be an int >= 1"),
        (lambda: mlp((2,), activation="gelu"), r"mlp activation must be one of 'relu'"),
        (lambda: mlp((2,), hidden=()), r"mlp hidden must be an int or a non-empty sequence"),
        (lambda: mlp((2,), num_classes=3, packing=2), r"mlp packing must be 1 with num_classes"),
    ],
)
def test_bad_arguments_raise_helpful_errors(call, match) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        call()
    assert "received" in str(info.value)


def test_pair_checks_the_trainer_conventions() -> None:
    good = dcgan((8, 8, 1))
    other = dcgan((8, 8, 1), num_classes=3)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "wgan"}, r"kind must be one of 'gan', 'conditional'"),
        ({"latent_dim": 7}, r"generator inputs must be \(z \(7,\) float32\)"),
        ({"latent_dim": None}, r"latent_dim must be an int >= 1"),
        ({"critic": good.generator}, r"critic inputs must be \(x \(8, 8, 1\) float32\)"),
        ({"critic": other.critic}, r"critic inputs must be"),
        ({"kind": "conditional", "num_classes": 3}, r"generator inputs must be"),
        ({"num_classes": 3}, r"num_classes must be None"),
        ({"kind": "semi_supervised", "num_classes": 3}, r"class logits of shape \(3,\)"),
        ({"packing": 2}, r"critic inputs must be \(x \(8, 8, 2\) float32\)"),
        ({"name": ""}, r"name must be a non-empty str"),
        ({"kind": "conditional", "num_classes": 3, "packing": 2}, r"packing must be 1 unless"),
    ]
    for changes, match in cases:
        with pytest.raises(InvalidArgumentError, match=match):
            attrs.evolve(good, **changes)
    # A conditional generator with an unconditional critic is refused too.
    with pytest.raises(InvalidArgumentError, match=r"critic inputs must be"):
        attrs.evolve(other, critic=good.critic)
