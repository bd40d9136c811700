"""The IDX format of MNIST and Fashion-MNIST: a reader and the dataset loaders on top."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import secrets
import stat
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import Dataset
from gancore.data._limits import MAX_IDX_BYTES, check_limit
from gancore.data._streaming import ArrayReader, StreamingDataset

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
# Payloads are read (and gzip inflated) in pieces of this size.
_CHUNK = 1 << 20

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


def _count(n: int) -> str:
    # A header of 255 sizes can declare a number of 2,000 digits; print its magnitude.
    return str(n) if n < 10**18 else f"more than 2**{n.bit_length() - 1}"


def _read(stream: BinaryIO, size: int, where: str, gzipped: bool) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as e:
        raise _read_error(where, gzipped, e) from e


def _read_into(stream: BinaryIO, view: memoryview, where: str, gzipped: bool) -> int:
    try:
        return stream.readinto(view)  # type: ignore[attr-defined]
    except (OSError, EOFError, zlib.error) as e:
        raise _read_error(where, gzipped, e) from e


def _read_error(where: str, gzipped: bool, e: BaseException) -> InvalidArgumentError:
    if gzipped:
        return InvalidArgumentError(f"{where} starts like gzip but does not decompress: {e}")
    return InvalidArgumentError(f"cannot read {where}: {e}")


def _parse_header(
    stream: BinaryIO, where: str, max_bytes: int, gzipped: bool, file_size: int | None
) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    """The dtype, shape and header length of the IDX array at `stream`, checked.

    `file_size` (raw files) lets a header that lies about the payload be refused before
    any of it is read.
    """
    magic = _read(stream, 4, where, gzipped)
    if len(magic) < 4:
        raise InvalidArgumentError(
            f"{where} is truncated: 4 header bytes needed; received {len(magic)} bytes"
        )
    if magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES:
        codes = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise InvalidArgumentError(
            f"{where} has a bad magic number: it must be 00 00 <type> <ndim> with type in "
            f"{codes}; received {magic.hex(' ')}"
        )
    dtype, ndim = _IDX_DTYPES[magic[2]], magic[3]
    if ndim == 0:
        raise InvalidArgumentError(f"{where} must have at least 1 dimension; received 0")
    header = 4 + 4 * ndim
    sizes = _read(stream, 4 * ndim, where, gzipped)
    if len(sizes) < 4 * ndim:
        raise InvalidArgumentError(
            f"{where} is truncated: its header needs {header} bytes for {ndim} dimensions; "
            f"received {4 + len(sizes)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", sizes)
    # Python ints: 255 sizes of up to 2**32 - 1 overflow any fixed-width product.
    expected = math.prod(shape) * dtype.itemsize
    need = _need(dtype, shape)
    if file_size is not None and file_size - header != expected:
        problem = "truncated" if file_size - header < expected else "longer than its header says"
        raise InvalidArgumentError(f"{where} is {problem}: {need}; received {file_size - header}")
    if expected > max_bytes:
        raise InvalidArgumentError(
            f"{where} is larger than max_bytes allows: its {need}; max_bytes allows at "
            f"most {max_bytes} (pass a larger max_bytes to read it)"
        )
    # numpy also refuses a shape whose non-zero sizes multiply past its index type, even
    # when another size is 0: say so rather than let reshape fail.
    if math.prod(max(size, 1) for size in shape) * dtype.itemsize > np.iinfo(np.intp).max:
        raise InvalidArgumentError(
            f"{where} declares shape {shape}: the product of its non-zero sizes times "
            f"{dtype.itemsize} bytes must be at most {np.iinfo(np.intp).max}"
        )
    return dtype, shape, header


def _need(dtype: np.dtype[Any], shape: tuple[int, ...]) -> str:
    return f"shape {shape} of {dtype.name} needs {_count(math.prod(shape) * dtype.itemsize)} " \
        "data bytes"


def _fill(stream: BinaryIO, buffer: np.ndarray, where: str, gzipped: bool, need: str) -> None:
    """Read exactly `buffer.size` payload bytes into `buffer` (uint8), in chunks: a gzip
    stream is never inflated past them plus the one byte that proves the payload longer
    than its header says."""
    expected = buffer.size
    view = memoryview(buffer).cast("B")  # type: ignore[arg-type]
    filled = 0
    while filled < expected:
        got = _read_into(stream, view[filled : filled + _CHUNK], where, gzipped)
        if not got:
            raise InvalidArgumentError(f"{where} is truncated: {need}; received {filled}")
        filled += got
    if _read(stream, 1, where, gzipped):
        raise InvalidArgumentError(
            f"{where} is longer than its header says: {need}; received more than {expected}"
        )


def _parse(
    stream: BinaryIO, where: str, max_bytes: int, gzipped: bool, file_size: int | None
) -> np.ndarray:
    """Read one IDX array from `stream`, allocating only what the checked header declares."""
    dtype, shape, _ = _parse_header(stream, where, max_bytes, gzipped, file_size)
    buffer = np.empty(math.prod(shape) * dtype.itemsize, dtype=np.uint8)
    _fill(stream, buffer, where, gzipped, _need(dtype, shape))
    array = buffer.view(dtype)
    if not dtype.isnative:  # swap in place: the result owns its memory, no second copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    array = array.reshape(shape)
    # min and max propagate nan and inf: two passes, no temporary array.
    if dtype.kind == "f" and array.size and not np.isfinite([array.min(), array.max()]).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise InvalidArgumentError(
            f"{where} must hold finite values; received {bad} nan or inf values among {array.size}"
        )
    return array


def read_idx(path: str | os.PathLike[str], *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not, into a numpy array.

    The header is checked: two zero bytes, a known type code, the number of dimensions and
    each size (big-endian uint32); the payload must hold exactly that many values, at most
    `max_bytes` bytes (default `MAX_IDX_BYTES`, 1 GiB; MNIST's train images are 47 MB).
    The declared size is checked before anything is allocated, and a gzip file is inflated
    in chunks, never past its declared size: a small file that inflates to gigabytes costs
    no more memory than its header admits. Float files (types 0x0D, 0x0E) must hold finite
    values. Any problem raises `InvalidArgumentError` naming the file. The array comes back
    in the file's type (uint8 for MNIST), in native byte order.
    """
    max_bytes = check_limit(max_bytes, "max_bytes")
    return _open_idx(path, lambda stream, where, gzipped, size: _parse(
        stream, where, max_bytes, gzipped, size))


def _open_idx(path: str | os.PathLike[str], parse: Callable[..., Any]) -> Any:
    """`parse(stream, where, gzipped, file_size)` on the IDX file `path`, inflated when it is
    gzip-compressed (`file_size` is None then, or for a pipe)."""
    path = Path(path)
    where = f"IDX file {str(path)!r}"
    try:
        file = path.open("rb")
    except OSError as e:
        raise InvalidArgumentError(f"cannot read {where}: {e}") from e
    with file:
        try:
            # peek, not seek: a pipe can be read too.
            gzipped = file.peek(2)[:2] == _GZIP_MAGIC
            info = os.fstat(file.fileno())
        except OSError as e:
            raise InvalidArgumentError(f"cannot read {where}: {e}") from e
        if not gzipped:
            size = info.st_size if stat.S_ISREG(info.st_mode) else None
            return parse(file, where, False, size)
        with gzip.GzipFile(fileobj=file, mode="rb") as stream:
            return parse(stream, where, True, None)


def map_idx(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_IDX_BYTES,
    cache_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """An IDX file as a read-only memory map: its values are read from disk when indexed.

    The header is checked as by `read_idx` (the same errors, `max_bytes` bounding the
    declared payload). An uncompressed file is mapped where it lies. A gzip-compressed one
    is inflated once, in chunks and never past its declared size, into an uncompressed
    copy in `cache_dir` (default: ``gancore-idx`` in the system's temporary folder), named
    after the file, its size and modification time, and written atomically; later calls
    map that copy. Values come in the file's byte order (big-endian for multi-byte types)
    and float files are not scanned for nan or inf: `load_idx(..., stream=True)` maps
    uint8 images only.
    """
    max_bytes = check_limit(max_bytes, "max_bytes")

    def parse(stream: BinaryIO, where: str, gzipped: bool, size: int | None) -> np.ndarray:
        if gzipped:
            return _inflate_to_cache(stream, Path(path), where, max_bytes, cache_dir)
        dtype, shape, header = _parse_header(stream, where, max_bytes, False, size)
        if size is None:
            raise InvalidArgumentError(f"cannot map {where}: it is not a regular file")
        return _memmap(Path(path), dtype, shape, header)

    return _open_idx(path, parse)


def _memmap(path: Path, dtype: np.dtype[Any], shape: tuple[int, ...], header: int
            ) -> np.ndarray:
    if math.prod(shape) == 0:  # an empty file region cannot be mapped
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=header, shape=shape)


def _inflate_to_cache(stream: BinaryIO, path: Path, where: str, max_bytes: int,
                      cache_dir: str | os.PathLike[str] | None) -> np.ndarray:
    info = path.stat()
    key = hashlib.blake2b(f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}".encode(),
                          digest_size=8).hexdigest()
    folder = Path(cache_dir) if cache_dir is not None else \
        Path(tempfile.gettempdir()) / "gancore-idx"
    cached = folder / f"{path.name.removesuffix('.gz')}.{key}"
    if not cached.is_file():
        dtype, shape, header = _parse_header(stream, where, max_bytes, True, None)
        code = next(c for c, d in _IDX_DTYPES.items() if d == dtype)
        tmp = folder / f".{cached.name}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                out.write(bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I",
                                                                         *shape))
            payload = math.prod(shape) * dtype.itemsize
            with tmp.open("r+b") as out:
                out.truncate(header + payload)
            if payload:
                target = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=header,
                                   shape=(payload,))
                try:
                    _fill(stream, target, where, True, _need(dtype, shape))
                    target.flush()
                finally:
                    del target
            os.replace(tmp, cached)
        except OSError as e:
            raise InvalidArgumentError(
                f"cannot write the uncompressed copy of {where} in {str(folder)!r}: {e} "
                "(pass another cache_dir)"
            ) from e
        finally:
            if tmp.exists():
                tmp.unlink()
    return map_idx(cached, max_bytes=max_bytes)


def load_idx(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str] | None = None,
    name: str = "idx",
    *,
    class_names: tuple[str, ...] | None = None,
    max_bytes: int = MAX_IDX_BYTES,
    stream: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset | StreamingDataset:
    """Load IDX images (N, H, W) uint8, and optionally their labels, as a `Dataset`.

    Pixels are mapped to `[-1, 1]` as `x / 127.5 - 1` and a channel axis is added:
    `(N, H, W, 1)`. Labels (N,) uint8 become int64; `num_classes` is `len(class_names)`
    when names are given (labels must then lie in `[0, len(class_names))`), else
    `max(label) + 1`. `max_bytes` bounds each file's payload, as in `read_idx`.

    With `stream`, the images are memory-mapped (`map_idx`; a gzip file is inflated once
    into `cache_dir`) and a `StreamingDataset` reads each batch's samples from disk when
    it is drawn; the labels are read into memory. Its batches equal those in memory.
    """
    if stream:
        images = map_idx(images_path, max_bytes=max_bytes, cache_dir=cache_dir)
    else:
        images = read_idx(images_path, max_bytes=max_bytes)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InvalidArgumentError(
            f"IDX images in {str(images_path)!r} must be uint8 of shape (N, H, W); "
            f"received {images.dtype} of shape {images.shape}"
        )
    if 0 in images.shape:
        raise InvalidArgumentError(
            f"IDX images in {str(images_path)!r} must have N, H and W > 0; "
            f"received shape {images.shape}"
        )
    labels = None
    if labels_path is not None:
        labels = read_idx(labels_path, max_bytes=max_bytes)
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise InvalidArgumentError(
                f"IDX labels in {str(labels_path)!r} must be uint8 of shape "
                f"({len(images)},), one per image; received {labels.dtype} of shape "
                f"{labels.shape}"
            )
        if class_names is not None and int(labels.max()) >= len(class_names):
            raise InvalidArgumentError(
                f"IDX labels in {str(labels_path)!r} must lie in [0, {len(class_names)}) "
                f"for {len(class_names)} classes; received values up to {int(labels.max())}"
            )
    if stream:
        return StreamingDataset(
            name=name,
            reader=ArrayReader(images, f"IDX images in {str(images_path)!r}", expand=True),
            labels=None if labels is None else labels.astype(np.int64),
            num_classes=None if labels is None else
            len(class_names) if class_names is not None else int(labels.max()) + 1,
            class_names=class_names,
        )
    # Without names, leave num_classes to Dataset's default (max label + 1).
    named = {} if class_names is None else {"num_classes": len(class_names)}
    # In place: one float32 copy of the images, not three.
    pixels = images.astype(np.float32)
    pixels /= 127.5
    pixels -= 1.0
    return Dataset(
        name=name,
        images=pixels[..., np.newaxis],
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


def mnist_split(folder: str | os.PathLike[str], split: str = "auto", name: str = "mnist"
                ) -> str:
    """The split of the MNIST-format files in `folder` that `split` names: "train" or
    "test" as given, and for "auto" the training split when both of its files are there,
    else the test split, with a `UserWarning` that says so (a model trained on the test
    split cannot be scored on unseen data)."""
    if split not in (*_SPLIT_PREFIXES, "auto"):
        raise InvalidArgumentError(
            f"split must be one of 'train', 'test', 'auto'; received {split!r}"
        )
    path = Path(folder)
    if not path.is_dir():
        raise InvalidArgumentError(
            f"folder must be an existing directory; received {str(folder)!r}"
        )
    if split != "auto":
        return split
    stems = [f"train-{kind}-idx{rank}-ubyte" for kind, rank in (("images", 3), ("labels", 1))]
    if all((path / s).is_file() or (path / f"{s}.gz").is_file() for s in stems):
        return "train"
    warnings.warn(
        f"{name}: {str(path)!r} holds no training split ({stems[0]}[.gz] and "
        f"{stems[1]}[.gz]); using its test split (t10k-*) instead",
        UserWarning, stacklevel=3,
    )
    return "test"


def _load_mnist_format(
    folder: str | os.PathLike[str],
    split: str,
    name: str,
    class_names: tuple[str, ...],
    max_bytes: int,
    stream: bool,
    cache_dir: str | os.PathLike[str] | None,
) -> Dataset | StreamingDataset:
    prefix = _SPLIT_PREFIXES[mnist_split(folder, split, name)]
    folder = Path(folder)
    return load_idx(
        _find(folder, f"{prefix}-images-idx3-ubyte"),
        _find(folder, f"{prefix}-labels-idx1-ubyte"),
        name,
        class_names=class_names,
        max_bytes=max_bytes,
        stream=stream,
        cache_dir=cache_dir,
    )


def load_mnist(
    folder: str | os.PathLike[str],
    split: str = "test",
    name: str = "mnist",
    *,
    max_bytes: int = MAX_IDX_BYTES,
    stream: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset | StreamingDataset:
    """MNIST from its original IDX files in `folder`: (N, 28, 28, 1) in `[-1, 1]`, 10 classes.

    `split="test"` reads `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`,
    `split="train"` the `train-` pair, `split="auto"` the `train-` pair when it is there
    and else, with a warning, the test pair (`mnist_split`); each may be gzip-compressed
    (`.gz`). `max_bytes`
    bounds each file's payload, as in `read_idx`. `stream` and `cache_dir` as in
    `load_idx`. Nothing is downloaded.
    """
    return _load_mnist_format(folder, split, name, _DIGIT_NAMES, max_bytes, stream,
                              cache_dir)


def load_fashion_mnist(
    folder: str | os.PathLike[str],
    split: str = "test",
    name: str = "fashion_mnist",
    *,
    max_bytes: int = MAX_IDX_BYTES,
    stream: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset | StreamingDataset:
    """Fashion-MNIST from its IDX files in `folder` (the same file names as MNIST).

    Returns (N, 28, 28, 1) images in `[-1, 1]` and 10 named classes
    (`FASHION_MNIST_CLASS_NAMES`); `split` as in `load_mnist`. `max_bytes` bounds each
    file's payload, as in `read_idx`. `stream` and `cache_dir` as in `load_idx`. Nothing
    is downloaded.
    """
    return _load_mnist_format(folder, split, name, FASHION_MNIST_CLASS_NAMES, max_bytes,
                              stream, cache_dir)
