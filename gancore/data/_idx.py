"""The IDX format of MNIST and Fashion-MNIST: a reader and the dataset loaders on top."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import Dataset

# IDX type codes (third magic byte) -> big-endian numpy dtypes.
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_DIGIT_NAMES = tuple(str(digit) for digit in range(10))
_SPLIT_PREFIXES = {"train": "train", "test": "t10k"}


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidArgumentError(f"cannot read IDX file {str(path)!r}: {e}") from e
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise InvalidArgumentError(
            f"IDX file {str(path)!r} starts like gzip but does not decompress: {e}"
        ) from e


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not, into a numpy array.

    The header is checked: two zero bytes, a known type code, the number of dimensions and
    each size (big-endian uint32); the payload must hold exactly that many values. Any
    mismatch raises `InvalidArgumentError` naming the file. The array comes back in the
    file's type (uint8 for MNIST), in native byte order.
    """
    path = Path(path)
    data = _read_bytes(path)
    where = f"IDX file {str(path)!r}"
    if len(data) < 4:
        raise InvalidArgumentError(
            f"{where} is truncated: 4 header bytes needed; received {len(data)} bytes"
        )
    if data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        codes = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise InvalidArgumentError(
            f"{where} has a bad magic number: it must be 00 00 <type> <ndim> with type in "
            f"{codes}; received {data[:4].hex(' ')}"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise InvalidArgumentError(f"{where} must have at least 1 dimension; received 0")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InvalidArgumentError(
            f"{where} is truncated: its header needs {header} bytes for {ndim} dimensions; "
            f"received {len(data)} bytes"
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        problem = "truncated" if len(data) - header < expected else "longer than its header says"
        raise InvalidArgumentError(
            f"{where} is {problem}: shape {shape} of {dtype.name} needs {expected} data "
            f"bytes; received {len(data) - header}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # astype copies into native byte order and a writeable array that owns its memory.
    return array.astype(dtype.newbyteorder("="))


def load_idx(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str] | None = None,
    name: str = "idx",
    *,
    class_names: tuple[str, ...] | None = None,
) -> Dataset:
    """Load IDX images (N, H, W) uint8, and optionally their labels, as a `Dataset`.

    Pixels are mapped to `[-1, 1]` as `x / 127.5 - 1` and a channel axis is added:
    `(N, H, W, 1)`. Labels (N,) uint8 become int64; `num_classes` is `len(class_names)`
    when names are given, else `max(label) + 1`.
    """
    images = read_idx(images_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InvalidArgumentError(
            f"IDX images in {str(images_path)!r} must be uint8 of shape (N, H, W); "
            f"received {images.dtype} of shape {images.shape}"
        )
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path)
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise InvalidArgumentError(
                f"IDX labels in {str(labels_path)!r} must be uint8 of shape "
                f"({len(images)},), one per image; received {labels.dtype} of shape "
                f"{labels.shape}"
            )
    # Without names, leave num_classes to Dataset's default (max label + 1).
    named = {} if class_names is None else {"num_classes": len(class_names)}
    return Dataset(
        name=name,
        images=(images.astype(np.float32) / 127.5 - 1.0)[..., np.newaxis],
        labels=labels,
        class_names=class_names,
        **named,
    )


def _find(folder: Path, stem: str) -> Path:
    # Prefer the uncompressed file when both exist: it reads faster.
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise InvalidArgumentError(
        f"folder {str(folder)!r} must contain {stem} or {stem}.gz; neither was found"
    )


def _load_mnist_format(
    folder: str | os.PathLike[str], split: str, name: str, class_names: tuple[str, ...]
) -> Dataset:
    if split not in _SPLIT_PREFIXES:
        raise InvalidArgumentError(f"split must be one of 'train', 'test'; received {split!r}")
    prefix = _SPLIT_PREFIXES[split]
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidArgumentError(
            f"folder must be an existing directory; received {str(folder)!r}"
        )
    return load_idx(
        _find(folder, f"{prefix}-images-idx3-ubyte"),
        _find(folder, f"{prefix}-labels-idx1-ubyte"),
        name,
        class_names=class_names,
    )


def load_mnist(folder: str | os.PathLike[str], split: str = "test", name: str = "mnist") -> Dataset:
    """MNIST from its original IDX files in `folder`: (N, 28, 28, 1) in `[-1, 1]`, 10 classes.

    `split="test"` reads `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`,
    `split="train"` the `train-` pair; each may be gzip-compressed (`.gz`).
    Nothing is downloaded.
    """
    return _load_mnist_format(folder, split, name, _DIGIT_NAMES)


def load_fashion_mnist(
    folder: str | os.PathLike[str], split: str = "test", name: str = "fashion_mnist"
) -> Dataset:
    """Fashion-MNIST from its IDX files in `folder` (the same file names as MNIST).

    Returns (N, 28, 28, 1) images in `[-1, 1]` and 10 named classes
    (`FASHION_MNIST_CLASS_NAMES`). Nothing is downloaded.
    """
    return _load_mnist_format(folder, split, name, FASHION_MNIST_CLASS_NAMES)
