"""DiffAugment: the numpy-drawn parameters mean what the paper's code computes (checked
against a direct loop implementation), and every backend augments a batch exactly as numpy
does, differentiably, in its own image layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gancore import InvalidArgumentError
from gancore.augment import DiffAugment

SHAPE = (8, 6, 3)


def _batch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (5, *SHAPE)).astype(np.float32)


def _shift(matrix: np.ndarray) -> int:
    """The shift a one-hot translation matrix encodes: out[i] = x[i + shift]."""
    i = int(np.flatnonzero(matrix.any(axis=1))[0])
    return int(np.argmax(matrix[i])) - i


def _reference(x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """The paper's three steps, written out sample by sample from the drawn parameters."""
    out = np.zeros(x.shape)
    h, w, _ = x.shape[1:]
    for n in range(len(x)):
        img = x[n].astype(np.float64) + (p["brightness"][n, 0, 0, 0] - 0.5)
        m = img.mean(axis=-1, keepdims=True)
        img = (img - m) * 2 * p["saturation"][n, 0, 0, 0] + m
        img = (img - img.mean()) * (p["contrast"][n, 0, 0, 0] + 0.5) + img.mean()
        dy, dx = _shift(p["rows"][n]), _shift(p["cols"][n])
        for i in range(h):
            for j in range(w):
                if 0 <= i + dy < h and 0 <= j + dx < w:
                    out[n, i, j] = img[i + dy, j + dx] * p["mask"][n, i, j, 0]
    return out


def test_draw_gives_the_papers_ranges() -> None:
    p = DiffAugment().draw(np.random.default_rng(0), 400, (32, 32, 3))
    for name in ("brightness", "saturation", "contrast"):
        assert p[name].shape == (400, 1, 1, 1) and p[name].min() >= 0 and p[name].max() < 1
    shifts = {int(np.argmax(m[16])) - 16 for m in p["rows"]}
    assert shifts == set(range(-4, 5))  # round(0.125 * 32) = 4
    assert np.all(p["rows"].sum(axis=2) <= 1)
    zeros = (p["mask"][..., 0] == 0).sum(axis=(1, 2))
    assert zeros.max() == 16 * 16 and zeros.min() > 0  # a 16x16 square, clipped at edges
    np.testing.assert_array_equal(p["cols_t"], p["cols"].transpose(0, 2, 1))


def test_numpy_apply_matches_the_direct_implementation() -> None:
    aug = DiffAugment()
    x = _batch()
    p = aug.draw(np.random.default_rng(1), len(x), SHAPE)
    np.testing.assert_allclose(aug.apply(x.astype(np.float64), p), _reference(x, p),
                               rtol=1e-6, atol=1e-6)


def test_one_policy_at_a_time_and_bad_arguments() -> None:
    x = _batch(2).astype(np.float64)
    p = DiffAugment(policy="cutout").draw(np.random.default_rng(0), len(x), SHAPE)
    assert set(p) == {"mask"}
    np.testing.assert_array_equal(DiffAugment(policy=["cutout"]).apply(x, p), x * p["mask"])
    with pytest.raises(InvalidArgumentError, match="policy must be distinct names"):
        DiffAugment(policy=("colour",))
    with pytest.raises(InvalidArgumentError, match=r"cutout_ratio must be a number in \[0, 1\]"):
        DiffAugment(cutout_ratio=2)


def test_every_backend_augments_alike_and_differentiably(backend: Any) -> None:
    aug = DiffAugment()
    x = _batch(3)
    p = aug.draw(np.random.default_rng(4), len(x), SHAPE)
    expected = aug.apply(x.astype(np.float64), p)
    weights = np.random.default_rng(5).normal(size=expected.shape)
    if backend.name == "torch":
        from gancore_torch._nn import to_native, to_numpy

        xt = to_native(x).requires_grad_(True)
        out = aug.apply(xt, {k: to_native(v) for k, v in p.items()}, channels_first=True)
        (out * to_native(weights)).sum().backward()
        got, grad = to_numpy(out), to_numpy(xt.grad)
    else:
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = aug.apply(xt, {k: tf.constant(v) for k, v in p.items()})
            loss = tf.reduce_sum(out * tf.constant(weights, tf.float32))
        got, grad = out.numpy(), tape.gradient(loss, xt).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # the gradient of the weighted sum: numpy's vector-Jacobian product, from linearity
    basis = np.zeros_like(x, dtype=np.float64)
    jac = np.zeros(x.size)
    for i in range(x.size):
        basis.flat[i] = 1.0
        jac[i] = np.sum(weights * (aug.apply(x + basis, p) - aug.apply(x.astype(np.float64), p)))
        basis.flat[i] = 0.0
    np.testing.assert_allclose(grad.ravel(), jac, rtol=1e-3, atol=1e-3)
