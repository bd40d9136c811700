"""The on-disk cache of feature classifiers: named arrays (``.npz``) plus JSON, no pickle.

A classifier is stored under ``<cache>/classifiers/<dataset>-<key>.{npz,json}``, where
``<cache>`` is ``$GANCORE_CACHE`` or ``~/.cache/gancore`` and ``key`` hashes everything
that determines it: both real parts (pixels and labels), the settings and the format.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from gancore._errors import GancoreError
from gancore.data import Dataset
from gancore.evaluation._classifier import (
    ClassifierSettings,
    FeatureClassifier,
    train_classifier,
)
from gancore.nn import NetworkSpec

__all__ = ["CACHE_ENV", "cache_dir", "classifier_key", "load_or_train_classifier"]

#: Environment variable that overrides gancore's cache folder (default ~/.cache/gancore).
CACHE_ENV = "GANCORE_CACHE"
FORMAT = 1


def cache_dir() -> Path:
    """Where classifiers are cached: ``$GANCORE_CACHE/classifiers`` or
    ``~/.cache/gancore/classifiers``."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "gancore"
    return Path(root) / "classifiers"


def _fingerprint(data: Dataset) -> bytes:
    digest = hashlib.sha256(repr((data.images.shape, data.num_classes)).encode())
    digest.update(np.ascontiguousarray(data.images).tobytes())
    digest.update(np.ascontiguousarray(data.labels).tobytes())
    return digest.digest()


def classifier_key(train: Dataset, test: Dataset, settings: ClassifierSettings) -> str:
    """A hex SHA-256 of the format, the settings and both real parts' pixels and labels."""
    digest = hashlib.sha256(
        json.dumps({"format": FORMAT, **settings.to_dict()}, sort_keys=True).encode()
    )
    digest.update(_fingerprint(train) + _fingerprint(test))
    return digest.hexdigest()


def _paths(folder: Path, name: str, key: str) -> tuple[Path, Path]:
    stem = f"{name}-{key[:16]}"
    return folder / f"{stem}.npz", folder / f"{stem}.json"


def _save(classifier: FeatureClassifier, arrays_path: Path, meta_path: Path,
          dataset: str) -> None:
    arrays_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{part}/{name}": value for part, state in classifier.states.items()
              for name, value in state.items()}
    meta = {
        "format": FORMAT, "key": classifier.key, "dataset": dataset,
        "settings": classifier.settings.to_dict(), "test_accuracy": classifier.test_accuracy,
        "num_train": classifier.num_train, "num_test": classifier.num_test,
        "specs": {"features": classifier.features_spec.to_dict(),
                  "head": classifier.head_spec.to_dict()},
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    # Written under temporary names and renamed, the JSON last: a reader that finds the
    # JSON finds complete arrays, even if another process writes the same entry.
    _write_atomically(arrays_path, buffer.getvalue())
    _write_atomically(meta_path, json.dumps(meta, indent=2).encode())


def _write_atomically(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(arrays_path: Path, meta_path: Path, key: str) -> FeatureClassifier:
    try:
        meta = json.loads(meta_path.read_text())
        states: dict[str, dict[str, np.ndarray]] = {}
        with np.load(arrays_path, allow_pickle=False) as npz:
            for name in npz.files:
                part, _, param = name.partition("/")
                states.setdefault(part, {})[param] = npz[name]
        if meta.get("format") != FORMAT or meta.get("key") != key:
            raise ValueError(f"format {meta.get('format')!r}, key {meta.get('key')!r}")
        return FeatureClassifier(
            NetworkSpec.from_dict(meta["specs"]["features"]),
            NetworkSpec.from_dict(meta["specs"]["head"]),
            states, ClassifierSettings(**meta["settings"]),
            test_accuracy=float(meta["test_accuracy"]), num_train=int(meta["num_train"]),
            num_test=int(meta["num_test"]), key=key, loaded=True,
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GancoreError(
            f"the cached classifier {str(meta_path)!r} cannot be read ({e}); delete "
            f"{meta_path.name} and {arrays_path.name} to train it again"
        ) from e


def load_or_train_classifier(train: Dataset, test: Dataset,
                             settings: ClassifierSettings | None = None,
                             folder: str | os.PathLike[str] | None = None) -> FeatureClassifier:
    """The feature classifier of these real parts and settings: loaded from the cache when
    it is there, else trained (`train_classifier`) and cached.

    Args:
        train: the real part it is trained on (labelled images).
        test: the held-out real part its accuracy is measured on.
        settings: how to train it (default `ClassifierSettings()`).
        folder: the cache folder (default `cache_dir()`).
    """
    settings = settings or ClassifierSettings()
    key = classifier_key(train, test, settings)
    arrays_path, meta_path = _paths(Path(folder) if folder else cache_dir(), train.name, key)
    if meta_path.is_file():
        return _load(arrays_path, meta_path, key)
    classifier = train_classifier(train, test, settings, key=key)
    _save(classifier, arrays_path, meta_path, train.name)
    return classifier
