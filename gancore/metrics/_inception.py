"""The Inception score of a classifier's predictions on generated samples."""

from __future__ import annotations

import numpy as np
import scipy.special

from gancore._errors import InvalidArgumentError
from gancore.metrics._checks import as_feature_array, positive_int

__all__ = ["inception_score"]

# Allowed |sum_y p(y|x) - 1|: float32 or float16 softmax outputs do not sum to 1 exactly.
_SUM_TOLERANCE = 1e-3


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception score: mean and standard deviation over splits of exp(E_x KL(p(y|x) || p(y))).

    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016. The N rows are
    cut into ``splits`` consecutive parts (row ``i * N // splits`` up to
    ``(i + 1) * N // splits``, as in the authors' code); in each part, with
    ``p(y) = mean_x p(y|x)`` over that part,

        IS = exp( mean_x sum_y p(y|x) (log p(y|x) - log p(y)) ),  with 0 log 0 = 0.

    The score lies in [1, K]: 1 for identical predictions, K for confident predictions spread
    evenly over K classes. It is comparable only under the same classifier.

    Args:
        probs: class probabilities p(y|x), shape (N, K): non-negative, rows summing to 1
            (within 1e-3).
        splits: number of parts, 1 <= splits <= N.

    Returns:
        ``(mean, std)`` of the per-split scores (population standard deviation).

    Raises:
        InvalidArgumentError: on a mis-shaped or non-finite array, negative entries, rows
            not summing to 1, or ``splits`` outside [1, N].
    """
    probs = as_feature_array("probs", probs, ndim=2, layout="(n_samples, n_classes)")
    if np.any(probs < 0):
        raise InvalidArgumentError(
            f"probs must be non-negative probabilities; received a smallest entry of "
            f"{float(probs.min())}"
        )
    row_error = np.abs(probs.sum(axis=1) - 1.0)
    if np.any(row_error > _SUM_TOLERANCE):
        worst = int(np.argmax(row_error))
        raise InvalidArgumentError(
            f"probs rows must sum to 1 (softmax outputs, not logits); received row {worst} "
            f"summing to {float(probs[worst].sum())}"
        )
    splits = positive_int("splits", splits)
    n = len(probs)
    if splits > n:
        raise InvalidArgumentError(
            f"splits must be <= the number of samples ({n}); received {splits}"
        )
    scores = []
    for i in range(splits):
        part = probs[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        # rel_entr gives 0 for p(y|x) = 0, where a plain p * log(p / q) would give nan.
        kl = scipy.special.rel_entr(part, marginal).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
