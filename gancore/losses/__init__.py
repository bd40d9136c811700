"""Every GAN loss of the seeds, written once for every backend.

Each loss takes numpy arrays, torch tensors or TensorFlow tensors and returns the same kind,
differentiable and in the caller's dtype. Scores are logits / raw critic outputs of any
shape (one per sample or a PatchGAN map).
"""

from __future__ import annotations

from gancore.losses._adversarial import (
    hinge_critic_loss,
    hinge_generator_loss,
    label_flip_mask,
    least_squares_critic_loss,
    least_squares_generator_loss,
    minimax_critic_loss,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from gancore.losses._common import REDUCTIONS, generic_only
from gancore.losses._families import LOSS_FAMILIES, LossFamily
from gancore.losses._reconstruction import cycle_consistency_loss, identity_loss
from gancore.losses._regularizers import clip_weights, gradient_penalty, r1_penalty
from gancore.losses._semi_supervised import (
    class_logits_to_score,
    semi_supervised_critic_loss,
    softmax_cross_entropy,
)

__all__ = [
    "LOSS_FAMILIES",
    "LossFamily",
    "REDUCTIONS",
    "class_logits_to_score",
    "clip_weights",
    "cycle_consistency_loss",
    "generic_only",
    "gradient_penalty",
    "r1_penalty",
    "hinge_critic_loss",
    "hinge_generator_loss",
    "identity_loss",
    "label_flip_mask",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "minimax_critic_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "semi_supervised_critic_loss",
    "softmax_cross_entropy",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]
