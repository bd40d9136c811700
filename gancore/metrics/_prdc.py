"""Precision, recall, density and coverage of generated features against real ones."""

from __future__ import annotations

import attrs
import numpy as np
from attrs import validators as v

from gancore._errors import InvalidArgumentError
from gancore.metrics._checks import as_feature_array, positive_int
from gancore.metrics._distances import distance_blocks, kth_neighbour_distances

__all__ = ["PRDC", "prdc"]

_UNIT = [v.ge(0.0), v.le(1.0)]


@attrs.frozen
class PRDC:
    """Fidelity (precision, density) and diversity (recall, coverage) of generated samples.

    Attributes:
        precision: share of fake samples inside the k-NN ball of some real sample, in [0, 1].
        recall: share of real samples inside the k-NN ball of some fake sample, in [0, 1].
        density: mean number of real k-NN balls holding a fake sample, divided by k; >= 0,
            about 1 when both sets come from the same distribution, above 1 possible.
        coverage: share of real samples whose k-NN ball holds some fake sample, in [0, 1].
    """

    precision: float = attrs.field(converter=float, validator=_UNIT)
    recall: float = attrs.field(converter=float, validator=_UNIT)
    density: float = attrs.field(converter=float, validator=v.ge(0.0))
    coverage: float = attrs.field(converter=float, validator=_UNIT)


def prdc(real_features: np.ndarray, fake_features: np.ndarray, k: int = 5) -> PRDC:
    """Precision, recall, density and coverage in a feature space.

    Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020
    (reference implementation clovaai/generative-evaluation-prdc, whose definitions and
    strict inequalities this follows). With real X_1..X_N, fake Y_1..Y_M, B(x, r) the open
    ball, and NND_k(x) the distance from x to its k-th nearest neighbour in its own set
    (itself excluded):

        precision = 1/M sum_j 1[exists i: Y_j in B(X_i, NND_k(X_i))]
        recall    = 1/N sum_i 1[exists j: X_i in B(Y_j, NND_k(Y_j))]
        density   = 1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]
        coverage  = 1/N sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]

    Distances are Euclidean, computed with numpy a block of rows at a time, so memory stays
    bounded for large sets.

    Args:
        real_features: shape (N, D).
        fake_features: shape (M, D).
        k: the neighbour that sets each ball's radius; 1 <= k < min(N, M).

    Returns:
        A `PRDC`.

    Raises:
        InvalidArgumentError: on mis-shaped or non-finite arrays, different feature sizes,
            or ``k`` outside [1, min(N, M) - 1].
    """
    real = as_feature_array("real_features", real_features, ndim=2, layout="(n_real, n_features)")
    fake = as_feature_array("fake_features", fake_features, ndim=2, layout="(n_fake, n_features)")
    if real.shape[1] != fake.shape[1]:
        raise InvalidArgumentError(
            f"real_features and fake_features must have the same number of features; "
            f"received shapes {real.shape} and {fake.shape}"
        )
    k = positive_int("k", k)
    if k >= min(len(real), len(fake)):
        raise InvalidArgumentError(
            f"k must be < the number of real ({len(real)}) and fake ({len(fake)}) samples, "
            f"since each sample's k-th neighbour excludes itself; received {k}"
        )

    real_radii = kth_neighbour_distances(real, k)
    fake_radii = kth_neighbour_distances(fake, k)
    real_balls_holding_fake = np.zeros(len(fake), dtype=np.int64)
    real_recalled = np.zeros(len(real), dtype=bool)
    real_covered = np.zeros(len(real), dtype=bool)
    for rows, block in distance_blocks(real, fake):
        fake_in_real_ball = block < real_radii[rows, None]
        real_balls_holding_fake += fake_in_real_ball.sum(axis=0)
        real_covered[rows] = fake_in_real_ball.any(axis=1)
        real_recalled[rows] = (block < fake_radii[None, :]).any(axis=1)

    return PRDC(
        precision=np.mean(real_balls_holding_fake > 0),
        recall=np.mean(real_recalled),
        density=real_balls_holding_fake.sum() / (k * len(fake)),
        coverage=np.mean(real_covered),
    )
