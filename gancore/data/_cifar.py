"""CIFAR-10's "python version" batches, unpickled without running arbitrary code."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gancore._errors import GancoreError, InvalidArgumentError
from gancore.data._dataset import Dataset

CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_SPLIT_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
# The folder the official archive unpacks to; accepted as a child of the given folder.
_ARCHIVE_FOLDER = "cifar-10-batches-py"


def _allowed_globals() -> dict[tuple[str, str], Any]:
    # numpy's own reduce names its array reconstructor, wherever this numpy version keeps it.
    reconstruct = np.empty(0).__reduce__()[0]
    # The official batches were pickled by numpy 1 under Python 2 (module numpy.core);
    # numpy 2 pickles name numpy._core. Both map to the function already imported, so the
    # deprecated numpy.core shim is never imported.
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain containers, and nothing else.

    Unpickling calls whatever `find_class` returns; a pickle naming `os.system` would run a
    command. Only the callables that rebuild an ndarray are let through.
    """

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[module, name]
        except KeyError:
            raise GancoreError(
                f"refusing to unpickle {module}.{name}: a CIFAR-10 batch may only hold numpy "
                "arrays, lists, bytes and numbers"
            ) from None


def _unpickle(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidArgumentError(f"cannot read CIFAR-10 file {str(path)!r}: {e}") from e
    try:
        # encoding="bytes": the batches were written by Python 2, whose str keys are bytes.
        return _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except GancoreError as e:
        raise GancoreError(f"CIFAR-10 file {str(path)!r}: {e}") from None
    except Exception as e:  # a corrupt pickle can fail in many ways; all mean the same
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(path)!r} is not a readable pickle: {type(e).__name__}: {e}"
        ) from e


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or (data.shape[1] != 3 * 32 * 32)
    ):
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(path)!r} must be a dict whose b'data' is uint8 of shape "
            f"(N, 3072); received {type(batch).__name__} with b'data' = {_describe(data)}"
        )
    label_array = np.asarray(labels if labels is not None else [])
    if label_array.shape != (len(data),) or not np.issubdtype(label_array.dtype, np.integer):
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(path)!r} must hold b'labels', {len(data)} integers; "
            f"received {_describe(label_array)}"
        )
    # Each row is one image, channel-major (CHW): 1024 red, then green, then blue values.
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    return images, label_array.astype(np.int64)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} of shape {value.shape}"
    return type(value).__name__


def _class_names(folder: Path) -> tuple[str, ...]:
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        return CIFAR10_CLASS_NAMES
    meta = _unpickle(meta_path)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 10:
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(meta_path)!r} must hold b'label_names', a list of 10 names; "
            f"received {names!r}"
        )
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def load_cifar10(folder: str | os.PathLike[str], split: str = "train") -> Dataset:
    """CIFAR-10 from its "python version" batches: (N, 32, 32, 3) in `[-1, 1]`, 10 classes.

    `folder` holds `data_batch_1` ... `data_batch_5` (`split="train"`) or `test_batch`
    (`split="test"`), or is the folder that contains `cifar-10-batches-py`. Class names
    come from `batches.meta` when present. The pickles are read by an unpickler that
    rebuilds numpy arrays only; anything else in them raises `GancoreError` instead of
    being executed. Nothing is downloaded.
    """
    if split not in _SPLIT_FILES:
        raise InvalidArgumentError(f"split must be one of 'train', 'test'; received {split!r}")
    root = Path(folder)
    if (root / _ARCHIVE_FOLDER).is_dir():
        root = root / _ARCHIVE_FOLDER
    paths = [root / file_name for file_name in _SPLIT_FILES[split]]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise InvalidArgumentError(
            f"folder {str(folder)!r} must contain the CIFAR-10 {split} batches "
            f"{', '.join(_SPLIT_FILES[split])}; missing: {', '.join(missing)}"
        )
    batches = [_read_batch(path) for path in paths]
    images = np.concatenate([images for images, _ in batches])
    return Dataset(
        name="cifar10",
        images=images.astype(np.float32) / 127.5 - 1.0,
        labels=np.concatenate([labels for _, labels in batches]),
        num_classes=10,
        class_names=_class_names(root),
    )
