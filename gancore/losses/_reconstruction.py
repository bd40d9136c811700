"""The L1 reconstruction losses of CycleGAN (Zhu et al., "Unpaired Image-to-Image
Translation using Cycle-Consistent Adversarial Networks", 2017)."""

from __future__ import annotations

from typing import Any

from gancore._ops import ArrayOps
from gancore.losses._common import (
    backend_ops,
    check_positive,
    check_reduction,
    check_same_shape,
    check_scores,
    per_sample,
    reduce,
    weighted,
)

__all__ = ["cycle_consistency_loss", "identity_loss"]

Array = Any


def _weighted_l1(name_a: str, a: Array, name_b: str, b: Array, weight: float,
                 sample_weights: Any, reduction: str) -> Array:
    ops: ArrayOps = backend_ops(**{name_a: a, name_b: b})
    check_reduction(reduction)
    weight = check_positive("weight", weight)
    shape_a = check_scores(ops, name_a, a)
    check_same_shape(name_a, shape_a, name_b, check_scores(ops, name_b, b))
    w = per_sample(ops, "sample_weights", sample_weights, a, shape_a)
    return weight * reduce(ops, weighted(ops.abs(b - a), w), reduction)


def cycle_consistency_loss(
    real: Array,
    reconstructed: Array,
    weight: float = 10.0,
    *,
    sample_weights: Any = None,
    reduction: str = "mean",
) -> Array:
    """Cycle consistency: ``weight * mean |F(G(a)) - a|`` (L1, ``weight = lambda_cyc = 10``).

    ``reconstructed`` is the round trip ``F(G(real))``; ``mean`` averages over every element.
    """
    return _weighted_l1("real", real, "reconstructed", reconstructed, weight, sample_weights,
                        reduction)


def identity_loss(
    real: Array,
    mapped: Array,
    weight: float = 5.0,
    *,
    sample_weights: Any = None,
    reduction: str = "mean",
) -> Array:
    """Identity mapping: ``weight * mean |G(b) - b|`` (L1), with ``mapped = G(real)`` for a
    real sample of G's target domain. CycleGAN uses ``weight = 0.5 * lambda_cyc = 5``."""
    return _weighted_l1("real", real, "mapped", mapped, weight, sample_weights, reduction)
