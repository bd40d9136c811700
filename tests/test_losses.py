"""Golden values, label flipping, fused-override dispatch and error messages of the losses.

The random-input property tests are in test_losses_properties.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _helpers import load_backend, native, tensor_type, to_numpy

import gancore
import gancore.losses as gl

# --- 3. golden values ----------------------------------------------------------------------

# The scores of TF-GAN's loss tests (tensorflow_gan/python/losses/losses_impl_test.py).
REAL = [-5.0, 1.4, 12.5, 2.7]
FAKE = [10.0, 4.4, -5.5, 3.6]


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# -mean softplus(fake), and mean softplus(-real) + mean softplus(fake), summed by hand.
MINIMAX_GENERATOR = -sum(_softplus(f) for f in FAKE) / 4
MINIMAX_CRITIC = sum(_softplus(-r) for r in REAL) / 4 - MINIMAX_GENERATOR
# 0.5 * (mean (real - 1)^2 + mean fake^2) = 0.5 * (171.3 / 4 + 162.57 / 4)
LEAST_SQUARES_CRITIC = 41.73375
# With one-sided smoothing 0.1 the real target is 0.9: mean softplus(r) - 0.9 r.
SMOOTHED_CRITIC = sum(_softplus(r) - 0.9 * r for r in REAL) / 4 - MINIMAX_GENERATOR

GOLDEN_PAIR = [
    # From TF-GAN's tests.
    ("wasserstein_critic_loss", {}, 0.225),
    ("hinge_critic_loss", {}, 6.75),
    # Computed by hand.
    ("minimax_critic_loss", {}, MINIMAX_CRITIC),
    ("minimax_critic_loss", {"smoothing": 0.1}, SMOOTHED_CRITIC),
    ("minimax_critic_loss", {"reduction": "sum"}, 4 * MINIMAX_CRITIC),
    ("least_squares_critic_loss", {}, LEAST_SQUARES_CRITIC),
    ("least_squares_critic_loss", {"scale": 1.0}, 2 * LEAST_SQUARES_CRITIC),
]
GOLDEN_GENERATOR = [
    # From TF-GAN's tests.
    ("nonsaturating_generator_loss", {}, 1.38582),
    ("wasserstein_generator_loss", {}, -3.125),
    ("least_squares_generator_loss", {}, 17.69625),
    # Computed by hand.
    ("minimax_generator_loss", {}, MINIMAX_GENERATOR),
    ("hinge_generator_loss", {}, -3.125),
    ("least_squares_generator_loss", {"scale": 1.0}, 35.3925),
    ("wasserstein_generator_loss", {"reduction": "sum"}, -12.5),
]


def test_hand_computed_goldens_are_what_they_say() -> None:
    np.testing.assert_allclose(MINIMAX_GENERATOR, -4.510821, rtol=0, atol=1e-6)
    np.testing.assert_allclose(MINIMAX_CRITIC, 5.833866, rtol=0, atol=1e-6)
    # The non-saturating loss is the minimax one plus mean(fake): softplus(-x) = softplus(x) - x.
    np.testing.assert_allclose(-MINIMAX_GENERATOR - sum(FAKE) / 4, 1.38582, rtol=0, atol=1e-5)


def _float32(backend: Any, values: Any) -> Any:
    return native(backend, np.asarray(values, dtype=np.float32))


@pytest.mark.parametrize(("loss", "kwargs", "expected"), GOLDEN_PAIR)
def test_critic_golden_values(any_backend: Any, loss: str, kwargs: dict,
                              expected: float) -> None:
    out = getattr(gl, loss)(_float32(any_backend, REAL), _float32(any_backend, FAKE), **kwargs)
    assert isinstance(out, tensor_type(any_backend))
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("loss", "kwargs", "expected"), GOLDEN_GENERATOR)
def test_generator_golden_values(any_backend: Any, loss: str, kwargs: dict,
                                 expected: float) -> None:
    out = getattr(gl, loss)(_float32(any_backend, FAKE), **kwargs)
    assert isinstance(out, tensor_type(any_backend))
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-5, atol=1e-6)


A = [[0.0, 1.0], [2.0, 3.0]]
B = [[0.5, 1.0], [1.0, 5.0]]  # |B - A| = [[0.5, 0], [1, 2]]: mean 0.875, sum 3.5


@pytest.mark.parametrize(
    ("loss", "kwargs", "expected"),
    [
        ("cycle_consistency_loss", {}, 8.75),  # lambda_cyc = 10
        ("cycle_consistency_loss", {"weight": 1.0, "reduction": "sum"}, 3.5),
        ("cycle_consistency_loss", {"sample_weights": [2.0, 0.0]}, 10 * 1.0 / 4),
        ("identity_loss", {}, 4.375),  # 0.5 * lambda_cyc = 5
        ("identity_loss", {"weight": 2.0, "reduction": "none"}, [[1.0, 0.0], [2.0, 4.0]]),
    ],
)
def test_reconstruction_golden_values(any_backend: Any, loss: str, kwargs: dict,
                                      expected: Any) -> None:
    out = getattr(gl, loss)(_float32(any_backend, A), _float32(any_backend, B), **kwargs)
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-6, atol=1e-6)


LOGITS = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
LABELS = [2, 1]
# -log softmax: log(e + e^2 + e^3) - 3 = 0.40760596 and log 3 = 1.09861229.
CROSS_ENTROPY = [0.40760596, 1.09861229]


def test_softmax_cross_entropy_golden_values(any_backend: Any) -> None:
    logits, labels = _float32(any_backend, LOGITS), native(any_backend, np.array(LABELS))
    for reduction, expected in [("none", CROSS_ENTROPY), ("mean", np.mean(CROSS_ENTROPY)),
                                ("sum", np.sum(CROSS_ENTROPY))]:
        out = gl.softmax_cross_entropy(logits, labels, reduction=reduction)
        np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=reduction)
    weighted = gl.softmax_cross_entropy(logits, labels, weights=[3.0, 1.0], reduction="sum")
    np.testing.assert_allclose(to_numpy(any_backend, weighted),
                               3 * CROSS_ENTROPY[0] + CROSS_ENTROPY[1], rtol=1e-6)


def test_class_logits_to_score_golden_values(any_backend: Any) -> None:
    out = gl.class_logits_to_score(_float32(any_backend, [[0.0, 0.0], [1.0, 1.0], [1e4, 0.0]]))
    np.testing.assert_allclose(to_numpy(any_backend, out),
                               [[math.log(2)], [1 + math.log(2)], [1e4]], rtol=1e-6)


def test_semi_supervised_critic_golden_value(any_backend: Any) -> None:
    out = gl.semi_supervised_critic_loss(
        _float32(any_backend, LOGITS), native(any_backend, np.array(LABELS)),
        _float32(any_backend, REAL), _float32(any_backend, FAKE), supervised_weight=2.0,
    )
    np.testing.assert_allclose(to_numpy(any_backend, out),
                               2 * np.mean(CROSS_ENTROPY) + MINIMAX_CRITIC, rtol=1e-5)


# --- 4. label flipping and smoothing (the random-input tests are property tests) -------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 64])
@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.25, 0.5, 1 / 3, 0.75, 1.0])
def test_label_flip_mask_flips_exactly_round_fraction_n(n: int, fraction: float) -> None:
    mask = gl.label_flip_mask(n, fraction, rng=7)
    assert mask.dtype == np.bool_ and mask.shape == (n,)
    assert mask.sum() == math.floor(fraction * n + 0.5)
    np.testing.assert_array_equal(mask, gl.label_flip_mask(n, fraction, rng=7))
    np.testing.assert_array_equal(
        mask, gl.label_flip_mask(n, fraction, rng=np.random.default_rng(7))
    )


def test_label_flip_mask_depends_on_the_seed() -> None:
    masks = {tuple(gl.label_flip_mask(16, 0.5, seed)) for seed in range(10)}
    assert len(masks) > 1


def test_flipping_is_off_by_default_and_needs_explicit_randomness(any_backend: Any) -> None:
    real, fake = _float32(any_backend, REAL), _float32(any_backend, FAKE)
    plain = to_numpy(any_backend, gl.minimax_critic_loss(real, fake))
    np.testing.assert_allclose(plain, MINIMAX_CRITIC, rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(any_backend, gl.minimax_critic_loss(real, fake, flip_fraction=0.0)), plain,
        rtol=0, atol=0,
    )
    for loss in (gl.minimax_critic_loss, gl.least_squares_critic_loss):
        with pytest.raises(gancore.InvalidArgumentError, match=r"rng .* received None"):
            loss(real, fake, flip_fraction=0.5)


def test_flipping_every_real_sample_swaps_its_label(any_backend: Any) -> None:
    real, fake = _float32(any_backend, REAL), _float32(any_backend, FAKE)
    out = gl.minimax_critic_loss(real, fake, flip_fraction=1.0, rng=0)
    expected = sum(_softplus(r) for r in REAL) / 4 - MINIMAX_GENERATOR
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-5)
    mask = np.array([True, False, False, True])
    out = gl.least_squares_critic_loss(real, fake, flip_mask=mask)
    target = np.where(mask, 0.0, 1.0)
    expected = 0.5 * (np.mean((np.array(REAL) - target) ** 2) + np.mean(np.square(FAKE)))
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-5)


# --- 5. fused overrides: dispatch ------------------------------------------------------------


def test_losses_dispatch_to_overrides_and_generic_only_bypasses_them(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = sorted(backend.ops.loss_overrides)
    if not names:
        pytest.skip(f"backend {backend.name} registers no fused loss")
    calls: list[str] = []
    for name in names:
        original = backend.ops.loss_overrides[name]

        def spy(*args: Any, _name: str = name, _original: Callable = original,
                **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setitem(backend.ops.loss_overrides, name, spy)
    real, fake = _float32(backend, REAL), _float32(backend, FAKE)
    for name in names:
        loss = getattr(gl, name)
        args = (real, fake) if "critic" in name else (fake,)
        loss(*args)
        assert calls[-1:] == [name]
        with gl.generic_only():
            loss(*args)
        assert calls.count(name) == 1


# --- 7. bad input: the error names the argument, what is allowed and what was received -------

F32 = np.float32
ERROR_CASES: list[tuple[str, Callable[[Callable], Any], str]] = [
    ("mismatched-shapes",
     lambda a: gl.minimax_critic_loss(a(np.zeros((4, 1), F32)), a(np.zeros((4, 2), F32))),
     r"real and fake must have the same per-sample shape; received real \(4, 1\) and "
     r"fake \(4, 2\)"),
    ("none-needs-equal-batches",
     lambda a: gl.hinge_critic_loss(a(np.zeros((4, 1), F32)), a(np.zeros((3, 1), F32)),
                                    reduction="none"),
     r"real and fake must have the same shape for reduction='none'; received real \(4, 1\) "
     r"and fake \(3, 1\)"),
    ("empty-batch",
     lambda a: gl.nonsaturating_generator_loss(a(np.zeros((0, 1), F32))),
     r"fake must hold at least one sample; received shape \(0, 1\)"),
    ("integer-scores",
     lambda a: gl.wasserstein_critic_loss(a(np.zeros(4, np.int32)), a(np.zeros(4, F32))),
     r"real must have a floating dtype; received int32"),
    ("bad-reduction",
     lambda a: gl.least_squares_generator_loss(a(np.zeros(4, F32)), reduction="avg"),
     r"reduction must be one of 'mean', 'sum', 'none'; received 'avg'"),
    ("weights-shape",
     lambda a: gl.minimax_generator_loss(a(np.zeros((4, 1), F32)), weights=a(np.ones(3, F32))),
     r"weights must have shape \(batch,\) = \(4,\) or the scores' shape \(4, 1\); "
     r"received \(3,\)"),
    ("real-weights-shape",
     lambda a: gl.minimax_critic_loss(a(np.zeros(4, F32)), a(np.zeros(4, F32)),
                                      real_weights=np.ones((4, 2))),
     r"real_weights must have shape .*; received \(4, 2\)"),
    ("scalar-scores",
     lambda a: gl.hinge_generator_loss(a(np.float32(1.0))),
     r"fake must have a batch axis \(shape \(batch, \.\.\.\)\); received a scalar"),
    ("python-float-scores",
     lambda a: gl.wasserstein_generator_loss(1.0),
     r"fake must be an array with a batch axis; received float"),
    ("labels-out-of-range",
     lambda a: gl.softmax_cross_entropy(a(np.zeros((2, 3), F32)), a(np.array([0, 5]))),
     r"labels must be in \[0, 3\); received values from 0 to 5"),
    ("negative-labels",
     lambda a: gl.softmax_cross_entropy(a(np.zeros((2, 3), F32)), a(np.array([-1, 1]))),
     r"labels must be in \[0, 3\); received values from -1 to 1"),
    ("float-labels",
     lambda a: gl.softmax_cross_entropy(a(np.zeros((2, 3), F32)), a(np.array([0.0, 1.0], F32))),
     r"labels must have an integer dtype; received float32"),
    ("labels-shape",
     lambda a: gl.softmax_cross_entropy(a(np.zeros((2, 3), F32)), a(np.array([0, 1, 2]))),
     r"labels must have shape \(2,\), one class per labelled sample; received \(3,\)"),
    ("logits-rank",
     lambda a: gl.softmax_cross_entropy(a(np.zeros((2, 3, 1), F32)), a(np.array([0, 1]))),
     r"logits must have shape \(batch, K\); received \(2, 3, 1\)"),
    ("class-logits-rank",
     lambda a: gl.class_logits_to_score(a(np.zeros(2, F32))),
     r"class_logits must have shape \(batch, K\); received \(2,\)"),
    ("semi-supervised-none",
     lambda a: gl.semi_supervised_critic_loss(a(np.zeros((2, 3), F32)), a(np.array([0, 1])),
                                              a(np.zeros(2, F32)), a(np.zeros(2, F32)),
                                              reduction="none"),
     r"reduction must be 'mean' or 'sum' for the semi-supervised loss .*received 'none'"),
    ("smoothing-range",
     lambda a: gl.minimax_critic_loss(a(np.zeros(2, F32)), a(np.zeros(2, F32)), smoothing=1.0),
     r"smoothing must be in \[0, 1\); received 1.0"),
    ("flip-fraction-range",
     lambda a: gl.least_squares_critic_loss(a(np.zeros(2, F32)), a(np.zeros(2, F32)),
                                            flip_fraction=1.5, rng=0),
     r"flip_fraction must be in \[0, 1\]; received 1.5"),
    ("flip-mask-shape",
     lambda a: gl.minimax_critic_loss(a(np.zeros(2, F32)), a(np.zeros(2, F32)),
                                      flip_mask=np.array([True, False, True])),
     r"flip_mask must be a boolean array of shape \(2,\); received bool array of shape \(3,\)"),
    ("flip-rng-type",
     lambda a: gl.minimax_critic_loss(a(np.zeros(2, F32)), a(np.zeros(2, F32)),
                                      flip_fraction=0.5, rng="seed"),
     r"rng must be an int seed or a numpy.random.Generator; received 'seed'"),
    ("cycle-shapes",
     lambda a: gl.cycle_consistency_loss(a(np.zeros((2, 3), F32)), a(np.zeros((2, 4), F32))),
     r"real and reconstructed must have the same shape; received real \(2, 3\) and "
     r"reconstructed \(2, 4\)"),
    ("identity-weight",
     lambda a: gl.identity_loss(a(np.zeros(2, F32)), a(np.zeros(2, F32)), weight=-1.0),
     r"weight must be >= 0; received -1.0"),
]


@pytest.mark.parametrize(("call", "match"), [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_bad_input_raises_a_helpful_error(any_backend: Any, call: Callable, match: str) -> None:
    with pytest.raises(gancore.InvalidArgumentError, match=match):
        call(lambda array: native(any_backend, array))


def test_errors_are_gancore_errors_and_value_errors() -> None:
    with pytest.raises(gancore.GancoreError):
        gl.wasserstein_generator_loss(np.zeros(2, F32), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        gl.wasserstein_generator_loss(np.zeros(2, F32), reduction="avg")


@pytest.mark.parametrize("loss", ["minimax_critic_loss", "wasserstein_critic_loss"])
def test_mixed_frameworks_raise_an_error_naming_both(loss: str) -> None:
    torch_backend, tf_backend = load_backend("torch"), load_backend("tensorflow")
    real = _float32(torch_backend, REAL)
    fake = _float32(tf_backend, FAKE)
    with pytest.raises(gancore.InvalidArgumentError,
                       match=r"one framework; received real from torch and fake from tensorflow"):
        getattr(gl, loss)(real, fake)
    with pytest.raises(gancore.InvalidArgumentError,
                       match=r"one framework; received real from tensorflow and fake from torch"):
        getattr(gl, loss)(_float32(tf_backend, REAL), _float32(torch_backend, FAKE))


def test_every_public_name_has_a_docstring() -> None:
    for name in gl.__all__:
        obj = getattr(gl, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name


@pytest.mark.parametrize(
    "loss",
    [
        gancore.losses.minimax_critic_loss,
        gancore.losses.hinge_critic_loss,
        gancore.losses.wasserstein_critic_loss,
        gancore.losses.least_squares_critic_loss,
    ],
)
def test_numpy_scores_beside_native_scores_are_refused(backend: Any, loss: Any) -> None:
    real = native(backend, np.zeros((3, 1), np.float32))
    fake = np.zeros((3, 1), np.float32)
    with pytest.raises(gancore.InvalidArgumentError, match=f"fake must be a {backend.name} tensor"):
        loss(real, fake)
