"""The WGAN-GP gradient penalty, the R1 penalty and weight clipping on every backend.

A linear critic ``D(x) = <w, x> + b`` has input gradient ``w`` everywhere, so its penalty is
``weight * (||w|| - 1)^2`` for any interpolation, with parameter gradient
``weight * 2 (||w|| - 1) w / ||w||``. A small tanh MLP is checked against a closed-form
second-order reference written here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _helpers import load_backend, native, tensor_type, to_numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gancore
import gancore.losses as gl


def linear_critic(ops: Any, w: Any, b: float = 0.5) -> Any:
    """``D(x) = <w, x> + b`` per sample, written once against the backend's ops."""
    axes = tuple(range(1, len(ops.shape(w)) + 1))
    return lambda x: ops.sum(x * w, axis=axes) + b


def _variable(backend: Any, array: np.ndarray) -> Any:
    """A trainable native parameter holding `array` (numpy arrays stay numpy)."""
    if backend.name == "torch":
        import torch

        return torch.nn.Parameter(torch.tensor(array))
    if backend.name == "tensorflow":
        import tensorflow as tf

        return tf.Variable(array)
    return np.array(array)


def _param_grads(backend: Any, loss_fn: Any, params: list[Any]) -> list[np.ndarray]:
    """The gradient of ``loss_fn()`` w.r.t. native parameters, as numpy."""
    if backend.name == "torch":
        import torch

        return [g.numpy() for g in torch.autograd.grad(loss_fn(), params)]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn()
    return [g.numpy() for g in tape.gradient(loss, params)]


SAMPLE_SHAPES = [(1,), (3,), (2, 2, 1), (1, 2, 3)]


@st.composite
def linear_cases(draw: Any) -> dict[str, Any]:
    shape = draw(st.sampled_from(SAMPLE_SHAPES))
    batch = draw(st.integers(1, 5))
    values = st.floats(-3.0, 3.0, width=32)
    w = draw(hnp.arrays(np.float64, shape, elements=values).filter(
        lambda w: np.linalg.norm(w) > 0.05))
    eps_kind = draw(st.sampled_from(["array", "seed", "global"]))
    return {
        "real": draw(hnp.arrays(np.float64, (batch, *shape), elements=values)),
        "fake": draw(hnp.arrays(np.float64, (batch, *shape), elements=values)),
        "w": w,
        "weight": draw(st.sampled_from([10.0, 1.0, 0.25])),
        "eps": draw(hnp.arrays(np.float64, (batch,), elements=st.floats(0.0, 1.0)))
        if eps_kind == "array" else None,
        "rng": draw(st.integers(0, 2**32 - 1)) if eps_kind == "seed" else None,
        "dtype": draw(st.sampled_from([np.float32, np.float64])),
        "reduction": draw(st.sampled_from(gl.REDUCTIONS)),
    }


@given(case=linear_cases())
def test_linear_critic_penalty_is_weight_times_norm_gap_squared(any_backend: Any,
                                                                case: dict) -> None:
    dtype = case["dtype"]
    w = native(any_backend, case["w"].astype(dtype))
    real, fake = (native(any_backend, case[k].astype(dtype)) for k in ("real", "fake"))
    out = gl.gradient_penalty(linear_critic(any_backend.ops, w), real, fake, case["weight"],
                              eps=case["eps"], rng=case["rng"], reduction=case["reduction"])
    assert isinstance(out, tensor_type(any_backend))
    assert any_backend.ops.dtype_name(out) == np.dtype(dtype).name
    batch = case["real"].shape[0]
    per_sample = case["weight"] * (np.linalg.norm(case["w"].astype(dtype)) - 1.0) ** 2
    expected = {"mean": per_sample, "sum": batch * per_sample,
                "none": np.full(batch, per_sample)}[case["reduction"]]
    rtol = 1e-5 if dtype == np.float32 else 1e-7
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=rtol,
                               atol=rtol * case["weight"])


@given(case=linear_cases())
def test_linear_critic_penalty_gradient_wrt_the_weights(backend: Any, case: dict) -> None:
    w = _variable(backend, case["w"])
    real, fake = native(backend, case["real"]), native(backend, case["fake"])

    def penalty() -> Any:
        return gl.gradient_penalty(linear_critic(backend.ops, w), real, fake, case["weight"],
                                   eps=case["eps"], rng=case["rng"])

    (grad,) = _param_grads(backend, penalty, [w])
    norm = np.linalg.norm(case["w"])
    expected = case["weight"] * 2 * (norm - 1.0) * case["w"] / norm
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-9 * case["weight"])


def test_penalty_gradient_inside_tf_function() -> None:
    backend = load_backend("tensorflow")
    import tensorflow as tf

    w = tf.Variable(np.array([[0.3], [-1.2], [2.0]]))

    @tf.function
    def step(real: Any, fake: Any, eps: Any) -> Any:
        with tf.GradientTape() as tape:
            penalty = gl.gradient_penalty(linear_critic(backend.ops, w), real, fake, eps=eps)
        return penalty, tape.gradient(penalty, w)

    rng = np.random.default_rng(0)
    norm = np.linalg.norm(w.numpy())
    for _ in range(2):  # the second call reuses the traced graph
        real, fake = (tf.constant(rng.normal(size=(4, 3, 1))) for _ in range(2))
        penalty, grad = step(real, fake, tf.constant(rng.random(4)))
        np.testing.assert_allclose(penalty.numpy(), 10 * (norm - 1) ** 2, rtol=1e-10)
        np.testing.assert_allclose(grad.numpy(), 10 * 2 * (norm - 1) * w.numpy() / norm,
                                   rtol=1e-10)
    # A global-generator draw inside the graph works too: the penalty does not depend on eps.
    draw = tf.function(lambda r, f: gl.gradient_penalty(linear_critic(backend.ops, w), r, f))
    np.testing.assert_allclose(draw(real, fake).numpy(), 10 * (norm - 1) ** 2, rtol=1e-10)


@pytest.mark.parametrize("scale", [0.2, 0.9, 1.5])
def test_one_sided_penalty_ignores_norms_below_one(any_backend: Any, scale: float) -> None:
    w = np.array([[0.6, 0.8], [0.0, 0.0]]) * scale  # ||w|| = scale
    real, fake = (native(any_backend, np.random.default_rng(i).normal(size=(3, 2, 2)))
                  for i in range(2))
    critic = linear_critic(any_backend.ops, native(any_backend, w))
    one_sided = to_numpy(any_backend, gl.gradient_penalty(critic, real, fake, one_sided=True,
                                                          rng=0))
    expected = 10 * max(scale - 1.0, 0.0) ** 2
    np.testing.assert_allclose(one_sided, expected, rtol=1e-7, atol=1e-9)
    two_sided = to_numpy(any_backend, gl.gradient_penalty(critic, real, fake, rng=0))
    np.testing.assert_allclose(two_sided, 10 * (scale - 1.0) ** 2, rtol=1e-7)


def test_patch_map_critic_sums_its_map_per_sample(any_backend: Any) -> None:
    w = np.array([0.5, -0.25, 1.0])  # one weight per channel: a (b, 2, 2) score map
    critic = linear_critic(any_backend.ops, native(any_backend, w))
    shape = (3, 2, 2, 3)
    real, fake = (native(any_backend, np.random.default_rng(i).normal(size=shape))
                  for i in range(2))

    def patch_critic(x: Any) -> Any:
        out = critic(any_backend.ops.reshape(x, (-1, 3)))
        return any_backend.ops.reshape(out, (-1, 2, 2))

    assert any_backend.ops.shape(patch_critic(real)) == (3, 2, 2)
    out = gl.gradient_penalty(patch_critic, real, fake, 1.0, rng=3)
    # The summed map's input gradient is w at each of the 4 pixels: norm 2 ||w||.
    expected = (2 * np.linalg.norm(w) - 1.0) ** 2
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-7)


def test_labels_are_passed_to_the_critic(any_backend: Any) -> None:
    w = np.array([0.3, 0.4])  # ||w|| = 0.5
    labels = native(any_backend, np.array([0.0, 1.0, 3.0]))
    seen: list[Any] = []
    critic = linear_critic(any_backend.ops, native(any_backend, w))

    def conditional(x: Any, y: Any) -> Any:
        seen.append(y)
        return critic(x) * (1.0 + y)  # input gradient (1 + y) w

    real, fake = (native(any_backend, np.ones((3, 2)) * i) for i in range(2))
    out = gl.gradient_penalty(conditional, real, fake, labels=labels, rng=0, reduction="none")
    assert seen and all(y is labels for y in seen)
    expected = 10 * ((1 + np.array([0.0, 1.0, 3.0])) * 0.5 - 1.0) ** 2
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-7, atol=1e-12)


# --- a nonlinear critic against a closed-form second-order reference ------------------------

D, H = 6, 4  # input features (a (2, 3) sample), hidden units


def mlp_params(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(D, H)) * 0.7, rng.normal(size=H) * 0.3,
            rng.normal(size=H), np.array(0.1)]


def mlp_critic(backend: Any, params: list[Any]) -> Any:
    """``D(x) = sum(tanh(x W1 + b1) * w2) + b2`` on flattened samples, on native params."""
    w1, b1, w2, b2 = params
    ops = backend.ops
    tanh = {"numpy": np.tanh}.get(backend.name)
    if backend.name == "torch":
        import torch

        tanh = torch.tanh
    elif backend.name == "tensorflow":
        import tensorflow as tf

        tanh = tf.tanh
    return lambda x: ops.sum(tanh(ops.reshape(x, (-1, D)) @ w1 + b1) * w2, axis=-1) + b2


def mlp_input_gradient_penalty(params: list[np.ndarray], x_hat: np.ndarray,
                               penalty: Any) -> tuple[float, list[np.ndarray]]:
    """A penalty of `mlp_critic`'s input gradient and its gradient w.r.t. w1, b1 and w2 (the
    bias b2 does not reach the input gradient), in closed form. ``penalty(g)`` returns the
    penalty's value for the input gradients ``g`` (n, D) and its derivative ``d P / d g``."""
    w1, b1, w2, _ = params
    x = x_hat.reshape(x_hat.shape[0], D)
    a = np.tanh(x @ w1 + b1)
    s = 1 - a**2
    v = w2 * s  # d D / d (hidden pre-activation)
    g = v @ w1.T  # the input gradient, (n, D)
    value, u = penalty(g)  # u = d P / d g
    q = u @ w1  # d P / d v
    k = -2 * a * (q * w2) * s  # d P / d (pre-activation), through s = 1 - tanh^2
    return value, [u.T @ v + x.T @ k, k.sum(axis=0), np.sum(q * s, axis=0)]


def mlp_penalty_reference(params: list[np.ndarray], x_hat: np.ndarray,
                          weight: float) -> tuple[float, list[np.ndarray]]:
    """The WGAN-GP penalty (mean reduction) of `mlp_critic` and its parameter gradients."""

    def penalty(g: np.ndarray) -> tuple[float, np.ndarray]:
        norm = np.sqrt(np.sum(g * g, axis=1) + 1e-12)
        du = (weight / len(g) * 2 * (norm - 1) / norm)[:, None] * g
        return weight * np.mean((norm - 1) ** 2), du

    return mlp_input_gradient_penalty(params, x_hat, penalty)


@st.composite
def mlp_cases(draw: Any) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    batch = draw(st.integers(1, 4))
    values = st.floats(-2.0, 2.0)
    real = draw(hnp.arrays(np.float64, (batch, 2, 3), elements=values))
    fake = draw(hnp.arrays(np.float64, (batch, 2, 3), elements=values))
    eps = draw(hnp.arrays(np.float64, (batch,), elements=st.floats(0.0, 1.0)))
    return draw(st.integers(0, 3)), real, fake, eps


@settings(max_examples=max(5, settings().max_examples // 3))
@given(case=mlp_cases())
def test_mlp_critic_penalty_matches_the_closed_form(any_backend: Any, case: tuple) -> None:
    seed, real, fake, eps = case
    params = mlp_params(seed)
    critic = mlp_critic(any_backend, [native(any_backend, p) for p in params])
    out = gl.gradient_penalty(critic, native(any_backend, real), native(any_backend, fake),
                              eps=eps)
    x_hat = eps[:, None, None] * real + (1 - eps[:, None, None]) * fake
    expected, _ = mlp_penalty_reference(params, x_hat, 10.0)
    # numpy's input gradient is a finite difference: close, not exact.
    rtol = 1e-6 if any_backend.name == "numpy" else 1e-10
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=rtol, atol=rtol)


@settings(max_examples=max(5, settings().max_examples // 3))
@given(case=mlp_cases())
def test_mlp_critic_penalty_parameter_gradients(backend: Any, case: tuple) -> None:
    seed, real, fake, eps = case
    params = mlp_params(seed)
    variables = [_variable(backend, p) for p in params[:3]]
    critic = mlp_critic(backend, [*variables, native(backend, params[3])])
    grads = _param_grads(
        backend,
        lambda: gl.gradient_penalty(critic, native(backend, real), native(backend, fake),
                                    eps=native(backend, eps)),
        variables,
    )
    x_hat = eps[:, None, None] * real + (1 - eps[:, None, None]) * fake
    _, expected = mlp_penalty_reference(params, x_hat, 10.0)
    for name, grad, want in zip(["w1", "b1", "w2"], grads, expected, strict=True):
        assert grad.dtype == np.float64, name
        np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("seed", [0, 12345])
def test_int_seed_draws_the_same_eps_on_every_backend(any_backend: Any, seed: int) -> None:
    rng = np.random.default_rng(99)
    real, fake = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 2, 3))
    params = mlp_params(1)
    critic = mlp_critic(any_backend, [native(any_backend, p) for p in params])
    out = gl.gradient_penalty(critic, native(any_backend, real), native(any_backend, fake),
                              rng=seed)
    # The documented draw: numpy's default_rng(seed).random(batch).
    eps = np.random.default_rng(seed).random(5)[:, None, None]
    expected, _ = mlp_penalty_reference(params, eps * real + (1 - eps) * fake, 10.0)
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-6)


def test_explicit_eps_may_be_native(backend: Any) -> None:
    w = native(backend, np.array([2.0, 0.0]))
    real, fake = native(backend, np.ones((3, 2))), native(backend, np.zeros((3, 2)))
    eps = native(backend, np.array([0.1, 0.5, 0.9]))
    out = gl.gradient_penalty(linear_critic(backend.ops, w), real, fake, 2.0, eps=eps)
    np.testing.assert_allclose(to_numpy(backend, out), 2.0, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fake": np.zeros((3, 2))},
         r"real and fake must have the same shape \(they are interpolated\); received real "
         r"\(4, 2\) and fake \(3, 2\)"),
        ({"eps": np.full(3, 0.5)}, r"eps must have shape \(4,\), one value per sample; "
                                   r"received \(3,\)"),
        ({"critic": "D"}, r"critic must be callable \(x -> scores\); received str"),
        ({"weight": -1.0}, r"weight must be >= 0; received -1.0"),
        ({"reduction": "avg"}, r"reduction must be one of .*; received 'avg'"),
        ({"rng": "seed"}, r"rng must be an int seed or a numpy.random.Generator; "
                          r"received 'seed'"),
        ({"real": np.zeros((4, 2), np.int64), "fake": np.zeros((4, 2), np.int64)},
         r"real must have a floating dtype; received int64"),
    ],
)
def test_gradient_penalty_rejects_bad_input(any_backend: Any, kwargs: dict, match: str) -> None:
    args: dict[str, Any] = {"real": np.zeros((4, 2)), "fake": np.zeros((4, 2))}
    args.update(kwargs)
    args = {k: native(any_backend, v) if isinstance(v, np.ndarray) and k != "eps" else v
            for k, v in args.items()}
    critic = args.pop("critic", linear_critic(any_backend.ops, native(any_backend, np.ones(2))))
    with pytest.raises(gancore.InvalidArgumentError, match=match):
        gl.gradient_penalty(critic, **args)


# --- the R1 penalty ------------------------------------------------------------------------


def mlp_r1_reference(params: list[np.ndarray], x: np.ndarray,
                     weight: float) -> tuple[float, list[np.ndarray]]:
    """``weight / 2 * mean(||grad D(x)||^2)`` of `mlp_critic` and its parameter gradients."""

    def penalty(g: np.ndarray) -> tuple[float, np.ndarray]:
        return weight / 2 * np.mean(np.sum(g * g, axis=1)), weight / len(g) * g

    return mlp_input_gradient_penalty(params, x, penalty)


@given(case=linear_cases())
def test_r1_of_a_linear_critic_is_half_weight_times_squared_norm(any_backend: Any,
                                                                 case: dict) -> None:
    dtype = case["dtype"]
    w = native(any_backend, case["w"].astype(dtype))
    real = native(any_backend, case["real"].astype(dtype))
    out = gl.r1_penalty(linear_critic(any_backend.ops, w), real, case["weight"],
                        reduction=case["reduction"])
    assert isinstance(out, tensor_type(any_backend))
    assert any_backend.ops.dtype_name(out) == np.dtype(dtype).name
    batch = case["real"].shape[0]
    per_sample = case["weight"] / 2 * np.sum(case["w"].astype(dtype) ** 2)
    expected = {"mean": per_sample, "sum": batch * per_sample,
                "none": np.full(batch, per_sample)}[case["reduction"]]
    rtol = 1e-5 if dtype == np.float32 else 1e-7
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=rtol,
                               atol=rtol * case["weight"])


@settings(max_examples=max(5, settings().max_examples // 3))
@given(case=mlp_cases())
def test_r1_of_an_mlp_critic_matches_the_closed_form(any_backend: Any, case: tuple) -> None:
    seed, real, _, _ = case
    params = mlp_params(seed)
    critic = mlp_critic(any_backend, [native(any_backend, p) for p in params])
    out = gl.r1_penalty(critic, native(any_backend, real), 3.0)
    expected, _ = mlp_r1_reference(params, real, 3.0)
    rtol = 1e-6 if any_backend.name == "numpy" else 1e-10
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=rtol, atol=rtol)


@settings(max_examples=max(5, settings().max_examples // 3))
@given(case=mlp_cases())
def test_r1_parameter_gradients_match_the_closed_form(backend: Any, case: tuple) -> None:
    seed, real, _, _ = case
    params = mlp_params(seed)
    variables = [_variable(backend, p) for p in params[:3]]
    critic = mlp_critic(backend, [*variables, native(backend, params[3])])
    grads = _param_grads(backend, lambda: gl.r1_penalty(critic, native(backend, real), 3.0),
                         variables)
    _, expected = mlp_r1_reference(params, real, 3.0)
    for name, grad, want in zip(["w1", "b1", "w2"], grads, expected, strict=True):
        assert grad.dtype == np.float64, name
        np.testing.assert_allclose(grad, want, rtol=1e-9, atol=1e-11, err_msg=name)


@settings(max_examples=max(5, settings().max_examples // 3))
@given(case=mlp_cases())
def test_r1_returns_the_scores_of_its_critic_pass(any_backend: Any, case: tuple) -> None:
    seed, real, _, _ = case
    params = mlp_params(seed)
    critic = mlp_critic(any_backend, [native(any_backend, p) for p in params])
    x = native(any_backend, real)
    penalty, scores = gl.r1_penalty(critic, x, 3.0, return_scores=True)
    np.testing.assert_allclose(to_numpy(any_backend, penalty),
                               to_numpy(any_backend, gl.r1_penalty(critic, x, 3.0)), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(any_backend, scores), to_numpy(any_backend, critic(x)),
                               rtol=1e-12)


@settings(max_examples=max(5, settings().max_examples // 3))
@given(case=mlp_cases())
def test_r1_scores_carry_the_critic_gradient(backend: Any, case: tuple) -> None:
    """A loss on the returned scores plus the penalty trains the critic as a loss on a
    separate critic pass plus the penalty does."""
    seed, real, _, _ = case
    params = mlp_params(seed)
    variables = [_variable(backend, p) for p in params[:3]]
    critic = mlp_critic(backend, [*variables, native(backend, params[3])])
    x = native(backend, real)
    ops = backend.ops

    def together() -> Any:
        penalty, scores = gl.r1_penalty(critic, x, 3.0, return_scores=True)
        return penalty + ops.mean(scores * scores)

    def apart() -> Any:
        scores = critic(x)
        return gl.r1_penalty(critic, x, 3.0) + ops.mean(scores * scores)

    for name, got, want in zip(["w1", "b1", "w2"], _param_grads(backend, together, variables),
                               _param_grads(backend, apart, variables), strict=True):
        assert np.any(want != 0), name
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


def test_r1_passes_labels_and_weights_samples(any_backend: Any) -> None:
    w = np.array([0.3, 0.4])  # ||w||^2 = 0.25
    labels = native(any_backend, np.array([0.0, 1.0, 3.0]))
    critic = linear_critic(any_backend.ops, native(any_backend, w))
    seen: list[Any] = []

    def conditional(x: Any, y: Any) -> Any:
        seen.append(y)
        return critic(x) * (1.0 + y)  # input gradient (1 + y) w

    real = native(any_backend, np.ones((3, 2)))
    weights = np.array([1.0, 0.5, 2.0])
    out = gl.r1_penalty(conditional, real, 2.0, labels=labels, sample_weights=weights,
                        reduction="none")
    assert seen and all(y is labels for y in seen)
    expected = weights * (1 + np.array([0.0, 1.0, 3.0])) ** 2 * 0.25
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-7)


def test_r1_penalty_inside_tf_function() -> None:
    backend = load_backend("tensorflow")
    import tensorflow as tf

    w = tf.Variable(np.array([[0.3], [-1.2], [2.0]]))

    @tf.function
    def step(real: Any) -> Any:
        with tf.GradientTape() as tape:
            penalty = gl.r1_penalty(linear_critic(backend.ops, w), real, 4.0)
        return penalty, tape.gradient(penalty, w)

    penalty, grad = step(tf.constant(np.random.default_rng(0).normal(size=(4, 3, 1))))
    np.testing.assert_allclose(penalty.numpy(), 2.0 * np.sum(w.numpy() ** 2), rtol=1e-10)
    np.testing.assert_allclose(grad.numpy(), 4.0 * w.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"critic": "D"}, r"critic must be callable \(x -> scores\); received str"),
        ({"weight": -1.0}, r"weight must be >= 0; received -1.0"),
        ({"reduction": "avg"}, r"reduction must be one of .*; received 'avg'"),
        ({"real": np.zeros((4, 2), np.int64)}, r"real must have a floating dtype; received int64"),
        ({"sample_weights": np.ones(3)},
         r"sample_weights must have shape \(batch,\) = \(4,\).*received \(3,\)"),
    ],
)
def test_r1_penalty_rejects_bad_input(any_backend: Any, kwargs: dict, match: str) -> None:
    args: dict[str, Any] = {"real": np.zeros((4, 2))}
    args.update(kwargs)
    args = {k: native(any_backend, v) if k == "real" else v for k, v in args.items()}
    critic = args.pop("critic", linear_critic(any_backend.ops, native(any_backend, np.ones(2))))
    with pytest.raises(gancore.InvalidArgumentError, match=match):
        gl.r1_penalty(critic, **args)


# --- weight clipping ---------------------------------------------------------------------------


def _clip_inputs() -> list[np.ndarray]:
    return [np.array([[-0.5, 0.005], [0.02, -0.01]]), np.array([0.3, -0.001, 0.0])]


def test_clip_weights_clips_native_parameters_in_place(any_backend: Any) -> None:
    arrays = _clip_inputs()
    params = [_variable(any_backend, a) for a in arrays]
    before = [id(p) for p in params]
    assert gl.clip_weights(params, 0.01) is None
    assert [id(p) for p in params] == before
    for p, a in zip(params, arrays, strict=True):
        np.testing.assert_array_equal(to_numpy(any_backend, p), np.clip(a, -0.01, 0.01))


def test_clip_weights_takes_a_network_with_trainable_parameters(any_backend: Any) -> None:
    params = [_variable(any_backend, a) for a in _clip_inputs()]

    class Network:
        def trainable_parameters(self) -> list[Any]:
            return params

    gl.clip_weights(Network(), c=0.1)
    for p, a in zip(params, _clip_inputs(), strict=True):
        np.testing.assert_array_equal(to_numpy(any_backend, p), np.clip(a, -0.1, 0.1))


@pytest.mark.parametrize(
    ("params", "c", "match"),
    [
        ([np.zeros(2)], 0.0, r"c must be > 0; received 0.0"),
        ([np.zeros(2)], -0.01, r"c must be > 0; received -0.01"),
        ([], 0.01, r"params must be a non-empty sequence of parameters or a network; "
                   r"received \[\]"),
        (None, 0.01, r"params must be a non-empty sequence .*received None"),
    ],
)
def test_clip_weights_rejects_bad_input(params: Any, c: float, match: str) -> None:
    with pytest.raises(gancore.InvalidArgumentError, match=match):
        gl.clip_weights(params, c)
