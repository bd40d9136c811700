"""The stabilising layers (spectral norm, minibatch standard deviation, minibatch
discrimination, self-attention): golden values, every backend against the numpy reference
in inference and training (power-iteration buffers included), the backends against each
other (gradients, gradient penalties), and their checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from test_nn_backends import TOL, load

from gancore import InvalidArgumentError
from gancore.nn import (
    Activation,
    Add,
    AvgPool2D,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Flatten,
    GlobalSumPool,
    GraphBuilder,
    MinibatchDiscrimination,
    MinibatchStdDev,
    NetworkSpec,
    Reshape,
    SelfAttention,
    SpectralConv2D,
    SpectralDense,
    buffer_names,
    forward_numpy,
    forward_numpy_training,
    init_state,
    layer_from_dict,
    sequential,
    trainable_names,
)
from gancore.nn._layers import LAYER_KINDS

BATCH = 4
NEW_KINDS = ("spectral_dense", "spectral_conv2d", "minibatch_stddev",
             "minibatch_discrimination", "self_attention", "avg_pool2d", "global_sum_pool")


# -- the specs --------------------------------------------------------------------------------


def sn_critic() -> NetworkSpec:
    """Every new layer in one critic: spectral convs (asymmetric padding), minibatch stddev
    with two groups and two channel slices, self-attention, minibatch discrimination and a
    spectral dense head."""
    return sequential(
        "sn_critic",
        (8, 8, 3),
        [
            SpectralConv2D(4, 3, stride=2, padding=(0, 1, 1, 0)),
            Activation("leaky_relu"),
            MinibatchStdDev(group_size=2, channels=2),
            SpectralConv2D(6, 3, padding=1),
            SelfAttention(reduction=2),
            Activation("tanh"),
            Flatten(),
            MinibatchDiscrimination(3, 2),
            SpectralDense(1),
        ],
        init="glorot",
    )


def attention_generator() -> NetworkSpec:
    """Self-attention inside a generator, between transposed convolutions."""
    return sequential(
        "attention_generator",
        (5,),
        [
            Dense(2 * 2 * 8),
            Reshape((2, 2, 8)),
            SelfAttention(),
            ConvTranspose2D(4, 4, stride=2, padding=1),
            SelfAttention(reduction=4),
            Activation("tanh"),
        ],
        init="dcgan",
    )


def flat_critic() -> NetworkSpec:
    """Flat features: minibatch stddev over a whole batch group, spectral dense layers."""
    g = GraphBuilder("flat_critic", init="glorot")
    x = g.input("x", (6,))
    h = g.add(MinibatchStdDev(group_size=8, channels=3), x)
    h = g.add(Activation("relu"), g.add(SpectralDense(5), h))
    h = g.add(MinibatchDiscrimination(2, 3), h)
    return g.build(g.add(SpectralDense(2, use_bias=False), h))


def residual_critic() -> NetworkSpec:
    """SNGAN's downsampling residual block: average pooling on both paths, a global sum."""
    g = GraphBuilder("residual_critic", init="glorot")
    x = g.input("x", (4, 6, 2))
    h = g.add(SpectralConv2D(3, 3, padding=1), x)
    h = g.add(AvgPool2D(2), g.add(Activation("relu"), h))
    skip = g.add(SpectralConv2D(3, 1), g.add(AvgPool2D(2), x))
    h = g.add(GlobalSumPool(), g.add(Add(), h, skip))
    return g.build(g.add(SpectralDense(1), h))


SPECS: dict[str, Callable[[], NetworkSpec]] = {
    f.__name__: f for f in (sn_critic, attention_generator, flat_critic, residual_critic)
}
spec_names = pytest.mark.parametrize("spec_name", list(SPECS))


def random_state(spec: NetworkSpec, seed: int) -> dict[str, np.ndarray]:
    """`init_state` with a non-zero attention scale and random biases, so that every
    parameter changes the output."""
    rng = np.random.default_rng(seed + 1)
    state = init_state(spec, seed)
    for name, value in state.items():
        suffix = name.rpartition(".")[2]
        if suffix in ("bias", "scale"):
            state[name] = rng.normal(0.0, 0.5, value.shape).astype(np.float32)
    return state


def random_inputs(spec: NetworkSpec, seed: int, batch: int = BATCH) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, *i.shape)).astype(np.float32) for i in spec.inputs]


@pytest.fixture(scope="module", params=("torch", "tensorflow"), ids=lambda name: name)
def backend(request: pytest.FixtureRequest):
    """An adapter for each framework backend's `build_network` (tests/test_nn_backends.py)."""
    return load(request.param)


@pytest.fixture(scope="module")
def both():
    """The torch and the TensorFlow adapters."""
    return load("torch"), load("tensorflow")


# -- golden values on hand-computed inputs ---------------------------------------------------


def test_layer_kinds_are_registered_and_round_trip():
    for kind in NEW_KINDS:
        assert kind in LAYER_KINDS
    spec = sn_critic()
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    layer = layer_from_dict({"kind": "minibatch_stddev", "group_size": 2, "channels": 1})
    assert layer == MinibatchStdDev(2, 1)


def test_initial_state():
    spec = sn_critic()
    state = init_state(spec, 3)
    for name in buffer_names(spec):
        assert name.endswith(".u")
        np.testing.assert_allclose(np.linalg.norm(state[name]), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(state["self_attention_1.scale"], [0.0])
    for role in ("query", "key", "value", "out"):
        assert np.std(state[f"self_attention_1.{role}_kernel"]) > 0.01
    # SelfAttention starts as the identity: scale 0.
    inputs = random_inputs(attention_generator(), 0)
    gen = attention_generator()
    zero = init_state(gen, 0)
    no_attention = sequential("plain", (5,), [
        Dense(2 * 2 * 8), Reshape((2, 2, 8)), ConvTranspose2D(4, 4, stride=2, padding=1),
        Activation("tanh")])
    plain_state = {f"{new}.{suffix}": zero[f"{old}.{suffix}"]
                   for old, new in (("dense_1", "dense_1"),
                                    ("conv_transpose2d_1", "conv_transpose2d_1"))
                   for suffix in ("kernel", "bias")}
    np.testing.assert_allclose(forward_numpy(gen, zero, *inputs),
                               forward_numpy(no_attention, plain_state, *inputs), rtol=1e-12)


def test_spectral_dense_golden():
    spec = sequential("sn", (2,), [SpectralDense(2, use_bias=False)])
    kernel = np.array([[3.0, 0.0], [0.0, 1.0]], np.float32)
    state = {"spectral_dense_1.kernel": kernel, "spectral_dense_1.u": np.array([0.6, 0.8])}
    x = np.array([[1.0, 1.0]])
    # inference: v = normalize(M u) = (1.8, 0.8) / |.|, sigma = u . (M^T v)
    v = np.array([1.8, 0.8]) / np.hypot(1.8, 0.8)
    sigma = np.array([0.6, 0.8]) @ (kernel.T @ v)
    np.testing.assert_allclose(forward_numpy(spec, state, x), x @ kernel / sigma)
    # training: u <- normalize(M^T v), sigma = u . (M^T v) = |M^T v|
    out, new = forward_numpy_training(spec, state, x)
    np.testing.assert_allclose(new["spectral_dense_1.u"], kernel.T @ v / np.linalg.norm(v * [3, 1]),
                               rtol=1e-6)
    np.testing.assert_allclose(out, x @ kernel / np.linalg.norm(kernel.T @ v))


def test_power_iteration_converges_to_the_spectral_norm():
    spec = sequential("sn", (3, 3, 2), [SpectralConv2D(5, 2, use_bias=False)], init="glorot")
    state = init_state(spec, 0)
    x = np.random.default_rng(1).normal(size=(2, 3, 3, 2))
    for _ in range(50):
        _, state = forward_numpy_training(spec, state, x)
    kernel = state["spectral_conv2d_1.kernel"].astype(np.float64)
    top = np.linalg.svd(kernel.reshape(-1, 5), compute_uv=False)[0]
    out = forward_numpy(spec, state, x)
    conv = Conv2D(5, 2, use_bias=False)
    plain = sequential("plain", (3, 3, 2), [conv], init="glorot")
    expected = forward_numpy(plain, {"conv2d_1.kernel": kernel / top}, x)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_minibatch_stddev_golden():
    spec = sequential("mbstd", (2,), [MinibatchStdDev(group_size=2, channels=1)])
    x = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 1.0], [6.0, 1.0]])
    # groups: samples {0, 2} and {1, 3}; per-feature std over the two members, averaged
    group_a = (2.0 + 0.0) / 2  # feature 0: 0 vs 4 -> 2; feature 1: 1 vs 1 -> 0
    group_b = (2.0 + 2.0) / 2  # 2 vs 6 -> 2; 5 vs 1 -> 2
    out = forward_numpy(spec, {}, x)
    np.testing.assert_allclose(out[:, :2], x)
    np.testing.assert_allclose(out[:, 2], [group_a, group_b, group_a, group_b], atol=1e-4)
    # a group of one has no spread: sqrt(1e-8)
    single = forward_numpy(spec, {}, x[:1])
    np.testing.assert_allclose(single[0, 2], 1e-4)


def test_minibatch_stddev_images_per_channel_slice():
    spec = sequential("mbstd", (2, 2, 4), [MinibatchStdDev(group_size=4, channels=2)])
    x = np.random.default_rng(0).normal(size=(4, 2, 2, 4))
    out = forward_numpy(spec, {}, x)
    assert out.shape == (4, 2, 2, 6)
    std = np.sqrt(x.var(axis=0) + 1e-8)
    for k, channels in enumerate(((0, 1), (2, 3))):
        np.testing.assert_allclose(out[..., 4 + k], std[..., channels].mean())


def test_minibatch_discrimination_golden():
    spec = sequential("mbd", (1,), [MinibatchDiscrimination(1, 2)])
    state = {"minibatch_discrimination_1.kernel": np.array([[[1.0, 2.0]]])}
    x = np.array([[0.0], [1.0]])
    # M = (0, 0) and (1, 2): L1 distance 3
    out = forward_numpy(spec, state, x)
    np.testing.assert_allclose(out, [[0.0, 1 + np.exp(-3)], [1.0, 1 + np.exp(-3)]], rtol=1e-6)


def test_self_attention_golden():
    spec = sequential("att", (1, 2, 2), [SelfAttention(reduction=2)])
    state = {
        "self_attention_1.query_kernel": np.array([[1.0], [0.0]]),
        "self_attention_1.key_kernel": np.array([[1.0], [0.0]]),
        "self_attention_1.value_kernel": np.array([[0.0], [1.0]]),
        "self_attention_1.out_kernel": np.array([[1.0, -1.0]]),
        "self_attention_1.scale": np.array([0.5]),
    }
    x = np.array([[[[1.0, 2.0], [0.0, 4.0]]]])
    # queries/keys 1 and 0: position 0 weights keys by softmax(1, 0), position 1 equally
    a0 = np.exp(1) / (np.exp(1) + 1)
    o = np.array([a0 * 2 + (1 - a0) * 4, 3.0])
    expected = x[0, 0] + 0.5 * o[:, None] * [1.0, -1.0]
    np.testing.assert_allclose(forward_numpy(spec, state, x)[0, 0], expected)


def test_pooling_golden():
    x = np.arange(16.0).reshape(1, 2, 4, 2)
    pooled = forward_numpy(sequential("pool", (2, 4, 2), [AvgPool2D(2)]), {}, x)
    np.testing.assert_allclose(pooled[0, 0], [[5.0, 6.0], [9.0, 10.0]])
    summed = forward_numpy(sequential("sum", (2, 4, 2), [GlobalSumPool()]), {}, x)
    np.testing.assert_allclose(summed, [[56.0, 64.0]])


def test_invalid_arguments():
    with pytest.raises(InvalidArgumentError, match="factor must divide"):
        sequential("bad", (4, 3, 1), [AvgPool2D(2)])
    with pytest.raises(InvalidArgumentError, match="channels must divide"):
        sequential("bad", (3,), [MinibatchStdDev(channels=2)])
    with pytest.raises(InvalidArgumentError, match="rank 1 or 3"):
        sequential("bad", (2, 3), [MinibatchStdDev()])
    with pytest.raises(InvalidArgumentError, match="group_size must be an int >= 1"):
        MinibatchStdDev(group_size=0)
    with pytest.raises(InvalidArgumentError, match="add a Flatten"):
        sequential("bad", (2, 2, 1), [MinibatchDiscrimination(2, 2)])
    with pytest.raises(InvalidArgumentError, match="reduction must be an int >= 1"):
        SelfAttention(reduction=0)
    with pytest.raises(InvalidArgumentError, match="multiple of its group size 8"):
        forward_numpy(flat_critic(), init_state(flat_critic(), 0), np.zeros((10, 6)))


# -- per backend -----------------------------------------------------------------------------


@spec_names
def test_inference_matches_numpy(backend, spec_name):
    spec = SPECS[spec_name]()
    state = random_state(spec, 0)
    inputs = random_inputs(spec, 1, batch=8)
    out = backend.forward(backend.build(spec, state), inputs)
    np.testing.assert_allclose(out, forward_numpy(spec, state, *inputs), **TOL)


@spec_names
def test_training_matches_numpy_and_runs_the_power_iteration(backend, spec_name):
    spec = SPECS[spec_name]()
    state = random_state(spec, 2)
    net = backend.build(spec, state)
    expected_state = state
    for step in range(3):  # one iteration per training forward
        inputs = random_inputs(spec, 3 + step, batch=8)
        expected, expected_state = forward_numpy_training(spec, expected_state, *inputs)
        np.testing.assert_allclose(backend.forward(net, inputs, training=True), expected, **TOL)
    after = net.get_state()
    for name in expected_state:
        np.testing.assert_allclose(after[name], expected_state[name], **TOL, err_msg=name)
    for name in buffer_names(spec):  # a one-output layer's u is +-1 for good
        assert state[name].size == 1 or not np.allclose(after[name], state[name]), name


@spec_names
def test_trained_buffers_carry_over_to_the_other_backend(both, spec_name):
    # A checkpoint's `u` is the power iteration's state: the other backend resumes it.
    spec = SPECS[spec_name]()
    first, second = both
    net = first.build(spec, random_state(spec, 4))
    first.forward(net, random_inputs(spec, 5, batch=8), training=True)
    state = net.get_state()
    inputs = random_inputs(spec, 6, batch=8)
    expected = forward_numpy(spec, state, *inputs)
    np.testing.assert_allclose(second.forward(second.build(spec, state), inputs), expected,
                               **TOL)


@spec_names
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_gradients_reach_every_parameter(backend, spec_name, training):
    spec = SPECS[spec_name]()
    net = backend.build(spec, random_state(spec, 5))
    inputs = random_inputs(spec, 6, batch=8)
    weights = np.random.default_rng(7).normal(size=(8, *spec.output_shape))
    grads = backend.weighted_sum_grads(net, inputs, weights, training=training)
    for name, grad in zip(trainable_names(spec), grads, strict=True):
        assert np.all(np.isfinite(grad)), name
        assert np.any(grad != 0), f"no gradient reaches {name}"


def test_a_batch_that_is_not_a_multiple_of_the_group_is_refused(backend):
    spec = flat_critic()
    net = backend.build(spec, init_state(spec, 0))
    with pytest.raises(Exception, match="multiple of its group size"):
        backend.forward(net, [np.zeros((10, 6), np.float32)])


# -- the backends against each other --------------------------------------------------------


@spec_names
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_torch_and_tensorflow_gradients_agree(both, spec_name, training):
    spec = SPECS[spec_name]()
    state = random_state(spec, 8)
    inputs = random_inputs(spec, 9, batch=8)
    weights = np.random.default_rng(10).normal(size=(8, *spec.output_shape))
    nets = [b.build(spec, state) for b in both]
    g_torch, g_tf = (net.to_canonical(b.weighted_sum_grads(net, inputs, weights, training))
                     for b, net in zip(both, nets, strict=True))
    for name in trainable_names(spec):
        np.testing.assert_allclose(g_torch[name], g_tf[name], rtol=1e-3, atol=1e-4,
                                   err_msg=name)


def test_gradient_penalty_through_the_new_layers_agrees(both):
    spec = sn_critic()
    state = random_state(spec, 11)
    inputs = random_inputs(spec, 12, batch=8)
    nets = [b.build(spec, state) for b in both]
    (p_torch, g_torch), (p_tf, g_tf) = (b.penalty_grads(net, inputs)
                                        for b, net in zip(both, nets, strict=True))
    np.testing.assert_allclose(p_torch, p_tf, rtol=1e-4)
    assert p_torch > 0
    g_torch, g_tf = nets[0].to_canonical(g_torch), nets[1].to_canonical(g_tf)
    for name in trainable_names(spec):
        assert np.all(np.isfinite(g_torch[name])), name
        np.testing.assert_allclose(g_torch[name], g_tf[name], rtol=1e-3, atol=1e-4,
                                   err_msg=name)
