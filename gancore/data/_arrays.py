"""A dataset of ``.npy`` arrays: ``images.npy`` and, optionally, ``labels.npy`` in a folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import Dataset
from gancore.data._limits import MAX_NPY_BYTES
from gancore.data._npy import map_npy, read_npy
from gancore.data._streaming import ArrayReader, StreamingDataset, to_pixels

_IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))


def _check_images(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if dtype.newbyteorder("=") not in _IMAGE_DTYPES or 0 in shape:
        raise InvalidArgumentError(
            f"images must be uint8 pixels or float32 values in [-1, 1] of shape (N, H, W, C) "
            f"with N, H, W, C > 0; received {dtype} of shape {shape}"
        )


def load_npy(
    folder: str | os.PathLike[str],
    name: str | None = None,
    *,
    max_bytes: int = MAX_NPY_BYTES,
    stream: bool = False,
) -> Dataset | StreamingDataset:
    """``folder/images.npy`` and, when present, ``folder/labels.npy`` as a dataset.

    The images are (N, H, W, C): uint8 pixels, mapped to `[-1, 1]` as `x / 127.5 - 1`, or
    float32 values in `[-1, 1]`. The labels are N integers >= 0 (`num_classes` is the
    largest + 1). Each file's header is checked before any data is read (`read_npy`;
    `max_bytes` bounds each payload). `name` defaults to the folder's name. With `stream`,
    the images are memory-mapped and a `StreamingDataset` reads each batch's samples when
    it is drawn (float32 samples are checked for their range as they are read); the
    labels are read into memory. Its batches equal those of the in-memory dataset.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidArgumentError(
            f"folder must be an existing directory; received {str(folder)!r}"
        )
    images_path, labels_path = root / "images.npy", root / "labels.npy"
    where = f".npy images {str(images_path)!r}"
    opener = map_npy if stream else read_npy
    images = opener(images_path, kinds="uf", ndim=(4,), max_bytes=max_bytes,
                    check=_check_images, what=".npy images")
    labels = None
    if labels_path.exists():
        labels = read_npy(labels_path, kinds="iu", ndim=(1,), max_bytes=max_bytes,
                          what=".npy labels").astype(np.int64)
        if labels.shape != (len(images),) or labels.min() < 0:
            low = labels.min() if labels.size else None
            raise InvalidArgumentError(
                f".npy labels {str(labels_path)!r} must be {len(images)} integers >= 0, one "
                f"per image; received shape {labels.shape}, smallest {low}"
            )
    num_classes = None if labels is None else int(labels.max()) + 1
    if stream:
        return StreamingDataset(name=name or root.name, reader=ArrayReader(images, where),
                                labels=labels, num_classes=num_classes)
    return Dataset(name=name or root.name, images=to_pixels(images, where, 0), labels=labels,
                   num_classes=num_classes)
