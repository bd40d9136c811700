"""The tests of the conformance suite (run through `gancore.conformance`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gancore
import gancore.losses as gl
from gancore._numpy_backend import NUMPY_OPS
from gancore.conformance._cases import CASES, train
from gancore.conformance._examples import layer_example, layer_inputs
from gancore.conformance._optimizers import reference_updates
from gancore.nn import _layers as L
from gancore.nn import forward_numpy, forward_numpy_training, init_state, sequential
from gancore.training import OptimizerConfig, load_checkpoint, make_trainer

__all__ = [
    "conformance_backend",
    "conformance_trained",
    "pytest_generate_tests",
    "test_a_checkpoint_resumes_bit_for_bit",
    "test_a_checkpoint_samples_alike_on_the_numpy_reference",
    "test_activations_take_pytorchs_gradient_at_their_kinks",
    "test_compiled_and_eager_updates_agree",
    "test_dropout_masks_follow_the_random_state",
    "test_every_layer_matches_the_numpy_reference",
    "test_every_layer_trains_like_the_numpy_reference",
    "test_losses_match_the_numpy_reference",
    "test_optimizers_follow_pytorchs_arithmetic",
    "test_penalties_match_the_numpy_reference",
    "test_the_backend_meets_the_protocol",
    "test_training_steps_agree_with_another_backend",
]

FRAMEWORKS = ("torch", "tensorflow", "jax")
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

# float32 against the float64 reference, arithmetic in another order: a few ulps of the
# largest intermediate value.
LAYER_TOL = dict(rtol=1e-4, atol=1e-5)
# A whole training step on two backends (the cross-backend agreement tests' tolerance).
STEP_TOL = dict(rtol=2e-4, atol=2e-5)
SGD = OptimizerConfig("sgd", lr=0.01, momentum=0.5)


# -- which backend ------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise the suite by the module's ``BACKENDS`` (default: every installed
    framework backend), so test ids name the backend."""
    if "conformance_backend" in metafunc.fixturenames:
        names = getattr(metafunc.module, "BACKENDS", None)
        if names is None:
            names = [n for n in gancore.backends() if n != "numpy"]
        metafunc.parametrize("conformance_backend", list(names), indirect=True,
                             ids=lambda n: n, scope="session")


def _load(name: str) -> Any:
    try:
        return gancore.backend(name)
    except (gancore.PluginError, ImportError) as e:
        message = f"backend {name!r} is not available: {e}"
        if IN_CI:
            pytest.fail(f"{message} (under CI every backend must be tested)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def conformance_backend(request: pytest.FixtureRequest) -> Any:
    """The backend under test."""
    return _load(request.param)


def _unsupported(backend: Any) -> frozenset[str]:
    probe = getattr(backend, "unsupported_layers", None)
    return frozenset(probe()) if probe is not None else frozenset()


def _run(backend: Any, net: Any, inputs: list[np.ndarray], training: bool) -> np.ndarray:
    with backend.no_grad():
        out = net(*[backend.to_native(x) for x in inputs], training=training)
    return np.asarray(backend.to_numpy(out), np.float64)


# -- the contract -------------------------------------------------------------------------


def test_the_backend_meets_the_protocol(conformance_backend: Any) -> None:
    backend = conformance_backend
    assert isinstance(backend, gancore.Backend), (
        f"missing: {[m for m in _protocol_members() if not hasattr(backend, m)]}")
    info = type(backend).describe()
    assert isinstance(info, gancore.BackendInfo) and info.name == backend.name
    assert isinstance(backend.ops, gancore.ArrayOps)
    assert "cpu" in info.devices


def _protocol_members() -> list[str]:
    return sorted(m for m in dir(gancore.Backend) if not m.startswith("_"))


# -- layers -------------------------------------------------------------------------------


def _layer_case(backend: Any, kind: str, seed: int) -> tuple[Any, dict, Any]:
    if kind in _unsupported(backend):
        pytest.skip(f"the {backend.name} backend declares layer kind {kind!r} unsupported")
    spec = layer_example(kind)
    state = init_state(spec, seed)
    # Non-zero biases and shifted statistics, so every parameter changes the output.
    rng = np.random.default_rng(seed)
    for name in state:
        if name.endswith(("bias", "beta", "running_mean")):
            state[name] = rng.normal(0, 0.3, state[name].shape).astype(np.float32)
        elif name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 2.0, state[name].shape).astype(np.float32)
    return spec, state, backend.build_network(spec, state)


@pytest.mark.parametrize("kind", sorted(L.LAYER_KINDS))
def test_every_layer_matches_the_numpy_reference(conformance_backend: Any, kind: str) -> None:
    backend = conformance_backend
    spec, state, net = _layer_case(backend, kind, seed=1)
    inputs = layer_inputs(spec, batch=4, seed=2)
    np.testing.assert_allclose(_run(backend, net, inputs, training=False),
                               forward_numpy(spec, state, *inputs), **LAYER_TOL)
    got = net.get_state()
    assert got.keys() == state.keys()
    for name, value in state.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize("kind", sorted(L.LAYER_KINDS))
def test_every_layer_trains_like_the_numpy_reference(conformance_backend: Any,
                                                      kind: str) -> None:
    """Training mode: the output and the buffers it leaves (dropout: its masks' values)."""
    backend = conformance_backend
    spec, state, net = _layer_case(backend, kind, seed=3)
    inputs = layer_inputs(spec, batch=4, seed=4)
    got = _run(backend, net, inputs, training=True)
    if kind == "dropout":
        rate = next(n.layer.rate for n in spec.nodes if isinstance(n.layer, L.Dropout))
        before = forward_numpy(spec, state, *inputs)
        kept = got != 0
        assert 0 < kept.mean() < 1
        np.testing.assert_allclose(got[kept], before[kept] / (1 - rate), **LAYER_TOL)
        return
    out, new_state = forward_numpy_training(spec, state, *inputs)
    np.testing.assert_allclose(got, out, **LAYER_TOL)
    after = net.get_state()
    for name, value in new_state.items():
        np.testing.assert_allclose(after[name], value, err_msg=name, **LAYER_TOL)


@pytest.mark.parametrize("activation, slope, at_zero", [("leaky_relu", 0.2, 0.2),
                                                        ("relu", 0.0, 0.0)])
def test_activations_take_pytorchs_gradient_at_their_kinks(conformance_backend: Any,
                                                          activation: str, slope: float,
                                                          at_zero: float) -> None:
    """At exactly 0 an activation's derivative is PyTorch's: leaky ReLU's negative slope,
    ReLU's 0 (inputs sit on 0 exactly after cutout, zero padding or a ReLU)."""
    backend = conformance_backend
    spec = sequential("conformance-kinks", (4,),
                      [L.Activation(activation, negative_slope=slope or 0.01)])
    net = backend.build_network(spec, init_state(spec, 0))
    x = np.array([[-1.5, 0.0, 0.5, 0.0], [0.0, 2.0, -0.25, 0.0]], np.float32)
    _, grad = backend.ops.input_gradient(lambda v: net(v, training=True),
                                         backend.to_native(x))
    want = np.where(x > 0, 1.0, slope if activation == "leaky_relu" else 0.0).astype(np.float32)
    want[x == 0] = at_zero
    np.testing.assert_array_equal(np.asarray(backend.to_numpy(grad)), want)


_FEATURES = sequential("conformance-features", (3,), [L.Dense(4), L.BatchNorm(),
                                                      L.Activation("tanh"), L.Dense(1)])


@pytest.mark.parametrize("training", [False, True])
def test_a_network_returns_any_named_node(conformance_backend: Any, training: bool) -> None:
    """``net(..., output=name)``: that node's output, the nodes after it not run (in
    training, only the buffers up to it move); an unknown name is refused."""
    backend = conformance_backend
    x = np.random.default_rng(8).normal(size=(5, 3)).astype(np.float32)
    for node in _FEATURES.nodes:
        state = init_state(_FEATURES, 9)
        net = backend.build_network(_FEATURES, state)
        with backend.no_grad():
            out = net(backend.to_native(x), training=training, output=node.name)
        got = np.asarray(backend.to_numpy(out), np.float64)
        if training:
            want, new_state = forward_numpy_training(_FEATURES, state, x, output=node.name)
            for name, value in new_state.items():
                np.testing.assert_allclose(net.get_state()[name], value, err_msg=name,
                                           **LAYER_TOL)
        else:
            want = forward_numpy(_FEATURES, state, x, output=node.name)
        np.testing.assert_allclose(got, want, err_msg=node.name, **LAYER_TOL)
    with pytest.raises(gancore.InvalidArgumentError, match="dense_1, batch_norm_1"):
        net(backend.to_native(x), output="no-such-node")


def test_dropout_masks_follow_the_random_state(conformance_backend: Any) -> None:
    backend = conformance_backend
    spec, _, net = _layer_case(backend, "dropout", seed=5)
    inputs = layer_inputs(spec, batch=16, seed=6)
    saved = backend.random_state()
    first = _run(backend, net, inputs, training=True)
    second = _run(backend, net, inputs, training=True)
    backend.set_random_state(saved)
    again = _run(backend, net, inputs, training=True)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(again, first)


# -- losses and penalties -----------------------------------------------------------------

# Scores at odd multiples of 1/128: never on a kink (hinge's +-1, relu's 0), where the
# reference's finite differences and autodiff may pick different one-sided slopes.
_score = st.integers(-1024, 1023).map(lambda k: (k + 0.5) / 128)
_extreme = st.sampled_from([-1e4 - 0.5, -60.5, 60.5, 1e4 + 0.5])
# A few batch sizes (1 included), so that compiled kernels are reused between examples.
_scores = st.sampled_from([1, 2, 5]).flatmap(
    lambda n: st.lists(st.one_of(_score, _score, _score, _extreme), min_size=n, max_size=n))


def _score_losses() -> dict[str, tuple[Callable[..., Any], int]]:
    """Every loss of scores: name -> (function of one or two score arrays, arity)."""
    out: dict[str, tuple[Callable[..., Any], int]] = {}
    for family in gl.LOSS_FAMILIES.values():
        out[family.critic.__name__] = (family.critic, 2)
        out[family.generator.__name__] = (family.generator, 1)
    out["cycle_consistency_loss"] = (gl.cycle_consistency_loss, 2)
    out["identity_loss"] = (gl.identity_loss, 2)
    out["softmax_cross_entropy"] = (
        lambda logits: gl.softmax_cross_entropy(logits, np.arange(len(logits)) % 2), 1)
    out["semi_supervised_critic_loss"] = (
        lambda real, fake: gl.semi_supervised_critic_loss(
            real, np.arange(len(real)) % 2, gl.class_logits_to_score(real),
            gl.class_logits_to_score(fake)), 2)
    return out


_SCORE_LOSSES = _score_losses()


@pytest.mark.parametrize("name", sorted(_SCORE_LOSSES))
@settings(max_examples=10, deadline=None)
@given(values=_scores, data=st.data())
def test_losses_match_the_numpy_reference(conformance_backend: Any, name: str,
                                          values: list[float], data: Any) -> None:
    """Value and gradient of each score input, batch 1 and patch maps included (as (n, 2)
    score maps), extreme logits giving no inf or nan."""
    backend = conformance_backend
    fn, arity = _SCORE_LOSSES[name]
    n = len(values)
    arrays = [np.array(values, np.float64).reshape(n, 1)]
    if arity == 2:
        # Off the first input's grid by 1/512 (odd multiples of 1/512): an L1 distance
        # never sits at its kink, nor a hinge at +-1 or a ReLU at 0.
        second = data.draw(st.lists(_score, min_size=n, max_size=n))
        arrays.append(np.array(second, np.float64).reshape(n, 1) + 1 / 512)
    if "softmax" in name or "semi" in name:
        arrays = [np.concatenate([a, a[::-1] * 0.5], axis=1) for a in arrays]
    natives = [backend.to_native(a) for a in arrays]
    for i in range(arity):
        def on_native(x: Any, i: int = i) -> Any:
            return fn(*natives[:i], x, *natives[i + 1:])

        def on_numpy(x: Any, i: int = i) -> Any:
            return fn(*arrays[:i], x, *arrays[i + 1:])

        value, grad = backend.ops.input_gradient(on_native, natives[i])
        ref_value, ref_grad = NUMPY_OPS.input_gradient(on_numpy, arrays[i])
        value, grad = backend.to_numpy(value), backend.to_numpy(grad)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)), name
        scale = 1.0 + np.max(np.abs(arrays[i]))
        np.testing.assert_allclose(value, ref_value, rtol=1e-4, atol=1e-6 * scale)
        # The reference's central differences (step 1e-6, float64) carry a rounding error
        # of about 2e-10 of the loss's own size: a loss of 1e7 has gradients to 2e-3.
        fd_error = 2e-9 * float(np.sum(np.abs(ref_value)))
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-4 + fd_error)


_CRITIC = sequential("conformance-critic", (3,), [L.Dense(4), L.Activation("tanh"),
                                                   L.Dense(1)])


@pytest.mark.parametrize("penalty", ["gradient_penalty", "r1_penalty"])
def test_penalties_match_the_numpy_reference(conformance_backend: Any, penalty: str) -> None:
    backend = conformance_backend
    state = init_state(attrs.evolve(_CRITIC, init="glorot"), 7)
    net = backend.build_network(_CRITIC, state)
    rng = np.random.default_rng(8)
    real, fake = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(2))
    eps = rng.random(5).astype(np.float32)

    def reference(x: np.ndarray) -> np.ndarray:
        return forward_numpy(_CRITIC, state, x)

    def critic(x: Any) -> Any:
        return net(x, training=True)

    if penalty == "gradient_penalty":
        got = gl.gradient_penalty(critic, backend.to_native(real), backend.to_native(fake),
                                  10.0, eps=backend.to_native(eps))
        want = gl.gradient_penalty(reference, real.astype(np.float64),
                                   fake.astype(np.float64), 10.0, eps=eps.astype(np.float64))
    else:
        got = gl.r1_penalty(critic, backend.to_native(real), 10.0)
        want = gl.r1_penalty(reference, real.astype(np.float64), 10.0)
    np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-4, atol=1e-6)


# -- optimizers and updates ---------------------------------------------------------------

# One kernel, read back as it is: with the identity as the batch, the network's output is
# its kernel, and sum(output * G) has the gradient G.
_IDENTITY = sequential("conformance-kernel", (3,), [L.Dense(4, use_bias=False)])


def _kernel_update(backend: Any, config: OptimizerConfig, start: np.ndarray, *,
                   compile: bool = False) -> tuple[Any, Any, Callable[[np.ndarray], None]]:
    net = backend.build_network(_IDENTITY, {"dense_1.kernel": start})
    opt = backend.make_optimizer(config, net.trainable_parameters())
    ops = backend.ops

    def objective(inputs: Any) -> Any:
        loss = ops.sum(net(inputs["x"], training=True) * inputs["g"])
        return loss, {"loss": ops.stop_gradient(loss)}

    update = backend.make_update(objective, opt, compile=compile)
    eye = backend.to_native(np.eye(3, dtype=np.float32))

    def step(g: np.ndarray) -> None:
        update({"x": eye, "g": backend.to_native(g)})

    return net, opt, step


_OPTIMIZERS = {
    "adam": OptimizerConfig.adam(1e-3, 0.5, 0.999),
    "adam-wgan-gp": OptimizerConfig.adam(1e-4, 0.0, 0.9),
    "rmsprop": OptimizerConfig.rmsprop(5e-3),
    "sgd-momentum": OptimizerConfig("sgd", lr=0.1, momentum=0.9),
}


@pytest.mark.parametrize("name", sorted(_OPTIMIZERS))
def test_optimizers_follow_pytorchs_arithmetic(conformance_backend: Any, name: str) -> None:
    """Four steps, the learning rate changed before the third, the optimizer's state
    moved into a fresh optimizer after the second (what a checkpoint does)."""
    backend, config = conformance_backend, _OPTIMIZERS[name]
    rng = np.random.default_rng(9)
    start = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(4)]
    net, opt, step = _kernel_update(backend, config, start)
    for g in grads[:2]:
        step(g)
    state = backend.optimizer_state(opt)
    moved, opt2, step2 = _kernel_update(backend, config, net.get_state()["dense_1.kernel"])
    backend.set_optimizer_state(opt2, state)
    backend.set_learning_rate(opt2, config.lr / 2)
    for g in grads[2:]:
        step2(g)
    want = reference_updates(config, start, grads, [config.lr] * 2 + [config.lr / 2] * 2)
    np.testing.assert_allclose(moved.get_state()["dense_1.kernel"], want, rtol=1e-6,
                               atol=1e-7)
    assert sorted(state) == sorted({"step", *_slots(config)})


def _slots(config: OptimizerConfig) -> tuple[str, ...]:
    return {"adam": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",),
            "sgd": ("momentum_buffer",)}[config.name]


def test_compiled_and_eager_updates_agree(conformance_backend: Any) -> None:
    backend = conformance_backend
    rng = np.random.default_rng(10)
    start = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    results = []
    for compile in (False, True):
        net, _, step = _kernel_update(backend, _OPTIMIZERS["adam"], start, compile=compile)
        for g in grads:
            step(g)
        results.append(net.get_state()["dense_1.kernel"])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6, atol=1e-7)


# -- checkpoints --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conformance_trained(conformance_backend: Any, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Any, Any]]:
    folder = tmp_path_factory.mktemp(f"conformance-{conformance_backend.name}")
    trainer = train("cgan", conformance_backend.name, steps=1)
    yield trainer, trainer.save(folder / "checkpoint")


def test_a_checkpoint_samples_alike_on_the_numpy_reference(
        conformance_trained: tuple[Any, Any]) -> None:
    """And on every other installed backend: a checkpoint moves between backends."""
    trainer, path = conformance_trained
    want = trainer.sample(6, seed=3, labels=4)
    ckpt = load_checkpoint(path)
    for name in ("numpy", *(n for n in FRAMEWORKS if n in gancore.backends())):
        got = ckpt.sample(6, backend=name, seed=3, labels=4)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_checkpoint_resumes_bit_for_bit(conformance_backend: Any,
                                          conformance_trained: tuple[Any, Any]) -> None:
    trainer, path = conformance_trained
    arch, data, config = CASES["cgan"]
    resumed = make_trainer(arch(), data(), attrs.evolve(config, steps=2, log_every=1),
                           backend=conformance_backend.name)
    resumed.restore(load_checkpoint(path))
    for name, state in trainer.networks().items():
        for key, value in state.get_state().items():
            np.testing.assert_array_equal(resumed.networks()[name].get_state()[key], value)
    go_on = make_trainer(arch(), data(), attrs.evolve(config, steps=2, log_every=1),
                         backend=conformance_backend.name)
    go_on.restore(load_checkpoint(path))
    resumed.fit()
    go_on.fit()
    for name, net in resumed.networks().items():
        for key, value in net.get_state().items():
            np.testing.assert_array_equal(go_on.networks()[name].get_state()[key], value,
                                          err_msg=f"{name}.{key}")


# -- training against another backend ----------------------------------------------------


def _other(backend: Any) -> Any:
    names = [n for n in FRAMEWORKS if n != backend.name and n in gancore.backends()]
    if not names:
        pytest.skip(f"no other framework backend to compare {backend.name!r} with")
    return _load(names[0])


@functools.cache
def _sgd_run(case: str, backend: str) -> Any:
    """Two SGD steps of `case` on `backend`, trained once a session: run on torch and on
    TensorFlow, the suite compares the same pair from both sides."""
    return train(case, backend, steps=2, generator_optimizer=SGD, critic_optimizer=SGD)


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_steps_agree_with_another_backend(conformance_backend: Any,
                                                   case: str) -> None:
    """Two steps of each algorithm under SGD (whose step is proportional to the gradient,
    so every parameter's gradient is compared) give the same networks and samples."""
    other = _other(conformance_backend)
    runs = [_sgd_run(case, b.name) for b in (conformance_backend, other)]
    states = [{n: net.get_state() for n, net in r.networks().items()} for r in runs]
    assert states[0].keys() == states[1].keys()
    for net, state in states[1].items():
        for param, value in state.items():
            np.testing.assert_allclose(states[0][net][param], value, err_msg=f"{net}.{param}",
                                       **STEP_TOL)
    if case != "cyclegan":
        np.testing.assert_allclose(runs[0].sample(4, seed=1), runs[1].sample(4, seed=1),
                                   rtol=1e-3, atol=1e-4)

