"""The Frechet distance between Gaussians fitted to two feature sets (the "FID")."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from gancore._errors import GancoreError, InvalidArgumentError
from gancore.metrics._checks import as_feature_array

__all__ = ["feature_statistics", "frechet_distance", "frechet_distance_from_features"]

# Added to both diagonals when sqrtm(sigma1 @ sigma2) fails on a singular product
# (the value used by the reference FID implementations, TTUR and pytorch-fid).
_SINGULAR_OFFSET = 1e-6
# Largest imaginary part accepted on the diagonal of sqrtm, relative to its real part:
# rounding leaves small ones; large ones mean sqrtm failed on ill-conditioned input.
_IMAGINARY_TOLERANCE = 1e-3
# Most negative eigenvalue accepted in a covariance, relative to its largest one: the
# rounding of a rank-deficient estimate (fewer samples than features) stays far below.
_PSD_TOLERANCE = 1e-6


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set, the inputs of `frechet_distance`.

    ``mu = mean_i f_i`` and ``sigma = sum_i (f_i - mu)(f_i - mu)^T / (N - 1)`` (unbiased).

    Args:
        features: shape (N, D) with N >= 2, e.g. a classifier's penultimate activations.

    Returns:
        ``(mu, sigma)``: float64 arrays of shape (D,) and (D, D).

    Raises:
        InvalidArgumentError: on a non-finite or mis-shaped array, or fewer than 2 rows.
    """
    return _statistics("features", features)


def _statistics(name: str, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = as_feature_array(name, features, ndim=2, layout="(n_samples, n_features)")
    if len(features) < 2:
        raise InvalidArgumentError(
            f"{name} must have at least 2 samples to estimate a covariance; "
            f"received shape {features.shape}"
        )
    mu = features.mean(axis=0)
    # atleast_2d: np.cov returns a 0-d array for a single feature.
    sigma = np.atleast_2d(np.cov(features, rowvar=False))
    return mu, sigma


def _check_statistics(
    mu_name: str, mu: np.ndarray, sigma_name: str, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    mu = as_feature_array(mu_name, mu, ndim=1, layout="(n_features,)")
    sigma = as_feature_array(sigma_name, sigma, ndim=2, layout="(n_features, n_features)")
    if sigma.shape != (len(mu), len(mu)):
        raise InvalidArgumentError(
            f"{sigma_name} must have shape {(len(mu), len(mu))} to match {mu_name} of shape "
            f"{mu.shape}; received shape {sigma.shape}"
        )
    scale = float(np.max(np.abs(sigma)))
    if not np.allclose(sigma, sigma.T, rtol=1e-5, atol=1e-8 * scale):
        raise InvalidArgumentError(
            f"{sigma_name} must be a symmetric covariance matrix; received a matrix whose "
            f"largest asymmetry |s_ij - s_ji| is {float(np.max(np.abs(sigma - sigma.T))):.3g}"
        )
    eigenvalues = np.linalg.eigvalsh(sigma)
    if eigenvalues[0] < -_PSD_TOLERANCE * max(float(eigenvalues[-1]), 0.0):
        raise InvalidArgumentError(
            f"{sigma_name} must be positive semi-definite; received a matrix with eigenvalue "
            f"{float(eigenvalues[0]):.3g}"
        )
    return mu, sigma


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrtm(sigma1 @ sigma2), with an eps-offset retry when the product is singular."""
    with warnings.catch_warnings():
        # A singular product is handled below by the retry, so scipy's warning is noise.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        offset = _SINGULAR_OFFSET * np.eye(len(sigma1))
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diagonal = np.diagonal(covmean)
    if np.iscomplexobj(covmean):
        largest_imaginary = float(np.max(np.abs(diagonal.imag)))
        if largest_imaginary > _IMAGINARY_TOLERANCE * max(1.0, float(np.max(diagonal.real))):
            raise GancoreError(
                "the Frechet distance could not be computed: sqrtm(sigma1 @ sigma2) has "
                f"imaginary parts up to {largest_imaginary:.3g} on its diagonal; the "
                "covariances are too ill-conditioned (estimate them from more samples)"
            )
        diagonal = diagonal.real
    return float(np.sum(diagonal))


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2)``
    (Dowson and Landau 1982), the FID of Heusel et al., "GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, when the statistics
    come from Inception features. ``sqrt`` is `scipy.linalg.sqrtm`; when the product is
    singular and sqrtm fails, 1e-6 is added to both diagonals and it is tried again, and
    rounding-level imaginary parts of the result are discarded. Values are comparable only
    between statistics of the same feature extractor.

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: symmetric positive semi-definite covariances, shape (D, D).

    Returns:
        The distance as a float (>= 0 up to rounding).

    Raises:
        InvalidArgumentError: on non-finite or mis-shaped inputs, or sigmas that are not
            symmetric positive semi-definite.
        GancoreError: when sqrtm has large imaginary parts despite valid inputs.
    """
    mu1, sigma1 = _check_statistics("mu1", mu1, "sigma1", sigma1)
    mu2, sigma2 = _check_statistics("mu2", mu2, "sigma2", sigma2)
    if mu1.shape != mu2.shape:
        raise InvalidArgumentError(
            f"mu1 and mu2 must have the same number of features; received shapes "
            f"{mu1.shape} and {mu2.shape}"
        )
    diff = mu1 - mu2
    return float(
        diff @ diff
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2.0 * _trace_sqrt_product(sigma1, sigma2)
    )


def frechet_distance_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """`frechet_distance` between Gaussians fitted (`feature_statistics`) to two feature sets.

    Args:
        features1, features2: shape (N1, D) and (N2, D), each with at least 2 rows.

    Returns:
        The Frechet distance as a float.

    Raises:
        InvalidArgumentError: on invalid arrays or a different number of features.
    """
    mu1, sigma1 = _statistics("features1", features1)
    mu2, sigma2 = _statistics("features2", features2)
    if mu1.shape != mu2.shape:
        raise InvalidArgumentError(
            f"features1 and features2 must have the same number of features; received "
            f"shapes {np.shape(features1)} and {np.shape(features2)}"
        )
    return frechet_distance(mu1, sigma1, mu2, sigma2)
