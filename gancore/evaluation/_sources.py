"""What `evaluate` scores: samples from a checkpoint, a ``.npy`` array, an image folder, or
an array in memory, checked against the dataset's sample shape."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data import IMAGE_SUFFIXES, Dataset, load_image_folder, resize_images
from gancore.data._folder import _import_pillow, _read_image
from gancore.data._npy import read_npy
from gancore.training import Checkpoint, load_checkpoint

__all__ = ["Source", "open_source"]

SourceLike = Checkpoint | np.ndarray | str | os.PathLike[str]


@attrs.frozen
class Source:
    """An opened input: a checkpoint to sample from, or samples already made.

    ``labels`` are the classes the samples were requested for (conditional accuracy),
    when known; ``name`` describes the input in reports.
    """

    name: str
    checkpoint: Checkpoint | None = None
    samples: np.ndarray | None = attrs.field(default=None, eq=False)
    labels: np.ndarray | None = attrs.field(default=None, eq=False)
    folder: Path | None = None

    @property
    def dataset(self) -> str | None:
        """The name of the dataset a checkpoint was trained on (None for plain samples)."""
        if self.checkpoint is None or not self.checkpoint.meta.get("data"):
            return None
        return str(self.checkpoint.meta["data"]["name"])

    def draw(self, n: int, data_shape: tuple[int, ...], class_names: tuple[str, ...] | None,
             *, backend: str, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The samples, shaped like the dataset's, and their requested labels (or None).

        A checkpoint gives `n` samples drawn with `seed` on `backend` (a conditional one
        with labels cycling through the classes); samples given as such are all used, or
        the first `n`.
        """
        labels = self.labels
        if self.checkpoint is not None:
            arch = self.checkpoint.architecture
            if arch.kind not in ("gan", "conditional", "semi_supervised"):
                raise InvalidArgumentError(
                    f"a {arch.kind} checkpoint translates images and has no sample "
                    f"distribution to score; received {self.name}"
                )
            if arch.kind == "conditional":
                labels = np.arange(n, dtype=np.int64) % int(arch.num_classes or 1)
            samples = self.checkpoint.sample(n, backend=backend, labels=labels, seed=seed)
        elif self.folder is not None:
            samples, labels = _read_folder(self.folder, data_shape, class_names)
        else:
            assert self.samples is not None
            samples = self.samples
        samples = _as_samples(samples, data_shape, self.name)
        if labels is None:
            return samples[:n], None
        labels = np.asarray(labels)
        if labels.shape != (len(samples),) or labels.dtype.kind not in "iu":
            raise InvalidArgumentError(
                f"labels must hold one integer class per sample ({len(samples)}); "
                f"received {labels.dtype} of shape {labels.shape}"
            )
        return samples[:n], labels[:n].astype(np.int64)


def open_source(source: SourceLike, labels: Any = None) -> Source:
    """Open a checkpoint (object or folder with ``meta.json``), a ``.npy`` file, an image
    folder, or an array of samples; `labels` (array or ``.npy`` path) are the classes the
    samples were requested for."""
    if isinstance(labels, str | os.PathLike):
        labels = read_npy(labels, kinds="iu", ndim=(1,), what="labels file")
    if isinstance(source, Checkpoint):
        return Source(str(source.path), checkpoint=source)
    if isinstance(source, np.ndarray):
        return Source("array", samples=source, labels=labels)
    if not isinstance(source, str | os.PathLike):
        raise InvalidArgumentError(
            f"samples must be a checkpoint, a .npy path, an image folder or an array; "
            f"received {type(source).__name__}"
        )
    path = Path(source)
    if path.is_dir() and (path / "meta.json").is_file():
        return Source(str(path), checkpoint=load_checkpoint(path))
    if path.is_dir():
        return Source(str(path), folder=path, labels=labels)
    if path.suffix == ".npy" and path.is_file():
        # Floats (NHWC images in [-1, 1], or points) or uint8 pixels, checked on the header
        # before the data is read (`read_npy`: no pickle, at most MAX_NPY_BYTES).
        samples = read_npy(path, kinds="fu", ndim=(2, 3, 4), check=_floats_or_pixels,
                           what="samples file")
        return Source(str(path), samples=samples, labels=labels)
    raise InvalidArgumentError(
        f"samples must be a checkpoint folder, an existing .npy file or an image folder; "
        f"received {str(path)!r}"
    )


def _floats_or_pixels(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if dtype.kind == "u" and dtype != np.uint8:
        raise InvalidArgumentError(f"samples must be floats or uint8 pixels; received {dtype}")


def _as_samples(samples: np.ndarray, data_shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.asarray(samples)
    if array.ndim < 2 or tuple(array.shape[1:]) != tuple(data_shape):
        raise InvalidArgumentError(
            f"samples must have the dataset's sample shape (n, {', '.join(map(str, data_shape))})"
            f"; received {array.dtype} of shape {array.shape} from {name}"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0
    if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
        raise InvalidArgumentError(
            f"samples must be finite floats (or uint8 pixels); received {array.dtype} from {name}"
        )
    if len(data_shape) == 3 and (array.min() < -1.0 or array.max() > 1.0):
        raise InvalidArgumentError(
            f"image samples must lie in [-1, 1]; received values in "
            f"[{array.min():g}, {array.max():g}] from {name}"
        )
    return array.astype(np.float32, copy=False)


def _read_folder(folder: Path, data_shape: tuple[int, ...],
                 class_names: tuple[str, ...] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Images directly in `folder` (unlabelled), or in one sub-folder per class (labelled
    by the sub-folders' names, which must be class names), resized to the dataset's."""
    if len(data_shape) != 3:
        raise InvalidArgumentError(
            f"an image folder can only be scored against an image dataset; the dataset's "
            f"samples have shape {data_shape}"
        )
    height, width, channels = data_shape
    files = sorted(f for f in folder.iterdir()
                   if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        data: Dataset = load_image_folder(folder, size=(height, width), channels=channels)
        names = data.class_names or ()
        allowed = class_names or ()
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise InvalidArgumentError(
                f"class folders must be named after the dataset's classes "
                f"({', '.join(allowed)}); received {', '.join(unknown)} in {str(folder)!r}"
            )
        ids = np.array([allowed.index(n) for n in names], dtype=np.int64)
        assert data.labels is not None
        return np.asarray(data.images), ids[data.labels]
    image_module = _import_pillow()
    mode = "L" if channels == 1 else "RGB"
    images = [resize_images(_read_image(image_module, f, mode)[np.newaxis], (height, width))[0]
              for f in files]
    return np.stack(images), None
