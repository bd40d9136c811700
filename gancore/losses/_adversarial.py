"""Adversarial losses on the critic's raw scores (logits), for every GAN family of the seeds.

Conventions shared by every loss here:

- Scores are logits / raw critic outputs of any shape ``(batch, ...)``: one per sample or a
  PatchGAN map. ``reduction='mean'`` averages over every element, so a patch map gives the
  same value as its flattened form; ``'sum'`` adds them; ``'none'`` keeps the shape.
- ``weights`` (``real_weights`` / ``fake_weights``) are per-sample, shape ``(batch,)``, or of
  the scores' shape; they multiply the elementwise loss before the reduction, so the loss is
  linear in them.
- The result is an array of the caller's framework and dtype, and back-propagates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore._numpy_backend import NUMPY_OPS
from gancore._ops import ArrayOps
from gancore.losses._common import (
    backend_ops,
    check_fraction,
    check_reduction,
    check_same_sample_shape,
    check_scores,
    combine,
    dispatch,
    numpy_generator,
    per_sample,
    reduce,
    weighted,
)

__all__ = [
    "hinge_critic_loss",
    "hinge_generator_loss",
    "label_flip_mask",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "minimax_critic_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]

Array = Any


def label_flip_mask(batch_size: int, fraction: float, rng: Any) -> np.ndarray:
    """A boolean mask that flips exactly ``round(fraction * batch_size)`` samples.

    Which samples flip is drawn from ``rng`` (an int seed or a ``numpy.random.Generator``),
    so the same seed flips the same samples on every backend.
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be an int >= 1; received {batch_size!r}")
    fraction = check_fraction("flip_fraction", fraction)
    count = int(np.floor(fraction * batch_size + 0.5))
    mask = np.zeros(batch_size, dtype=bool)
    mask[numpy_generator(rng).permutation(batch_size)[:count]] = True
    return mask


def _real_targets(
    ops: ArrayOps,
    real: Array,
    shape: tuple[int | None, ...],
    smoothing: float,
    flip_fraction: float,
    flip_mask: Any,
    rng: Any,
) -> Any:
    """The critic's target for each real sample: 1 - smoothing, or 0 where flipped.

    A scalar when nothing flips; else an array of the backend that broadcasts over `real`.
    """
    smoothing = check_fraction("smoothing", smoothing, upper_open=True)
    if flip_mask is None and flip_fraction == 0.0:
        return 1.0 - smoothing
    if ops.is_array(flip_mask) and ops is not NUMPY_OPS:
        # A native mask (e.g. an input of a compiled step): targets computed on the device.
        mask_shape = ops.shape(flip_mask)
        if len(mask_shape) != 1:
            raise InvalidArgumentError(
                f"flip_mask must have shape ({shape[0]},); received {mask_shape}"
            )
        kept = 1.0 - ops.asarray(flip_mask, like=real)
        return per_sample(ops, "flip_mask", kept * (1.0 - smoothing), real, shape)
    if flip_mask is None:
        if rng is None:
            raise InvalidArgumentError(
                "rng must be an int seed or a numpy.random.Generator when flip_fraction > 0; "
                "received None (gancore never flips labels with hidden randomness)"
            )
        if shape[0] is None:
            raise InvalidArgumentError(
                "flip_fraction needs a known batch size; inside a compiled step pass "
                "flip_mask=label_flip_mask(batch_size, fraction, rng) instead"
            )
        flip_mask = label_flip_mask(int(shape[0]), flip_fraction, rng)
    mask = np.asarray(flip_mask)
    if mask.dtype != np.bool_ or mask.ndim != 1 or mask.shape[0] != shape[0]:
        raise InvalidArgumentError(
            f"flip_mask must be a boolean array of shape ({shape[0]},); received "
            f"{mask.dtype} array of shape {mask.shape}"
        )
    return per_sample(ops, "flip_mask", np.where(mask, 0.0, 1.0 - smoothing), real, shape)


def _sigmoid_ce(ops: ArrayOps, logits: Array, target: Any) -> Array:
    """Elementwise -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] in softplus form,
    which stays finite for any logit (log(sigmoid(x)) = -softplus(-x))."""
    if isinstance(target, float) and target == 1.0:
        return ops.softplus(-logits)
    if isinstance(target, float) and target == 0.0:
        return ops.softplus(logits)
    return ops.softplus(logits) - target * logits


def _check_pair(real: Array, fake: Array, reduction: str) -> tuple[ArrayOps, tuple, tuple]:
    ops = backend_ops(real=real, fake=fake)
    check_reduction(reduction)
    real_shape = check_scores(ops, "real", real)
    fake_shape = check_scores(ops, "fake", fake)
    check_same_sample_shape("real", real_shape, "fake", fake_shape)
    return ops, real_shape, fake_shape


def _check_one(fake: Array, reduction: str, name: str = "fake") -> tuple[ArrayOps, tuple]:
    ops = backend_ops(**{name: fake})
    check_reduction(reduction)
    return ops, check_scores(ops, name, fake)


# --- standard GAN (Goodfellow et al. 2014) ---------------------------------------------


def minimax_critic_loss(
    real: Array,
    fake: Array,
    *,
    real_weights: Any = None,
    fake_weights: Any = None,
    reduction: str = "mean",
    smoothing: float = 0.0,
    flip_fraction: float = 0.0,
    flip_mask: Any = None,
    rng: Any = None,
) -> Array:
    """The standard GAN critic loss: ``mean softplus(-real) + mean softplus(fake)``.

    That is ``-log D(x) - log(1 - D(G(z)))`` with ``D = sigmoid(score)`` (Goodfellow et al.,
    "Generative Adversarial Nets", 2014), on logits, in softplus form so that no logit
    overflows.

    Options, both off unless asked for:

    - ``smoothing``: one-sided label smoothing (Salimans et al. 2016), real target
      ``1 - smoothing``.
    - label flipping: a fraction of the real samples takes the fake label (target 0), either
      ``flip_fraction`` with explicit randomness ``rng`` (int seed or numpy Generator;
      exactly ``round(flip_fraction * batch)`` samples flip, the same ones on every backend),
      or an explicit boolean ``flip_mask`` of shape ``(batch,)`` (see `label_flip_mask`).
    """
    ops, real_shape, fake_shape = _check_pair(real, fake, reduction)
    target = _real_targets(ops, real, real_shape, smoothing, flip_fraction, flip_mask, rng)
    return dispatch(
        "minimax_critic_loss", _minimax_critic, ops,
        real=real, fake=fake, real_target=target,
        real_weights=per_sample(ops, "real_weights", real_weights, real, real_shape),
        fake_weights=per_sample(ops, "fake_weights", fake_weights, fake, fake_shape),
        reduction=reduction, real_shape=real_shape, fake_shape=fake_shape,
    )


def _minimax_critic(ops: ArrayOps, *, real: Array, fake: Array, real_target: Any,
                    real_weights: Any, fake_weights: Any, reduction: str,
                    real_shape: tuple, fake_shape: tuple) -> Array:
    real_term = weighted(_sigmoid_ce(ops, real, real_target), real_weights)
    fake_term = weighted(ops.softplus(fake), fake_weights)
    return combine(ops, real_term, fake_term, reduction, real_shape, fake_shape)


def minimax_generator_loss(fake: Array, *, weights: Any = None, reduction: str = "mean") -> Array:
    """The original, saturating generator loss: ``mean log(1 - D(G(z))) = -mean softplus(fake)``.

    Goodfellow et al. 2014, on logits. Its gradient vanishes where the critic confidently
    rejects the fakes; `nonsaturating_generator_loss` is the usual remedy.
    """
    ops, shape = _check_one(fake, reduction)
    w = per_sample(ops, "weights", weights, fake, shape)
    return reduce(ops, -weighted(ops.softplus(fake), w), reduction)


def nonsaturating_generator_loss(
    fake: Array, *, weights: Any = None, reduction: str = "mean"
) -> Array:
    """The non-saturating generator loss: ``-mean log D(G(z)) = mean softplus(-fake)``.

    Goodfellow et al. 2014 (section 3), on logits.
    """
    ops, shape = _check_one(fake, reduction)
    return dispatch(
        "nonsaturating_generator_loss", _nonsaturating_generator, ops,
        fake=fake, weights=per_sample(ops, "weights", weights, fake, shape), reduction=reduction,
    )


def _nonsaturating_generator(ops: ArrayOps, *, fake: Array, weights: Any, reduction: str) -> Array:
    return reduce(ops, weighted(ops.softplus(-fake), weights), reduction)


# --- Wasserstein GAN (Arjovsky et al. 2017) --------------------------------------------


def wasserstein_critic_loss(
    real: Array,
    fake: Array,
    *,
    real_weights: Any = None,
    fake_weights: Any = None,
    reduction: str = "mean",
) -> Array:
    """The WGAN critic loss: ``mean fake - mean real`` on raw critic scores.

    Arjovsky et al., "Wasserstein GAN", 2017. The critic must be kept Lipschitz: weight
    clipping (`clip_weights`) or a `gradient_penalty`.
    """
    ops, real_shape, fake_shape = _check_pair(real, fake, reduction)
    real_term = -weighted(real, per_sample(ops, "real_weights", real_weights, real, real_shape))
    fake_term = weighted(fake, per_sample(ops, "fake_weights", fake_weights, fake, fake_shape))
    return combine(ops, real_term, fake_term, reduction, real_shape, fake_shape)


def wasserstein_generator_loss(
    fake: Array, *, weights: Any = None, reduction: str = "mean"
) -> Array:
    """The WGAN generator loss: ``-mean fake`` on raw critic scores (Arjovsky et al. 2017)."""
    ops, shape = _check_one(fake, reduction)
    return reduce(ops, -weighted(fake, per_sample(ops, "weights", weights, fake, shape)), reduction)


# --- hinge loss (Lim & Ye 2017; Miyato et al. 2018) ------------------------------------


def hinge_critic_loss(
    real: Array,
    fake: Array,
    *,
    real_weights: Any = None,
    fake_weights: Any = None,
    reduction: str = "mean",
) -> Array:
    """The hinge critic loss: ``mean relu(1 - real) + mean relu(1 + fake)`` on raw scores.

    Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral Normalization", 2018.
    """
    ops, real_shape, fake_shape = _check_pair(real, fake, reduction)
    real_term = weighted(
        ops.relu(1.0 - real), per_sample(ops, "real_weights", real_weights, real, real_shape)
    )
    fake_term = weighted(
        ops.relu(1.0 + fake), per_sample(ops, "fake_weights", fake_weights, fake, fake_shape)
    )
    return combine(ops, real_term, fake_term, reduction, real_shape, fake_shape)


def hinge_generator_loss(fake: Array, *, weights: Any = None, reduction: str = "mean") -> Array:
    """The hinge generator loss: ``-mean fake`` on raw scores (Lim & Ye 2017)."""
    ops, shape = _check_one(fake, reduction)
    return reduce(ops, -weighted(fake, per_sample(ops, "weights", weights, fake, shape)), reduction)


# --- least squares GAN (Mao et al. 2017), the CycleGAN adversarial loss ----------------


def least_squares_critic_loss(
    real: Array,
    fake: Array,
    *,
    real_weights: Any = None,
    fake_weights: Any = None,
    reduction: str = "mean",
    scale: float = 0.5,
    smoothing: float = 0.0,
    flip_fraction: float = 0.0,
    flip_mask: Any = None,
    rng: Any = None,
) -> Array:
    """The least-squares critic loss: ``scale * (mean (real - 1)^2 + mean fake^2)``.

    Mao et al., "Least Squares GANs", 2017, with targets a=0, b=1 and their factor
    ``scale = 1/2`` (CycleGAN, Zhu et al. 2017, also halves the critic's objective). Label
    smoothing and flipping work as in `minimax_critic_loss` (they change the real target).
    """
    ops, real_shape, fake_shape = _check_pair(real, fake, reduction)
    target = _real_targets(ops, real, real_shape, smoothing, flip_fraction, flip_mask, rng)
    real_term = weighted(
        (real - target) ** 2, per_sample(ops, "real_weights", real_weights, real, real_shape)
    )
    fake_term = weighted(fake**2, per_sample(ops, "fake_weights", fake_weights, fake, fake_shape))
    return scale * combine(ops, real_term, fake_term, reduction, real_shape, fake_shape)


def least_squares_generator_loss(
    fake: Array, *, weights: Any = None, reduction: str = "mean", scale: float = 0.5
) -> Array:
    """The least-squares generator loss: ``scale * mean (fake - 1)^2`` (Mao et al. 2017).

    ``scale = 1/2`` is the paper's; CycleGAN's generator uses ``scale=1.0``.
    """
    ops, shape = _check_one(fake, reduction)
    w = per_sample(ops, "weights", weights, fake, shape)
    return scale * reduce(ops, weighted((fake - 1.0) ** 2, w), reduction)
