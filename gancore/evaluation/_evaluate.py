"""`evaluate`: score a trained model or its samples against the real data, with the
real-versus-real baseline beside every score."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data import Dataset, GaussianMixture2D
from gancore.evaluation._cache import load_or_train_classifier
from gancore.evaluation._classifier import ClassifierSettings, FeatureClassifier
from gancore.evaluation._defaults import MIXTURE_SAMPLES
from gancore.evaluation._report import ImageScores, Report
from gancore.evaluation._sources import Source, SourceLike, open_source
from gancore.metrics import (
    conditional_accuracy,
    frechet_distance_from_features,
    inception_score,
    mode_metrics,
    prdc,
)
from gancore.training import default_backend, load_dataset

__all__ = ["MIXTURE_SAMPLES", "evaluate"]

_MIXTURES = {"ring": GaussianMixture2D.ring, "grid": GaussianMixture2D.grid}
# The baseline's mixture samples are drawn with a seed of their own, so that they never
# coincide with the data a model was trained on (load_mixture's seed 0).
_BASELINE_SEED = 2018


def evaluate(
    samples: SourceLike,
    dataset: str | Dataset | None = None,
    *,
    dataset_options: Mapping[str, Any] | None = None,
    labels: Any = None,
    num_samples: int | None = None,
    backend: str | None = None,
    seed: int = 0,
    classifier: ClassifierSettings | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    train_fraction: float = 0.5,
    split_seed: int = 0,
) -> Report:
    """Score a model (checkpoint) or its samples against a real dataset.

    **2-D mixtures** (``ring``, ``grid``): PacGAN's mode metrics on 2,500 samples (modes
    captured, high-quality share, reverse KL), beside those of 2,500 points drawn from the
    mixture itself.

    **Images** (``digits``, ``mnist``, ``fashion_mnist``, any labelled `Dataset`): the real
    data is split into a training part (``train_fraction``, stratified, ``split_seed``) and
    a held-out part. A small CNN is trained on the training part (or loaded from the cache,
    `load_or_train_classifier`); in its feature space the samples get a Frechet distance to
    the training part (penultimate features), an Inception-style score (softmax),
    precision / recall / density / coverage, and for conditional samples the conditional
    accuracy. The baseline is the held-out part scored the same way, at the samples' count
    (a seeded subset of it when there are fewer samples; all of it when there are more:
    ``Report.baseline_samples`` says how many), and the classifier's test accuracy is
    reported. A GAN trained on the same training part should approach the
    baseline: it is what fresh real data scores.

    Args:
        samples: a `Checkpoint` or checkpoint folder (samples are drawn), a ``.npy`` file, a
            folder of images (directly inside, or in one sub-folder per class name), or an
            array; images NHWC in [-1, 1] (or uint8 pixels) shaped like the dataset's.
        dataset: a dataset name (built-in or plugin; default: the checkpoint's) or a
            labelled `Dataset`.
        dataset_options: options of the named dataset's loader (e.g. ``folder`` for MNIST).
        labels: the class each sample was requested for (array or ``.npy`` path), for the
            conditional accuracy; a conditional checkpoint supplies its own.
        num_samples: samples drawn from a checkpoint (default: 2,500 for mixtures, the
            size of the held-out part for images); given samples beyond it are dropped.
        backend: where samples are drawn and the classifier runs (default torch if
            installed); checkpoints of any backend load on any backend.
        seed: the seed of the drawn samples.
        classifier: the feature classifier's settings (default `ClassifierSettings()` on
            `backend`); any change trains and caches another classifier.
        cache_dir: the classifier cache (default ``$GANCORE_CACHE/classifiers`` or
            ``~/.cache/gancore/classifiers``).
        train_fraction, split_seed: the real data's split.

    Returns:
        A `Report` (``report.table()`` to print, ``report.to_dict()`` for JSON).

    Raises:
        InvalidArgumentError: on an unknown dataset or input, samples of the wrong shape,
            or an image dataset without labels.
    """
    _check_arguments(dataset, num_samples, seed, backend, train_fraction, split_seed)
    source = open_source(samples, labels)
    name = dataset.name if isinstance(dataset, Dataset) else dataset or source.dataset
    if name is None:
        raise InvalidArgumentError(
            f"dataset must be given to score samples that do not come from a checkpoint; "
            f"received samples from {source.name}"
        )
    backend = backend or default_backend()
    if name in _MIXTURES and (not isinstance(dataset, Dataset) or dataset.shape == (2,)):
        return _evaluate_mixture(source, name, num_samples or MIXTURE_SAMPLES, backend, seed)
    data = dataset if isinstance(dataset, Dataset) else load_dataset(name, dataset_options)
    if data.labels is None or len(data.shape) != 3:
        raise InvalidArgumentError(
            f"dataset must be a 2-D mixture (ring, grid) or labelled images; received "
            f"{data.name!r} with samples of shape {data.shape}"
            f"{'' if data.labels is not None else ' and no labels'}"
        )
    settings = classifier or ClassifierSettings(backend=backend)
    return _evaluate_images(source, data, num_samples, backend, seed, settings, cache_dir,
                            train_fraction, split_seed)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_arguments(dataset: Any, num_samples: Any, seed: Any, backend: Any,
                     train_fraction: Any, split_seed: Any) -> None:
    if dataset is not None and not isinstance(dataset, str | Dataset):
        raise InvalidArgumentError(
            f"dataset must be a dataset name or a gancore.data.Dataset; received "
            f"{type(dataset).__name__}"
        )
    if num_samples is not None and (not _is_int(num_samples) or num_samples < 1):
        raise InvalidArgumentError(f"num_samples must be an int >= 1; received {num_samples!r}")
    for name, value in (("seed", seed), ("split_seed", split_seed)):
        if not _is_int(value) or value < 0:
            raise InvalidArgumentError(f"{name} must be an int >= 0; received {value!r}")
    if backend is not None and not isinstance(backend, str):
        raise InvalidArgumentError(
            f"backend must be a backend name such as 'torch' or 'tensorflow'; received "
            f"{type(backend).__name__}"
        )
    if (isinstance(train_fraction, bool) or not isinstance(train_fraction, int | float)
            or not 0 < train_fraction < 1):
        raise InvalidArgumentError(
            f"train_fraction must be a number in (0, 1); received {train_fraction!r}"
        )


def _evaluate_mixture(source: Source, name: str, n: int, backend: str, seed: int) -> Report:
    mixture = _MIXTURES[name]()
    samples, _ = source.draw(n, (2,), None, backend=backend, seed=seed)
    real = mixture.sample(len(samples), seed=_BASELINE_SEED)
    return Report(
        source=source.name, dataset=name, num_samples=len(samples),
        scores=mode_metrics(samples, mixture.means, mixture.std),
        baseline=mode_metrics(real, mixture.means, mixture.std), baseline_samples=len(real),
    )


def _evaluate_images(source: Source, data: Dataset, num_samples: int | None, backend: str,
                     seed: int, settings: ClassifierSettings,
                     cache_dir: str | os.PathLike[str] | None, train_fraction: float,
                     split_seed: int) -> Report:
    train, held_out = data.split(train_fraction, seed=split_seed)
    num_classes = int(data.num_classes or 0)
    class_names = data.class_names or tuple(str(k) for k in range(num_classes))
    samples, requested = source.draw(num_samples or len(held_out), tuple(data.shape),
                                     class_names, backend=backend, seed=seed)
    clf = load_or_train_classifier(train, held_out, settings, cache_dir)
    reference = clf.features(train.images, backend)
    scores = _image_scores(clf, reference, clf.features(samples, backend), requested)
    # Coverage, recall and the Frechet distance depend on the number of points scored: the
    # baseline scores as many held-out images as there are samples (all, if fewer).
    real = held_out.images
    real_labels = held_out.labels
    if len(samples) < len(held_out):
        keep = np.sort(np.random.default_rng(split_seed).permutation(len(held_out))[
            :len(samples)])
        real = real[keep]
        real_labels = None if real_labels is None else real_labels[keep]
    baseline = _image_scores(clf, reference, clf.features(real, backend),
                             real_labels if requested is not None else None)
    return Report(
        source=source.name, dataset=data.name, num_samples=len(samples), scores=scores,
        baseline=baseline, baseline_samples=len(real),
        classifier={"key": clf.key, "loaded_from_cache": clf.loaded, "backend": backend,
                    "test_accuracy": clf.test_accuracy, "num_train": clf.num_train,
                    "num_test": clf.num_test, "settings": attrs.asdict(clf.settings)},
    )


def _image_scores(clf: FeatureClassifier, reference: np.ndarray, features: np.ndarray,
                  requested: np.ndarray | None) -> ImageScores:
    probs = clf.probabilities(features)
    mean, std = inception_score(probs, splits=min(10, len(probs)))
    return ImageScores(
        frechet_distance=frechet_distance_from_features(features, reference),
        inception_score=mean,
        inception_score_std=std,
        prdc=prdc(reference, features, k=5),
        conditional_accuracy=None if requested is None else conditional_accuracy(
            probs, requested
        ),
    )
