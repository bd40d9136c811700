"""Evaluation of trained models with metrics that need no download (`gancore eval`).

- `evaluate`: a checkpoint, a ``.npy`` array or a folder of samples scored against a real
  dataset, as a `Report` that always states the real-versus-real baseline: PacGAN's mode
  metrics on the 2-D mixtures; on images, a classifier-Frechet distance, an
  Inception-style score, precision / recall / density / coverage and, for conditional
  models, conditional accuracy, all in the feature space of a small CNN that gancore
  trains on part of the real data (`FeatureClassifier`) and caches on disk.
- `add_arguments` / `run`: the ``gancore eval`` command line.

Importing this package imports only the standard library; its other names are imported
from their modules when first used, and no framework is imported until a classifier is
trained or samples are drawn on a backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gancore.evaluation._cli import add_arguments, run

if TYPE_CHECKING:
    from gancore.evaluation._cache import (
        CACHE_ENV,
        cache_dir,
        classifier_key,
        load_or_train_classifier,
    )
    from gancore.evaluation._classifier import (
        ClassifierSettings,
        FeatureClassifier,
        classifier_specs,
        train_classifier,
    )
    from gancore.evaluation._evaluate import MIXTURE_SAMPLES, evaluate
    from gancore.evaluation._report import ImageScores, Report

__all__ = [
    "CACHE_ENV",
    "MIXTURE_SAMPLES",
    "ClassifierSettings",
    "FeatureClassifier",
    "ImageScores",
    "Report",
    "add_arguments",
    "cache_dir",
    "classifier_key",
    "classifier_specs",
    "evaluate",
    "load_or_train_classifier",
    "run",
    "train_classifier",
]

# Where each lazily imported name lives (`gancore eval --help` must stay fast and light).
_MODULES = {
    "CACHE_ENV": "_cache", "cache_dir": "_cache", "classifier_key": "_cache",
    "load_or_train_classifier": "_cache", "ClassifierSettings": "_classifier",
    "FeatureClassifier": "_classifier", "classifier_specs": "_classifier",
    "train_classifier": "_classifier", "MIXTURE_SAMPLES": "_evaluate",
    "evaluate": "_evaluate", "ImageScores": "_report", "Report": "_report",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
