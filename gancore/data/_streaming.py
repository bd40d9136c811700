"""`StreamingDataset`: samples read from files when a batch needs them, not all at load.

A streaming dataset has the contract of `Dataset` (a `name`, the per-sample `shape`,
`num_classes`, `class_names`, `len`, float32 samples in `[-1, 1]`, labels in memory) but
holds a *reader* instead of the images: `read(indices)` decodes just those samples. Its
loaders are the in-memory loaders with ``stream=True`` (`load_image_folder`, `load_idx`,
`load_mnist`, `load_fashion_mnist`, `load_npy`); the same files and seed give, bit for
bit, the batches of the in-memory dataset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import Dataset, _as_names, array_repr

__all__ = ["ArrayReader", "SampleReader", "StreamingDataset"]

# Samples per read when a whole dataset is passed through (fingerprint, `load`).
_CHUNK = 1024


class SampleReader(Protocol):
    """What a `StreamingDataset` reads its samples from."""

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, `(H, W, C)`."""
        ...

    def __len__(self) -> int: ...

    def read(self, index: np.ndarray) -> np.ndarray:
        """The samples at `index` (valid int64 positions), in that order: float32 in `[-1, 1]`;
        a sample that breaks a limit or cannot be decoded raises `InvalidArgumentError`."""
        ...

    def content(self) -> Iterator[bytes]:
        """The bytes a fingerprint of the data hashes, in a fixed order."""
        ...


def to_pixels(rows: np.ndarray, where: str, first: int) -> np.ndarray:
    """Samples of a mapped array as float32 in `[-1, 1]`: uint8 as `x / 127.5 - 1` (the
    in-memory loaders' arithmetic), float32 checked."""
    if rows.dtype == np.uint8:
        # In place: one float32 copy, as the in-memory loaders make it.
        pixels = rows.astype(np.float32)
        pixels /= 127.5
        pixels -= 1.0
        return pixels
    pixels = rows.astype(np.float32)  # native byte order
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)) or low < -1.0 or high > 1.0:
        raise InvalidArgumentError(
            f"{where} must hold finite samples in [-1, 1]; received values in "
            f"[{low:g}, {high:g}] among the samples read (sample {first} first)"
        )
    return pixels


@attrs.frozen(eq=False)
class ArrayReader:
    """Samples of an array read lazily (a memory-mapped ``.npy`` or IDX file): uint8 pixels
    (mapped as `x / 127.5 - 1`) or float32 in `[-1, 1]` (checked as they are read).
    `expand` adds the channel axis of IDX images, (N, H, W) -> (N, H, W, 1)."""

    array: np.ndarray = attrs.field(repr=array_repr)
    where: str
    expand: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample."""
        return (*self.array.shape[1:], 1) if self.expand else tuple(self.array.shape[1:])

    def __len__(self) -> int:
        return len(self.array)

    def read(self, index: np.ndarray) -> np.ndarray:
        """The samples at `index`: fancy indexing copies just those rows from the map."""
        pixels = to_pixels(self.array[index], self.where, int(index[0]) if len(index) else 0)
        return pixels[..., np.newaxis] if self.expand else pixels

    def content(self) -> Iterator[bytes]:
        """The float32 samples, in order: the bytes `data_fingerprint` hashes in memory."""
        for start in range(0, len(self), _CHUNK):
            yield self.read(np.arange(start, min(start + _CHUNK, len(self)))).tobytes()


def _check_labels(dataset: StreamingDataset) -> None:
    labels, num_classes, size = dataset.labels, dataset.num_classes, len(dataset.reader)
    if labels is None:
        if num_classes is not None:
            raise InvalidArgumentError(
                f"num_classes must be None without labels; received {num_classes}"
            )
        return
    if labels.dtype != np.int64 or labels.shape != (size,):
        raise InvalidArgumentError(
            f"labels must be int64 of shape ({size},), one per sample; received "
            f"{labels.dtype} of shape {labels.shape}"
        )
    if num_classes is None or not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise InvalidArgumentError(
            f"labels must lie in [0, num_classes) for num_classes={num_classes}; received "
            f"values in [{int(labels.min())}, {int(labels.max())}]"
        )


def _readonly_labels(labels: Any) -> np.ndarray | None:
    if labels is None:
        return None
    view = np.asarray(labels).view()
    view.flags.writeable = False
    return view


@attrs.frozen(eq=False)
class StreamingDataset:
    """A named set of samples read lazily by `reader` (a `SampleReader`); its labels, one
    int64 per sample (or `None`), are in memory. Built by the loaders with ``stream=True``.

    `read(indices)` returns those samples; `subset` and `load` read samples into an
    in-memory `Dataset`. `iterate_batches` and `batches_for` draw from it exactly the
    batches they draw from the same data in memory.
    """

    name: str
    reader: SampleReader
    labels: np.ndarray | None = attrs.field(default=None, converter=_readonly_labels,
                                            repr=array_repr)
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = attrs.field(default=None, converter=_as_names)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(f"name must be a non-empty str; received {self.name!r}")
        if len(self.reader) == 0:
            raise InvalidArgumentError(f"{self.name!r} must hold at least one sample; it has 0")
        _check_labels(self)
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise InvalidArgumentError(
                f"class_names must be num_classes ({self.num_classes}) strings; received "
                f"{self.class_names!r}"
            )

    def __len__(self) -> int:
        """The number of samples."""
        return len(self.reader)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, `(H, W, C)`."""
        return tuple(self.reader.shape)

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The samples at `indices` (ints in `[0, len)`), float32 (K, H, W, C) in `[-1, 1]`."""
        index = np.asarray(indices)
        size = len(self)
        if index.ndim != 1 or not (np.issubdtype(index.dtype, np.integer) or index.size == 0):
            raise InvalidArgumentError(
                f"indices must be a 1-D sequence of ints; received {index.dtype} of shape "
                f"{index.shape}"
            )
        if index.size and (index.min() < 0 or index.max() >= size):
            raise InvalidArgumentError(
                f"indices must lie in [0, {size}) for {self.name!r}; received values in "
                f"[{index.min()}, {index.max()}]"
            )
        return self.reader.read(index.astype(np.int64, copy=False))

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The samples at `indices` (ints, or a boolean mask of length N), read into memory."""
        index = np.asarray(indices)
        if index.dtype == np.bool_ and index.shape == (len(self),):
            index = np.flatnonzero(index)
        labels = None if self.labels is None else self.labels[index]
        return Dataset(name=self.name, images=self.read(index), labels=labels,
                       num_classes=self.num_classes, class_names=self.class_names)

    def load(self) -> Dataset:
        """Every sample, read into an in-memory `Dataset` (in chunks)."""
        size = len(self)
        images = np.empty((size, *self.shape), np.float32)
        for start in range(0, size, _CHUNK):
            stop = min(start + _CHUNK, size)
            images[start:stop] = self.read(np.arange(start, stop))
        return Dataset(name=self.name, images=images, labels=self.labels,
                       num_classes=self.num_classes, class_names=self.class_names)

    def fingerprint(self) -> str:
        """A hash of the samples and labels (one pass over the reader's `content`): a
        resumed run must see the same data. For memory-mapped arrays it equals the
        fingerprint of the same data in memory; an image folder hashes its files' names
        and bytes, not the decoded pixels."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(json.dumps([[len(self), *self.shape], "float32"]).encode())
        for piece in self.reader.content():
            digest.update(piece)
        if self.labels is not None:
            digest.update(np.ascontiguousarray(self.labels).data)
        return digest.hexdigest()
