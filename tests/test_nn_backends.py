"""Every backend builds a `gancore.nn` spec that computes what the numpy reference computes.

DESIGN invariant 3: the same spec and seed give the same outputs on every backend. Each
spec below exercises some layers and layouts; each test runs once per backend (the
`backend` fixture), and `test_torch_and_tensorflow_agree` compares the two directly,
including one SGD step and a gradient penalty (second-order gradients).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _helpers import FRAMEWORKS, load_backend

from gancore import InvalidArgumentError
from gancore.nn import (
    Activation,
    Add,
    BatchNorm,
    CategoricalCode,
    Concat,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GraphBuilder,
    InstanceNorm,
    LayerNorm,
    Maxout,
    NetworkSpec,
    Reshape,
    Upsample,
    buffer_names,
    forward_numpy,
    forward_numpy_training,
    init_state,
    sequential,
    trainable_names,
)

# float32 networks against the float64 reference, on O(1) activations
TOL = {"rtol": 1e-4, "atol": 1e-4}
BATCH = 4


# -- the specs --------------------------------------------------------------------------------


def dcgan_generator(dropout: float = 0.0) -> NetworkSpec:
    """Dense -> Reshape -> BatchNorm -> ConvTranspose2D (stride 2, output_padding) -> tanh."""
    return sequential(
        "dcgan_generator",
        (8,),
        [
            Dense(2 * 2 * 8),
            Reshape((2, 2, 8)),
            BatchNorm(),
            Activation("relu"),
            ConvTranspose2D(4, 4, stride=2, padding=1),
            BatchNorm(momentum=0.3),
            Activation("leaky_relu", negative_slope=0.1),
            ConvTranspose2D(3, 3, stride=2, padding=1, output_padding=1),
            Activation("tanh"),
        ],
        init="glorot",
    )


def critic(dropout: float = 0.0) -> NetworkSpec:
    """Asymmetric padding, Layer/InstanceNorm, conv -> Flatten -> Dense, Maxout, Dropout."""
    return sequential(
        "critic",
        (8, 8, 3),
        [
            Conv2D(4, 3, stride=2, padding=(0, 1, 1, 0)),
            LayerNorm(),
            Activation("leaky_relu"),
            Conv2D(6, 3, padding=1),
            InstanceNorm(),
            Activation("sigmoid"),
            Dropout(dropout),
            Flatten(),
            Dense(8),
            Maxout(2),
            LayerNorm(),
            Dense(1),
        ],
        init="glorot",
    )


def conditional_generator(dropout: float = 0.0) -> NetworkSpec:
    """Embedding + Concat on the noise, Reshape -> ConvTranspose2D -> Upsample -> conv,
    affine-free InstanceNorm."""
    g = GraphBuilder("conditional_generator", init="glorot")
    z = g.input("z", (6,))
    labels = g.input("labels", (), "int64")
    h = g.add(Concat(), z, g.add(Embedding(5, 4), labels))
    h = g.add(Reshape((2, 2, 3)), g.add(Dense(12), h))
    # kernel < stride and output_padding > padding: the extra row gets only the bias
    h = g.add(ConvTranspose2D(3, 2, stride=3, output_padding=2), h)  # (7, 7, 3)
    h = g.add(Conv2D(2, 3, padding=1), g.add(Upsample(2), h))
    return g.build(g.add(Activation("sigmoid"), g.add(InstanceNorm(affine=False), h)))


def conditional_critic(dropout: float = 0.0) -> NetworkSpec:
    """Labels embedded and reshaped into an extra image channel."""
    g = GraphBuilder("conditional_critic", init="glorot")
    x = g.input("x", (4, 4, 1))
    labels = g.input("labels", (), "int64")
    plane = g.add(Reshape((4, 4, 1)), g.add(Embedding(5, 16), labels))
    h = g.add(Conv2D(4, 3, stride=2, padding=1), g.add(Concat(), x, plane))
    h = g.add(Activation("leaky_relu"), g.add(BatchNorm(), h))
    return g.build(g.add(Dense(1, use_bias=False), g.add(Flatten(), h)))


def unet(dropout: float = 0.0) -> NetworkSpec:
    """A U-Net-like skip: down, up by transposed conv and by Upsample, Add, Concat."""
    g = GraphBuilder("unet", init="glorot")
    x = g.input("x", (8, 8, 2))
    e1 = g.add(Conv2D(4, 3, padding=1), x)
    e2 = g.add(Conv2D(8, 4, stride=2, padding=1), g.add(Activation("relu"), e1))
    a2 = g.add(Activation("relu"), g.add(BatchNorm(), e2))
    up = g.add(ConvTranspose2D(4, 4, stride=2, padding=1), a2)
    resized = g.add(Conv2D(4, 1), g.add(Upsample(2), a2))
    h = g.add(Concat(), g.add(Add(), up, resized), e1)
    return g.build(g.add(Activation("tanh"), g.add(Conv2D(2, 3, padding=(1, 1, 1, 1)), h)))


def sequences(dropout: float = 0.0) -> NetworkSpec:
    """Rank-2 (sequence x features) samples next to images: the layouts torch must get right."""
    g = GraphBuilder("sequences", init="glorot")
    x = g.input("x", (4, 4))
    grid = g.input("grid", (2, 2), "int64")
    tokens = g.input("tokens", (3,), "int64")
    m = g.add(Maxout(2), g.add(LayerNorm(), g.add(BatchNorm(), x)))  # (4, 2)
    img = g.add(Conv2D(2, 1), g.add(Embedding(4, 3), grid))  # ids (2, 2) -> image (2, 2, 3)
    img = g.add(Add(), img, g.add(Reshape((2, 2, 2)), m))
    h = g.add(Concat(), g.add(Reshape((4, 2)), img), m)  # back to (4, 4)
    h = g.add(Concat(), g.add(Flatten(), h), g.add(Flatten(), g.add(Embedding(4, 2), tokens)))
    h = g.add(BatchNorm(), g.add(Dense(3), h))
    return g.build(g.add(Activation("sigmoid"), h))


def categorical_generator(dropout: float = 0.0) -> NetworkSpec:
    """A categorical code from the last 4 noise features, then an MLP (pacgan_mlp's option)."""
    return sequential(
        "categorical_generator",
        (6,),
        [CategoricalCode(4), Dense(5), BatchNorm(), Activation("relu"), Dense(2)],
        init="glorot",
    )


def padding_paths(dropout: float = 0.0) -> NetworkSpec:
    """Convolutions and transposed convolutions through each of the kernels TensorFlow picks
    from (a VALID one cropped, "SAME" directly, mirrored on both axes or on one, explicit
    padding), on non-square maps."""
    return sequential(
        "padding_paths",
        (1, 2, 128),
        [ConvTranspose2D(8, 5, stride=2, padding=1),  # no SAME size: VALID, cropped
         BatchNorm(), Activation("relu"),
         ConvTranspose2D(8, 3, stride=2, padding=1, output_padding=1),  # SAME, mirrored
         ConvTranspose2D(8, 3, stride=1, padding=1),  # SAME
         Activation("tanh"),
         ConvTranspose2D(8, 4, stride=2, padding=1),  # SAME
         ConvTranspose2D(8, 3, stride=2, output_padding=1),  # output padding past padding
         Conv2D(8, 3, stride=2, padding=1),  # SAME, mirrored on both axes
         ConvTranspose2D(8, 4, stride=2, padding=1),
         Conv2D(8, 3, stride=2, padding=(0, 1, 1, 0)),  # SAME rows, mirrored columns
         Conv2D(8, 3, padding=1),  # SAME
         Conv2D(8, 3, stride=3), Activation("tanh"),  # explicit (no padding)
         ConvTranspose2D(2, 3, stride=2, padding=1, output_padding=1)],  # explicit padding
        init="glorot",
    )


SPECS: dict[str, Callable[..., NetworkSpec]] = {
    f.__name__: f
    for f in (dcgan_generator, critic, conditional_generator, conditional_critic, unet, sequences,
              categorical_generator, padding_paths)
}


def random_state(spec: NetworkSpec, seed: int) -> dict[str, np.ndarray]:
    """`init_state` with every parameter made non-trivial, so a wrong layout shows."""
    rng = np.random.default_rng(seed + 1)
    state = init_state(spec, seed)
    for name, value in state.items():
        suffix = name.rpartition(".")[2]
        if suffix in ("bias", "beta", "running_mean"):
            value = rng.normal(0.0, 0.2, value.shape)
        elif suffix == "gamma":
            value = rng.normal(1.0, 0.2, value.shape)
        elif suffix == "running_var":
            value = rng.uniform(0.5, 1.5, value.shape)
        state[name] = value.astype(np.float32)
    return state


def random_inputs(spec: NetworkSpec, seed: int, batch: int = BATCH) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 4, (batch, *i.shape))
        if i.dtype == "int64"
        else rng.normal(size=(batch, *i.shape)).astype(np.float32)
        for i in spec.inputs
    ]


# -- one adapter per framework: numpy in, numpy out -----------------------------------------


class TorchAdapter:
    name = "torch"

    def __init__(self) -> None:
        self.torch = importlib.import_module("torch")
        self.nn = importlib.import_module("gancore_torch._nn")

    def build(self, spec: NetworkSpec, state: dict[str, np.ndarray]) -> Any:
        return self.nn.build_network(spec, state, "cpu")

    def native(self, x: np.ndarray) -> Any:
        return self.nn.to_native(x, "cpu")

    def forward(self, net: Any, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        return self.nn.to_numpy(net(*map(self.native, inputs), training=training))

    def weighted_sum_grads(
        self, net: Any, inputs: list[np.ndarray], weights: np.ndarray, training: bool
    ) -> list[np.ndarray]:
        out = net(*map(self.native, inputs), training=training)
        loss = (out * self.native(weights)).sum()
        grads = self.torch.autograd.grad(loss, net.trainable_parameters())
        return [g.numpy() for g in grads]

    def penalty_grads(self, net: Any, inputs: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
        """WGAN-GP's mean((||dD/dx||_2 - 1)^2) and its gradient w.r.t. the parameters."""
        x, *rest = map(self.native, inputs)
        x.requires_grad_(True)
        (dx,) = self.torch.autograd.grad(net(x, *rest).sum(), x, create_graph=True)
        penalty = ((dx.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
        grads = self.torch.autograd.grad(
            penalty, net.trainable_parameters(), allow_unused=True, materialize_grads=True
        )
        return float(penalty.detach()), [g.numpy() for g in grads]

    def sgd_step(self, net: Any, grads: list[np.ndarray], lr: float) -> dict[str, np.ndarray]:
        with self.torch.no_grad():
            for p, g in zip(net.trainable_parameters(), grads, strict=True):
                p -= lr * self.torch.from_numpy(g)
        return net.get_state()


class TensorFlowAdapter:
    name = "tensorflow"

    def __init__(self) -> None:
        self.tf = importlib.import_module("tensorflow")
        self.nn = importlib.import_module("gancore_tensorflow._nn")

    def build(self, spec: NetworkSpec, state: dict[str, np.ndarray]) -> Any:
        return self.nn.build_network(spec, state, "/CPU:0")

    def native(self, x: np.ndarray) -> Any:
        return self.nn.to_native(x, "/CPU:0")

    def forward(self, net: Any, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        return self.nn.to_numpy(net(*map(self.native, inputs), training=training))

    def weighted_sum_grads(
        self, net: Any, inputs: list[np.ndarray], weights: np.ndarray, training: bool
    ) -> list[np.ndarray]:
        with self.tf.GradientTape() as tape:
            out = net(*map(self.native, inputs), training=training)
            loss = self.tf.reduce_sum(out * self.native(weights))
        grads = tape.gradient(loss, net.trainable_parameters())
        # an Embedding's gradient is IndexedSlices (sparse); densify to compare
        return [self.tf.convert_to_tensor(g).numpy() for g in grads]

    def penalty_grads(
        self, net: Any, inputs: list[np.ndarray], compiled: bool = False
    ) -> tuple[float, list[np.ndarray]]:
        tf = self.tf

        def penalty(x: Any, *rest: Any) -> tuple[Any, list[Any]]:
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    score = tf.reduce_sum(net(x, *rest))
                dx = tf.reshape(inner.gradient(score, x), [tf.shape(x)[0], -1])
                value = tf.reduce_mean((tf.norm(dx, axis=1) - 1.0) ** 2)
            zero = tf.UnconnectedGradients.ZERO
            return value, outer.gradient(
                value, net.trainable_parameters(), unconnected_gradients=zero
            )

        if compiled:
            penalty = tf.function(penalty, input_signature=signature(net.spec))
        value, grads = penalty(*map(self.native, inputs))
        return float(value), [tf.convert_to_tensor(g).numpy() for g in grads]

    def sgd_step(self, net: Any, grads: list[np.ndarray], lr: float) -> dict[str, np.ndarray]:
        for p, g in zip(net.trainable_parameters(), grads, strict=True):
            p.assign_sub(lr * g)
        return net.get_state()


def signature(spec: NetworkSpec) -> list[Any]:
    """tf.function input signature with a dynamic batch size."""
    import tensorflow as tf

    dtypes = {"int64": tf.int64, "float32": tf.float32}
    return [tf.TensorSpec([None, *i.shape], dtypes[i.dtype]) for i in spec.inputs]


ADAPTERS = {"torch": TorchAdapter, "tensorflow": TensorFlowAdapter}


def load(name: str) -> Any:
    # load_backend skips when the framework is missing, and fails under CI=true.
    load_backend(name)
    return ADAPTERS[name]()


@pytest.fixture(scope="module", params=FRAMEWORKS, ids=lambda name: name)
def backend(request: pytest.FixtureRequest) -> Any:
    """An adapter for each framework backend's `build_network`."""
    return load(request.param)


spec_names = pytest.mark.parametrize("spec_name", list(SPECS))


# -- per backend ------------------------------------------------------------------------------


@spec_names
def test_inference_matches_numpy(backend, spec_name):
    spec = SPECS[spec_name](dropout=0.25)  # dropout is the identity in inference
    state = random_state(spec, 0)
    inputs = random_inputs(spec, 1)
    out = backend.forward(backend.build(spec, state), inputs)
    assert out.shape == (BATCH, *spec.output_shape)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, forward_numpy(spec, state, *inputs), **TOL)


@spec_names
def test_training_matches_numpy_and_updates_buffers(backend, spec_name):
    spec = SPECS[spec_name]()
    state = random_state(spec, 2)
    inputs = random_inputs(spec, 3)
    net = backend.build(spec, state)
    expected, expected_state = forward_numpy_training(spec, state, *inputs)
    np.testing.assert_allclose(backend.forward(net, inputs, training=True), expected, **TOL)
    after = net.get_state()
    for name in expected_state:
        np.testing.assert_allclose(after[name], expected_state[name], **TOL, err_msg=name)
    for name in buffer_names(spec):  # the update really happened (momentum > 0)
        assert not np.allclose(after[name], state[name]), name


@spec_names
def test_state_round_trip(backend, spec_name):
    spec = SPECS[spec_name]()
    net = backend.build(spec, init_state(spec, 0))
    state = random_state(spec, 4)
    net.set_state(state)
    got = net.get_state()
    assert list(got) == list(state)
    for name, value in state.items():
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    # get_state gives copies: loading other weights afterwards leaves them as they were.
    net.set_state(random_state(spec, 5))
    for name, value in state.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@spec_names
def test_gradients_reach_every_parameter(backend, spec_name):
    spec = SPECS[spec_name]()
    net = backend.build(spec, random_state(spec, 5))
    inputs = random_inputs(spec, 6)
    assert len(net.trainable_parameters()) == len(trainable_names(spec))
    # Random weights: a plain sum is blind to some parameters (the gamma of a batch-normalised
    # output sums to zero gradient). Inference mode: with batch statistics, a bias just before
    # a BatchNorm rightly gets no gradient.
    weights = np.random.default_rng(7).normal(size=(BATCH, *spec.output_shape))
    grads = backend.weighted_sum_grads(net, inputs, weights, training=False)
    for name, grad in zip(trainable_names(spec), grads, strict=True):
        assert np.all(np.isfinite(grad)), name
        assert np.any(grad != 0), f"no gradient reaches {name}"


# Parameters that only shift the critic's score by a constant cannot change dD/dx.
SCORE_SHIFTS = {"layer_norm_2.beta", "dense_2.bias"}


def test_gradient_penalty_is_second_order_differentiable(backend):
    spec = critic()
    net = backend.build(spec, random_state(spec, 8))
    penalty, grads = backend.penalty_grads(net, random_inputs(spec, 9))
    assert np.isfinite(penalty) and penalty > 0
    for name, grad in zip(trainable_names(spec), grads, strict=True):
        assert np.all(np.isfinite(grad)), name
        if name in SCORE_SHIFTS:
            np.testing.assert_array_equal(grad, 0.0, err_msg=name)
        else:
            assert np.any(grad != 0), f"no penalty gradient reaches {name}"


def test_dropout_in_training(backend):
    spec = sequential("drop", (1000,), [Dropout(0.5)])
    x = np.ones((2, 1000), np.float32)
    net = backend.build(spec, {})
    np.testing.assert_array_equal(backend.forward(net, [x]), x)
    out = backend.forward(net, [x], training=True)
    assert set(np.unique(out)) <= {0.0, 2.0}  # kept values are scaled by 1 / (1 - rate)
    np.testing.assert_allclose((out == 0).mean(), 0.5, atol=0.05)


def test_set_state_rejects_bad_names_and_shapes(backend):
    spec = dcgan_generator()
    state = init_state(spec, 0)
    net = backend.build(spec, state)
    missing = {k: v for k, v in state.items() if k != "dense_1.bias"}
    with pytest.raises(InvalidArgumentError, match=r"missing \['dense_1.bias'\]"):
        net.set_state(missing)
    wrong = {**state, "conv_transpose2d_1.kernel": np.zeros((4, 4, 4, 8), np.float32)}
    with pytest.raises(
        InvalidArgumentError,
        match=r"state\['conv_transpose2d_1.kernel'\] must have shape \(4, 4, 8, 4\)",
    ):
        net.set_state(wrong)


def test_same_seed_same_network(backend):
    spec = unet()
    inputs = random_inputs(spec, 10)
    a = backend.forward(backend.build(spec, init_state(spec, 11)), inputs)
    b = backend.forward(backend.build(spec, init_state(spec, 11)), inputs)
    c = backend.forward(backend.build(spec, init_state(spec, 12)), inputs)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# -- TensorFlow inside tf.function ------------------------------------------------------------


def test_tensorflow_network_in_tf_function():
    backend = load("tensorflow")
    tf = backend.tf
    spec = conditional_critic()
    state = random_state(spec, 13)
    net = backend.build(spec, state)
    step = tf.function(lambda *xs: net(*xs, training=True), input_signature=signature(spec))
    expected_state = state
    for batch in (4, 6):  # one trace serves every batch size
        inputs = random_inputs(spec, batch, batch=batch)
        expected, expected_state = forward_numpy_training(spec, expected_state, *inputs)
        out = step(*map(backend.native, inputs)).numpy()
        np.testing.assert_allclose(out, expected, **TOL)
    assert step.experimental_get_tracing_count() == 1
    after = net.get_state()
    for name in buffer_names(spec):
        np.testing.assert_allclose(after[name], expected_state[name], **TOL, err_msg=name)

    # second order inside tf.function (a smooth critic, so every parameter matters)
    spec = critic()
    inputs = random_inputs(spec, 14)
    net = backend.build(spec, random_state(spec, 15))
    eager = backend.penalty_grads(net, inputs)
    compiled = backend.penalty_grads(net, inputs, compiled=True)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-5)
    for name, a, b in zip(trainable_names(spec), eager[1], compiled[1], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6, err_msg=name)


# -- across backends --------------------------------------------------------------------------


@spec_names
def test_torch_and_tensorflow_agree(spec_name):
    adapters = [load(name) for name in FRAMEWORKS]
    spec = SPECS[spec_name]()
    state = random_state(spec, 15)
    inputs = random_inputs(spec, 16)
    weights = np.random.default_rng(17).normal(size=(BATCH, *spec.output_shape))
    outputs, states = [], []
    for adapter in adapters:
        net = adapter.build(spec, state)
        outputs.append(adapter.forward(net, inputs))
        # one SGD step on a training-mode loss: gradients and buffer updates in one state
        grads = adapter.weighted_sum_grads(net, inputs, weights, training=True)
        states.append(adapter.sgd_step(net, grads, lr=0.1))
    np.testing.assert_allclose(outputs[0], outputs[1], **TOL)
    for name in states[0]:
        np.testing.assert_allclose(states[0][name], states[1][name], **TOL, err_msg=name)


def test_gradient_penalty_agrees_across_backends():
    adapters = [load(name) for name in FRAMEWORKS]
    spec = critic()
    state = random_state(spec, 18)
    inputs = random_inputs(spec, 19)
    results = [adapter.penalty_grads(adapter.build(spec, state), inputs) for adapter in adapters]
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4)
    states = [
        adapter.sgd_step(adapter.build(spec, state), grads, lr=1.0)
        for adapter, (_, grads) in zip(adapters, results, strict=True)
    ]
    for name in trainable_names(spec):
        np.testing.assert_allclose(states[0][name], states[1][name], **TOL, err_msg=name)
