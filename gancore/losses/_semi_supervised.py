"""The semi-supervised GAN critic (Salimans et al., "Improved Techniques for Training GANs",
2016; Odena 2016): a K-class classifier that is also the real/fake critic."""

from __future__ import annotations

from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.losses._adversarial import minimax_critic_loss
from gancore.losses._common import (
    backend_ops,
    check_positive,
    check_reduction,
    check_scores,
    per_sample,
    reduce,
    weighted,
)

__all__ = ["class_logits_to_score", "semi_supervised_critic_loss", "softmax_cross_entropy"]

Array = Any


def _check_labels(ops: Any, labels: Any, batch: int | None, num_classes: int | None) -> None:
    shape = ops.shape(labels) if ops.is_array(labels) else tuple(getattr(labels, "shape", ()))
    dtype = ops.dtype_name(labels) if ops.is_array(labels) else str(getattr(labels, "dtype", ""))
    if not dtype.startswith(("int", "uint")):
        raise InvalidArgumentError(
            f"labels must have an integer dtype; received {dtype or type(labels).__name__}"
        )
    if len(shape) != 1 or (batch is not None and shape[0] is not None and shape[0] != batch):
        raise InvalidArgumentError(
            f"labels must have shape ({batch},), one class per labelled sample; received {shape}"
        )
    try:
        values = ops.to_numpy(labels) if ops.is_array(labels) else labels
    except Exception:  # symbolic tensors inside compiled steps have no values to check
        return
    values = np.asarray(values)
    out_of_range = values.size and (values.min() < 0 or values.max() >= (num_classes or 0))
    if num_classes is not None and out_of_range:
        raise InvalidArgumentError(
            f"labels must be in [0, {num_classes}); received values from {values.min()} to "
            f"{values.max()}"
        )


def softmax_cross_entropy(
    logits: Array, labels: Any, *, weights: Any = None, reduction: str = "mean"
) -> Array:
    """The K-class cross entropy ``-log softmax(logits)[label]``, stable (log-softmax).

    ``logits`` has shape ``(batch, K)``; ``labels`` integer class ids of shape ``(batch,)``.
    """
    ops = backend_ops(logits=logits, labels=labels)
    check_reduction(reduction)
    shape = check_scores(ops, "logits", logits)
    if len(shape) != 2:
        raise InvalidArgumentError(f"logits must have shape (batch, K); received {shape}")
    _check_labels(ops, labels, shape[0], shape[1])
    depth = shape[1]
    assert depth is not None
    picked = ops.sum(ops.one_hot(labels, depth, like=logits) * ops.log_softmax(logits), axis=-1)
    w = per_sample(ops, "weights", weights, logits, (shape[0],))
    return reduce(ops, -weighted(picked, w), reduction)


def class_logits_to_score(class_logits: Array) -> Array:
    """The real/fake logit of a K-class critic: ``logsumexp`` over the classes.

    With ``D(x) = Z(x) / (Z(x) + 1)`` and ``Z = sum_k exp(l_k)`` (Salimans et al. 2016),
    ``logit D(x) = log Z(x)``, computed stably. Returns shape ``(batch, 1)``.
    """
    ops = backend_ops(class_logits=class_logits)
    shape = check_scores(ops, "class_logits", class_logits)
    if len(shape) != 2:
        raise InvalidArgumentError(f"class_logits must have shape (batch, K); received {shape}")
    return ops.reshape(ops.logsumexp(class_logits, axis=-1), (-1, 1))


def semi_supervised_critic_loss(
    labeled_logits: Array,
    labels: Any,
    real: Array,
    fake: Array,
    *,
    supervised_weight: float = 1.0,
    reduction: str = "mean",
) -> Array:
    """The SGAN critic loss: ``supervised_weight * CE(labeled_logits, labels)`` on the few
    labelled real samples plus the real/fake term ``minimax_critic_loss(real, fake)``.

    ``labeled_logits``: the critic's K class logits on labelled real samples, ``(n, K)``;
    ``real`` / ``fake``: real/fake logits on unlabelled real and on generated samples (for a
    single K-class head, `class_logits_to_score` gives them). Salimans et al. 2016; Odena,
    "Semi-Supervised Learning with GANs", 2016. Only ``mean`` and ``sum`` reductions: the
    terms are over different samples.
    """
    if reduction == "none":
        raise InvalidArgumentError(
            "reduction must be 'mean' or 'sum' for the semi-supervised loss (its terms are "
            "over different samples); received 'none'"
        )
    check_positive("supervised_weight", supervised_weight)
    backend_ops(labeled_logits=labeled_logits, real=real, fake=fake)
    supervised = softmax_cross_entropy(labeled_logits, labels, reduction=reduction)
    return supervised_weight * supervised + minimax_critic_loss(real, fake, reduction=reduction)
