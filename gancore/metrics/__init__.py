"""Framework-free evaluation metrics for generative models (numpy and scipy).

- `mode_metrics`: modes captured, high-quality share and reverse KL on Gaussian mixtures
  (PacGAN).
- `frechet_distance`, `frechet_distance_from_features`, `feature_statistics`: the Frechet
  distance between Gaussians fitted to feature sets (FID in a chosen feature space).
- `inception_score`: the Inception-style score of a classifier's predictions.
- `prdc`: precision, recall, density and coverage (Naeem et al. 2020).
- `conditional_accuracy`: how often a conditional generator yields the requested class.

`import gancore` does not import this package, so scipy is loaded only when it is used.
"""

from __future__ import annotations

from gancore.metrics._conditional import conditional_accuracy
from gancore.metrics._frechet import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
)
from gancore.metrics._inception import inception_score
from gancore.metrics._modes import ModeReport, mode_metrics
from gancore.metrics._prdc import PRDC, prdc

__all__ = [
    "PRDC",
    "ModeReport",
    "conditional_accuracy",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "inception_score",
    "mode_metrics",
    "prdc",
]
