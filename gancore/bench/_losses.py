"""The inputs of each loss's benchmark: realistic shapes at a given batch, in numpy.

Each case names its inputs, which of them get gradients (the scores, the reconstructions,
the critic's weights; never the labels or the interpolation weights), and how the loss is
called on them once they are native tensors. The framework drivers time one forward plus
backward pass of the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from gancore import losses as L
from gancore._backend import ops_for

Array = Any

#: Public names of gancore.losses that are not losses.
NOT_LOSSES = frozenset({
    "LOSS_FAMILIES", "LossFamily", "REDUCTIONS", "class_logits_to_score", "clip_weights",
    "generic_only", "label_flip_mask",
})

_IMAGE = (28, 28, 1)
_CLASSES = 10
_POINT = 2
_HIDDEN = 64


@attrs.frozen
class LossCase:
    """How to benchmark one loss."""

    inputs: Callable[[np.random.Generator, int], dict[str, np.ndarray]]
    grads: tuple[str, ...]
    call: Callable[[Mapping[str, Array]], Array]


def _scores(*names: str) -> Callable[[np.random.Generator, int], dict[str, np.ndarray]]:
    def make(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        return {k: rng.standard_normal((n, 1)).astype(np.float32) for k in names}

    return make


def _images(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {k: rng.uniform(-1, 1, (n, *_IMAGE)).astype(np.float32) for k in ("a", "b")}


def _classified(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"logits": rng.standard_normal((n, _CLASSES)).astype(np.float32),
            "labels": rng.integers(0, _CLASSES, n), **_scores("real", "fake")(rng, n)}


def _penalised(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"real": rng.standard_normal((n, _POINT)).astype(np.float32),
            "fake": rng.standard_normal((n, _POINT)).astype(np.float32),
            "eps": rng.random(n).astype(np.float32),
            "w1": (rng.standard_normal((_POINT, _HIDDEN)) / np.sqrt(_POINT)).astype(np.float32),
            "w2": (rng.standard_normal((_HIDDEN, 1)) / np.sqrt(_HIDDEN)).astype(np.float32)}


def _penalty(t: Mapping[str, Array]) -> Array:
    # A small MLP critic whose weights are inputs, so the penalty's double backward reaches
    # them as it reaches a real critic's.
    ops = ops_for([("real", t["real"])])
    return L.gradient_penalty(lambda v: ops.relu(v @ t["w1"]) @ t["w2"], t["real"], t["fake"],
                              eps=t["eps"])


def _r1(t: Mapping[str, Array]) -> Array:
    ops = ops_for([("real", t["real"])])
    return L.r1_penalty(lambda v: ops.relu(v @ t["w1"]) @ t["w2"], t["real"])


def _pair(fn: Callable[..., Array]) -> LossCase:
    return LossCase(_scores("real", "fake"), ("real", "fake"), lambda t: fn(t["real"], t["fake"]))


def _one(fn: Callable[..., Array]) -> LossCase:
    return LossCase(_scores("fake"), ("fake",), lambda t: fn(t["fake"]))


CASES: dict[str, LossCase] = {
    "minimax_critic_loss": _pair(L.minimax_critic_loss),
    "minimax_generator_loss": _one(L.minimax_generator_loss),
    "nonsaturating_generator_loss": _one(L.nonsaturating_generator_loss),
    "wasserstein_critic_loss": _pair(L.wasserstein_critic_loss),
    "wasserstein_generator_loss": _one(L.wasserstein_generator_loss),
    "hinge_critic_loss": _pair(L.hinge_critic_loss),
    "hinge_generator_loss": _one(L.hinge_generator_loss),
    "least_squares_critic_loss": _pair(L.least_squares_critic_loss),
    "least_squares_generator_loss": _one(L.least_squares_generator_loss),
    "cycle_consistency_loss": LossCase(_images, ("b",),
                                       lambda t: L.cycle_consistency_loss(t["a"], t["b"])),
    "identity_loss": LossCase(_images, ("b",), lambda t: L.identity_loss(t["a"], t["b"])),
    "softmax_cross_entropy": LossCase(
        _classified, ("logits",), lambda t: L.softmax_cross_entropy(t["logits"], t["labels"])
    ),
    "semi_supervised_critic_loss": LossCase(
        _classified, ("logits", "real", "fake"),
        lambda t: L.semi_supervised_critic_loss(t["logits"], t["labels"], t["real"], t["fake"]),
    ),
    "gradient_penalty": LossCase(_penalised, ("w1", "w2"), _penalty),
    "r1_penalty": LossCase(_penalised, ("w1", "w2"), _r1),
}


def public_losses() -> tuple[str, ...]:
    """Every loss gancore.losses exports, sorted."""
    return tuple(sorted(n for n in L.__all__ if n not in NOT_LOSSES))
