"""Tests of gancore.metrics: golden values on hand-computed inputs, agreement with direct
re-implementations, properties, and input validation."""

from __future__ import annotations

import itertools
import subprocess
import sys

import attrs
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from gancore import GancoreError, InvalidArgumentError
from gancore.metrics import (
    PRDC,
    ModeReport,
    _distances,
    _frechet,
    conditional_accuracy,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    inception_score,
    mode_metrics,
    prdc,
)

PROPERTY = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)

RING = np.array([[np.cos(2 * np.pi * i / 8), np.sin(2 * np.pi * i / 8)] for i in range(8)])
GRID = np.array(list(itertools.product(range(-4, 5, 2), repeat=2)), dtype=float)


def test_import_gancore_does_not_import_metrics() -> None:
    code = "import sys, gancore; print('gancore.metrics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- mode_metrics -----------------------------------------------------------------------


def test_mode_metrics_samples_on_the_means_capture_every_mode() -> None:
    report = mode_metrics(np.repeat(RING, 10, axis=0), RING, std=0.01)
    assert report.modes_captured == 8
    assert report.num_modes == 8
    assert report.high_quality_fraction == 1.0
    np.testing.assert_allclose(report.reverse_kl, 0.0, atol=1e-15)
    np.testing.assert_array_equal(report.counts, np.full(8, 10))


def test_mode_metrics_all_samples_on_one_mode_give_log_k() -> None:
    report = mode_metrics(np.tile(GRID[3], (50, 1)), GRID, std=0.05)
    assert report.modes_captured == 1
    assert report.high_quality_fraction == 1.0
    np.testing.assert_allclose(report.reverse_kl, np.log(25), rtol=1e-12)
    assert report.counts[3] == 50


def test_mode_metrics_far_samples_are_not_high_quality_and_kl_is_nan() -> None:
    report = mode_metrics(np.full((20, 2), 100.0), GRID, std=0.05)
    assert report.modes_captured == 0
    assert report.high_quality_fraction == 0.0
    # PacGAN's code normalises the empty histogram as 0 / 0: nan, not a number to rank.
    assert np.isnan(report.reverse_kl)
    np.testing.assert_array_equal(report.counts, np.zeros(25))


def test_mode_metrics_hand_computed_case() -> None:
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[0.0, 0.5], [2.9, 0.0], [3.1, 0.0], [9.0, 0.0]])
    report = mode_metrics(samples, means, std=1.0)
    # Mode 0 gets 2 high-quality samples (0.5 and 2.9 std away; 3.1 is outside), mode 1 one.
    np.testing.assert_array_equal(report.counts, [2, 1])
    assert report.modes_captured == 2
    np.testing.assert_allclose(report.high_quality_fraction, 0.75)
    expected_kl = 2 / 3 * np.log(2 / 3 * 2) + 1 / 3 * np.log(1 / 3 * 2)
    np.testing.assert_allclose(report.reverse_kl, expected_kl, rtol=1e-12)


def test_mode_metrics_assigns_each_sample_to_its_nearest_mean_only() -> None:
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    # 4 from mode 0, 6 from mode 1: within threshold 10 of both, but counted once, for mode 0.
    report = mode_metrics(np.array([[4.0, 0.0]]), means, std=1.0, threshold=10.0)
    np.testing.assert_array_equal(report.counts, [1, 0])


def test_mode_metrics_threshold_is_in_units_of_std() -> None:
    samples = np.array([[0.0, 0.15]])  # 3 units of std 0.05 ... but 1.5 units of std 0.1
    assert mode_metrics(samples, GRID, std=0.1).modes_captured == 1
    assert mode_metrics(samples, GRID, std=0.1, threshold=1.4).modes_captured == 0


def test_mode_metrics_on_true_grid_samples_match_the_gaussian_rate() -> None:
    rng = np.random.default_rng(0)
    samples = GRID[rng.integers(0, 25, 2500)] + 0.05 * rng.normal(size=(2500, 2))
    report = mode_metrics(samples, GRID, std=0.05)
    assert report.modes_captured == 25
    # P(chi_2 < 3) = 1 - exp(-9 / 2) = 0.9889 for a 2-D isotropic Gaussian.
    np.testing.assert_allclose(report.high_quality_fraction, 1 - np.exp(-4.5), atol=0.01)
    assert report.reverse_kl < 0.02


@PROPERTY
@given(seed=SEEDS, n=st.integers(1, 60), k=st.integers(1, 10), scale=st.floats(0.1, 5.0))
def test_mode_metrics_invariants(seed: int, n: int, k: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, 2)) * 3
    samples = means[rng.integers(0, k, n)] + scale * rng.normal(size=(n, 2))
    report = mode_metrics(samples, means, std=1.0)
    assert report.counts.sum() == round(report.high_quality_fraction * n)
    assert report.modes_captured == np.count_nonzero(report.counts)
    assert 0.0 <= report.high_quality_fraction <= 1.0
    if report.counts.sum():
        assert -1e-12 <= report.reverse_kl <= np.log(k) + 1e-12
    else:
        assert np.isnan(report.reverse_kl)


def test_mode_report_is_frozen_and_compares_counts_by_value() -> None:
    first = mode_metrics(np.repeat(RING, 2, axis=0), RING, std=0.01)
    second = mode_metrics(np.repeat(RING, 2, axis=0), RING, std=0.01)
    assert first == second
    assert hash(first) == hash(second)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.modes_captured = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        first.counts[0] = 5
    assert isinstance(first, ModeReport)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"samples": np.zeros(4)}, r"samples must be a 2-D array .*received shape \(4,\)"),
        ({"samples": np.zeros((0, 2))}, r"samples must not be empty; received shape \(0, 2\)"),
        ({"samples": np.array([[np.nan, 0.0]])}, r"samples must be finite .*received 1"),
        ({"samples": np.zeros((3, 2), complex)}, r"samples must be a real numeric array"),
        ({"means": np.zeros((3, 3))}, r"same number of dimensions; .*\(3, 3\)"),
        ({"std": 0.0}, r"std must be a finite number > 0; received 0.0"),
        ({"std": float("nan")}, r"std must be a finite number > 0; received nan"),
        ({"std": "1"}, r"std must be a real number > 0; received '1'"),
        ({"threshold": -1.0}, r"threshold must be a finite number > 0; received -1.0"),
    ],
)
def test_mode_metrics_rejects_invalid_input(kwargs: dict, match: str) -> None:
    args = {"samples": np.zeros((3, 2)), "means": RING, "std": 0.01} | kwargs
    with pytest.raises(InvalidArgumentError, match=match):
        mode_metrics(**args)


# --- Frechet distance ---------------------------------------------------------------------


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def _reference_frechet(mu1, sigma1, mu2, sigma2) -> float:
    # tr sqrt(s1 s2) = tr sqrt(s1^1/2 s2 s1^1/2), a symmetric PSD matrix: both roots come
    # from symmetric eigendecompositions, with rounding-level negative eigenvalues clipped.
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    eigenvalues = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_root = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def test_frechet_identical_statistics_give_zero() -> None:
    rng = np.random.default_rng(1)
    mu, sigma = rng.normal(size=6), _random_spd(rng, 6)
    np.testing.assert_allclose(frechet_distance(mu, sigma, mu, sigma), 0.0, atol=1e-9)


def test_frechet_one_dimensional_gaussians() -> None:
    # N(1, 2^2) and N(3, 3^2): (1 - 3)^2 + (2 - 3)^2 = 5.
    value = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]]))
    np.testing.assert_allclose(value, 5.0, rtol=1e-12)


def test_frechet_diagonal_covariances_closed_form() -> None:
    a, b = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 1.0, 16.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    value = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    np.testing.assert_allclose(value, expected, rtol=1e-12)


@pytest.mark.parametrize("d", [1, 3, 16])
def test_frechet_matches_direct_scipy_computation(d: int) -> None:
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sigma1, sigma2 = _random_spd(rng, d), _random_spd(rng, d)
    np.testing.assert_allclose(
        frechet_distance(mu1, sigma1, mu2, sigma2),
        _reference_frechet(mu1, sigma1, mu2, sigma2),
        rtol=1e-8,
    )


@PROPERTY
@given(seed=SEEDS, d=st.integers(1, 8))
def test_frechet_is_symmetric_and_non_negative(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sigma1, sigma2 = _random_spd(rng, d), _random_spd(rng, d)
    forward = frechet_distance(mu1, sigma1, mu2, sigma2)
    np.testing.assert_allclose(forward, frechet_distance(mu2, sigma2, mu1, sigma1), rtol=1e-8)
    assert forward >= -1e-9


def test_feature_statistics_are_mean_and_unbiased_covariance() -> None:
    features = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, sigma = feature_statistics(features)
    np.testing.assert_allclose(mu, [2.0, 2.0])
    np.testing.assert_allclose(sigma, [[4.0, 3.0], [3.0, 3.0]])


def test_feature_statistics_keep_one_feature_two_dimensional() -> None:
    mu, sigma = feature_statistics(np.array([[1.0], [3.0]]))
    assert mu.shape == (1,)
    np.testing.assert_allclose(sigma, [[2.0]])


def test_frechet_from_features_agrees_with_statistics() -> None:
    rng = np.random.default_rng(2)
    f1, f2 = rng.normal(size=(200, 5)), rng.normal(loc=0.5, size=(150, 5))
    expected = frechet_distance(*feature_statistics(f1), *feature_statistics(f2))
    np.testing.assert_allclose(frechet_distance_from_features(f1, f2), expected, rtol=1e-12)
    np.testing.assert_allclose(frechet_distance_from_features(f1, f1), 0.0, atol=1e-9)


def test_frechet_handles_rank_deficient_covariances() -> None:
    # Fewer samples than features: singular covariances, as with small evaluation sets.
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(5, 12)), rng.normal(size=(6, 12))
    expected = _reference_frechet(*feature_statistics(f1), *feature_statistics(f2))
    np.testing.assert_allclose(frechet_distance_from_features(f1, f2), expected, rtol=1e-6)


def test_frechet_retries_with_diagonal_offset_when_sqrtm_fails(monkeypatch) -> None:
    real_sqrtm = scipy.linalg.sqrtm
    calls: list[np.ndarray] = []

    def failing_once(a: np.ndarray) -> np.ndarray:
        calls.append(a)
        return np.full_like(a, np.inf) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(_frechet.scipy.linalg, "sqrtm", failing_once)
    sigma1, sigma2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    value = frechet_distance(np.zeros(2), sigma1, np.zeros(2), sigma2)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (sigma1 + 1e-6 * np.eye(2)) @ (sigma2 + 1e-6 * np.eye(2)))
    np.testing.assert_allclose(value, (1 - 3) ** 2 + (2 - 1) ** 2, rtol=1e-5)


@pytest.mark.parametrize(("imaginary", "fails"), [(1e-9, False), (0.5, True)])
def test_frechet_discards_tiny_imaginary_parts_and_rejects_large_ones(
    monkeypatch, imaginary: float, fails: bool
) -> None:
    real_sqrtm = scipy.linalg.sqrtm
    monkeypatch.setattr(
        _frechet.scipy.linalg, "sqrtm", lambda a: real_sqrtm(a) + 1j * imaginary * np.eye(len(a))
    )
    args = (np.zeros(2), np.eye(2), np.zeros(2), 4 * np.eye(2))
    if fails:
        with pytest.raises(GancoreError, match=r"imaginary parts up to 0\.5"):
            frechet_distance(*args)
    else:
        np.testing.assert_allclose(frechet_distance(*args), 2.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mu1": np.zeros((2, 1))}, r"mu1 must be a 1-D array .*received shape \(2, 1\)"),
        ({"sigma1": np.eye(3)}, r"sigma1 must have shape \(2, 2\) .*received shape \(3, 3\)"),
        ({"mu2": np.zeros(3), "sigma2": np.eye(3)}, r"mu1 and mu2 .*\(2,\) and \(3,\)"),
        ({"sigma2": np.array([[1.0, 0.5], [0.0, 1.0]])}, r"sigma2 must be a symmetric"),
        ({"sigma1": np.array([[1.0, 2.0], [2.0, 1.0]])}, r"sigma1 must be positive semi-def"),
        ({"sigma1": np.array([[np.inf, 0.0], [0.0, 1.0]])}, r"sigma1 must be finite"),
    ],
)
def test_frechet_rejects_invalid_statistics(kwargs: dict, match: str) -> None:
    args = {"mu1": np.zeros(2), "sigma1": np.eye(2), "mu2": np.ones(2), "sigma2": np.eye(2)}
    with pytest.raises(InvalidArgumentError, match=match):
        frechet_distance(**(args | kwargs))


def test_frechet_from_features_rejects_invalid_features() -> None:
    with pytest.raises(InvalidArgumentError, match=r"features2 must have at least 2 samples"):
        frechet_distance_from_features(np.zeros((3, 2)), np.zeros((1, 2)))
    with pytest.raises(InvalidArgumentError, match=r"features1 and features2 .*\(3, 2\)"):
        frechet_distance_from_features(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(InvalidArgumentError, match=r"features must be a 2-D array"):
        feature_statistics(np.zeros(3))


# --- inception_score ----------------------------------------------------------------------


def _reference_inception_score(probs: np.ndarray, splits: int) -> tuple[float, float]:
    n = len(probs)
    scores = []
    for i in range(splits):
        part = probs[i * n // splits : (i + 1) * n // splits]
        py = part.mean(axis=0)
        kl = np.sum(part * (np.log(part) - np.log(py)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def test_inception_score_of_uniform_predictions_is_one() -> None:
    mean, std = inception_score(np.full((100, 10), 0.1))
    np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


def test_inception_score_of_confident_balanced_predictions_is_k() -> None:
    probs = np.tile(np.eye(4), (10, 1))  # every split of 4 rows holds each class once
    mean, std = inception_score(probs, splits=10)
    np.testing.assert_allclose([mean, std], [4.0, 0.0], atol=1e-12)


def test_inception_score_matches_direct_formula() -> None:
    probs = np.random.default_rng(4).dirichlet(np.full(7, 0.3), size=103)
    np.testing.assert_allclose(
        inception_score(probs, splits=4), _reference_inception_score(probs, 4), rtol=1e-10
    )


@PROPERTY
@given(seed=SEEDS, n=st.integers(1, 40), k=st.integers(1, 6), splits=st.integers(1, 4))
def test_inception_score_lies_between_one_and_k(seed: int, n: int, k: int, splits: int) -> None:
    probs = np.random.default_rng(seed).dirichlet(np.full(k, 0.5), size=max(n, splits))
    mean, std = inception_score(probs, splits=splits)
    assert 1.0 - 1e-9 <= mean <= k + 1e-9
    assert std >= 0.0


@pytest.mark.parametrize(
    ("probs", "splits", "match"),
    [
        (np.full((4, 2), 0.5), 5, r"splits must be <= the number of samples \(4\); received 5"),
        (np.full((4, 2), 0.5), 0, r"splits must be > 0; received 0"),
        (np.full((4, 2), 0.5), True, r"splits must be an integer > 0; received True"),
        (np.full((4, 2), 0.5), 2.0, r"splits must be an integer > 0; received 2.0"),
        (np.array([[1.5, -0.5]]), 1, r"probs must be non-negative .*-0.5"),
        (np.array([[2.0, 1.0]]), 1, r"probs rows must sum to 1 .*received row 0 summing to 3"),
        (np.full(4, 0.25), 1, r"probs must be a 2-D array .*received shape \(4,\)"),
        (np.array([[np.nan, 1.0]]), 1, r"probs must be finite"),
    ],
)
def test_inception_score_rejects_invalid_input(probs, splits, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        inception_score(probs, splits=splits)


# --- prdc ---------------------------------------------------------------------------------


def _brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, ...]:
    def distances(a, b):
        return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)

    real_radii = np.sort(distances(real, real), axis=1)[:, k]
    fake_radii = np.sort(distances(fake, fake), axis=1)[:, k]
    d = distances(real, fake)
    inside_real = d < real_radii[:, None]
    precision = np.mean(inside_real.any(axis=0))
    recall = np.mean((d < fake_radii[None, :]).any(axis=1))
    density = np.mean(inside_real.sum(axis=0)) / k
    coverage = np.mean(d.min(axis=1) < real_radii)
    return precision, recall, density, coverage


def _values(result: PRDC) -> tuple[float, ...]:
    return result.precision, result.recall, result.density, result.coverage


def test_prdc_of_identical_sets() -> None:
    features = np.random.default_rng(5).normal(size=(300, 4))
    result = prdc(features, features, k=5)
    # Each real ball holds its centre and k - 1 neighbours, strictly: density is exactly 1.
    np.testing.assert_allclose(_values(result), [1.0, 1.0, 1.0, 1.0], rtol=1e-12)


def test_prdc_of_disjoint_far_away_sets() -> None:
    rng = np.random.default_rng(6)
    result = prdc(rng.normal(size=(50, 3)), rng.normal(loc=100.0, size=(40, 3)), k=3)
    np.testing.assert_array_equal(_values(result), [0.0, 0.0, 0.0, 0.0])


def test_prdc_hand_computed_case() -> None:
    real = np.array([[-10.0], [0.0], [2.0], [4.0], [6.0]])  # k=1 radii: 10, 2, 2, 2, 2
    fake = np.array([[0.5], [6.1], [20.0]])  # k=1 radii: 5.6, 5.6, 13.9
    result = prdc(real, fake, k=1)
    # precision: 0.5 (in the balls of 0 and 2) and 6.1 (ball of 6) are, 20 is not: 2/3.
    # recall: -10 lies in no fake ball, the other four in the ball of 0.5: 4/5.
    # density: 2 + 1 + 0 real balls over k * M = 3. coverage: 0, 2 and 6 hold a fake: 3/5.
    np.testing.assert_allclose(_values(result), [2 / 3, 4 / 5, 1.0, 3 / 5], rtol=1e-12)


@pytest.mark.parametrize(("n", "m", "k"), [(40, 30, 1), (60, 80, 5), (25, 25, 24)])
def test_prdc_matches_brute_force(n: int, m: int, k: int) -> None:
    rng = np.random.default_rng(n + m + k)
    real, fake = rng.normal(size=(n, 6)), rng.normal(loc=0.3, scale=1.2, size=(m, 6))
    np.testing.assert_allclose(
        _values(prdc(real, fake, k=k)), _brute_force_prdc(real, fake, k), rtol=1e-12
    )


def test_prdc_in_small_blocks_matches_one_block(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(70, 3)), rng.normal(size=(55, 3))
    whole = prdc(real, fake, k=4)
    monkeypatch.setattr(_distances, "BLOCK_ELEMENTS", 100)  # one or two rows per block
    assert prdc(real, fake, k=4) == whole


@PROPERTY
@given(seed=SEEDS, n=st.integers(2, 30), m=st.integers(2, 30), shift=st.floats(0.0, 5.0))
def test_prdc_values_lie_in_range(seed: int, n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    real, fake = rng.normal(size=(n, 2)), rng.normal(loc=shift, size=(m, 2))
    k = int(rng.integers(1, min(n, m)))
    result = prdc(real, fake, k=k)
    assert 0.0 <= result.precision <= 1.0
    assert 0.0 <= result.recall <= 1.0
    assert 0.0 <= result.coverage <= 1.0
    assert 0.0 <= result.density <= n / k
    np.testing.assert_allclose(_values(result), _brute_force_prdc(real, fake, k), rtol=1e-12)


@pytest.mark.parametrize(
    ("real", "fake", "k", "match"),
    [
        (np.zeros((5, 2)), np.zeros((8, 2)), 5, r"k must be < the number of real \(5\) .*"),
        (np.zeros((8, 2)), np.zeros((8, 2)), 0, r"k must be > 0; received 0"),
        (np.zeros((8, 2)), np.zeros((8, 3)), 2, r"same number of features; .*\(8, 3\)"),
        (np.zeros((8, 2, 1)), np.zeros((8, 2)), 2, r"real_features must be a 2-D array"),
        (np.zeros((8, 2)), np.full((8, 2), np.nan), 2, r"fake_features must be finite"),
    ],
)
def test_prdc_rejects_invalid_input(real, fake, k, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        prdc(real, fake, k=k)


# --- conditional_accuracy -----------------------------------------------------------------


def test_conditional_accuracy_from_probabilities() -> None:
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(conditional_accuracy(probs, [0, 1, 2, 1]), 0.75)


def test_conditional_accuracy_from_class_ids() -> None:
    np.testing.assert_allclose(conditional_accuracy([3, 1, 4, 1, 5], [3, 1, 4, 0, 0]), 0.6)


def test_conditional_accuracy_agrees_for_probabilities_and_their_argmax() -> None:
    rng = np.random.default_rng(8)
    probs, requested = rng.dirichlet(np.ones(10), size=200), rng.integers(0, 10, 200)
    np.testing.assert_allclose(
        conditional_accuracy(probs, requested),
        conditional_accuracy(probs.argmax(axis=1), requested),
    )


@pytest.mark.parametrize(
    ("predicted", "requested", "match"),
    [
        (np.eye(3), [0, 1, 3], r"requested must hold class ids < .*\(3\); received 3"),
        (np.eye(3), [0, 1], r"same number of samples; received 3 and 2"),
        ([0, 1], [0.0, 1.0], r"requested must hold integer class ids; received dtype float64"),
        ([0, -1], [0, 1], r"predicted must hold class ids >= 0; received -1"),
        (np.zeros((2, 2, 2)), [0, 1], r"predicted must be class scores .*\(2, 2, 2\)"),
        ([], [], r"requested must be a non-empty 1-D array"),
        (np.array([[np.nan, 1.0]]), [0], r"predicted must be finite"),
    ],
)
def test_conditional_accuracy_rejects_invalid_input(predicted, requested, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        conditional_accuracy(predicted, requested)
