"""Differentiable augmentation (Zhao et al. 2020, DiffAugment) for data-efficient GANs.

The random parameters are drawn in numpy (`DiffAugment.draw`), so that every backend
augments a batch alike from the same generator, and are applied by `DiffAugment.apply`,
written once against the backends' array operators: it works on numpy arrays, torch and
TensorFlow tensors, and is differentiable with respect to the images.
"""

from __future__ import annotations

from gancore.augment._diffaugment import POLICIES, DiffAugment

__all__ = ["POLICIES", "DiffAugment"]
