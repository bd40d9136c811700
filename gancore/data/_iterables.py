"""A user's own batches: a Python iterable, a torch `DataLoader`, a `tf.data.Dataset`.

The source yields batches of `(images, labels)` or of images alone, as numpy arrays or as
the tensors of any framework (converted at this boundary without importing it: a tensor is
recognised by its type's module). Images must be NHWC (or `(B, D)` points) float values in
`[-1, 1]`; labels integers in `[0, num_classes)`.

Position and resume: the state is the epoch and the number of batches taken from it.
Resuming re-creates the epoch's iterator and skips that many batches, reading and
discarding them (the cost of reading them once more), unless the source has its own
`state_dict` / `load_state_dict` (as torchdata's `StatefulDataLoader`), which is then saved
and restored instead. Exact resume needs a source that yields the same batches when it is
re-created for the same epoch: a callable `source(epoch)` that seeds its shuffle with the
epoch does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._batches import Batch, Shard

__all__ = ["IterableBatches", "IterableSource", "from_iterable"]


def _numpy(value: Any, what: str) -> np.ndarray:
    module = type(value).__module__.split(".")[0]
    if module == "torch":
        return value.detach().cpu().numpy()
    if module == "tensorflow":
        return np.asarray(value.numpy())
    try:
        return np.asarray(value)
    except Exception as e:
        raise InvalidArgumentError(
            f"{what} must be an array or a tensor; received {type(value).__name__}"
        ) from e


def _rows(value: Any) -> int:
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) == 0:
        return len(value)
    return int(shape[0])


def _split(raw: Any, where: str) -> tuple[Any, Any]:
    """(images, labels or None) of one batch as the source yields it."""
    if isinstance(raw, tuple | list):
        if len(raw) != 2:
            raise InvalidArgumentError(
                f"{where} must be (images, labels) or images; received a "
                f"{type(raw).__name__} of {len(raw)} items"
            )
        return raw[0], raw[1]
    return raw, None


@attrs.frozen(eq=False)
class IterableSource:
    """A user's batch source with the dataset contract the trainers read: `name`, the
    per-sample `shape`, `num_classes`, `class_names` (`labels` is None: they come with the
    batches). Made by `from_iterable`; `batches_for` draws from it."""

    source: Any
    name: str
    shape: tuple[int, ...]
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    labels: None = None

    def epoch(self, epoch: int) -> Iterator[Any]:
        """A new iterator over the source's batches for `epoch`."""
        source = self.source(epoch) if _is_factory(self.source) else self.source
        return iter(source)

    def convert(self, raw: Any, rows: slice, where: str) -> Batch:
        """The rows `rows` of the raw batch `raw`, as a checked numpy `Batch`."""
        images, labels = _split(raw, where)
        images = _numpy(images[rows], f"{where} images")
        if images.dtype.kind != "f" or images.shape[1:] != self.shape:
            raise InvalidArgumentError(
                f"{where} images must be floats in [-1, 1] of shape (B, "
                f"{', '.join(map(str, self.shape))}); received {images.dtype} of shape "
                f"{images.shape}"
            )
        images = images.astype(np.float32)
        low, high = float(images.min()), float(images.max())
        if not (np.isfinite(low) and np.isfinite(high)) or (
                len(self.shape) == 3 and (low < -1.0 or high > 1.0)):
            raise InvalidArgumentError(
                f"{where} images must be finite values in [-1, 1]; received values in "
                f"[{low:g}, {high:g}]"
            )
        if labels is None:
            if self.num_classes is not None:
                raise InvalidArgumentError(
                    f"{where} must hold (images, labels) for num_classes={self.num_classes}; "
                    f"received images alone"
                )
            return Batch(images=images, labels=None)
        labels = _numpy(labels[rows], f"{where} labels")
        if (labels.dtype.kind not in "iu" or labels.shape != (len(images),)
                or self.num_classes is None
                or not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes):
            got = (f"{labels.dtype} of shape {labels.shape}" if labels.dtype.kind not in "iu"
                   or labels.shape != (len(images),)
                   else f"values in [{int(labels.min())}, {int(labels.max())}]")
            raise InvalidArgumentError(
                f"{where} labels must be {len(images)} integers in [0, num_classes) for "
                f"num_classes={self.num_classes}; received {got}"
            )
        return Batch(images=images, labels=labels.astype(np.int64))

    def fingerprint(self) -> str:
        """A hash of what is known of the data without reading it: name, shape, classes."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(json.dumps(["iterable", self.name, list(self.shape), self.num_classes,
                                  self.class_names]).encode())
        return digest.hexdigest()


def _is_factory(source: Any) -> bool:
    return callable(source) and not hasattr(source, "__iter__")


def from_iterable(source: Iterable[Any] | Callable[[int], Iterable[Any]], *,
                  name: str = "iterable", shape: tuple[int, ...] | None = None,
                  num_classes: int | None = None,
                  class_names: tuple[str, ...] | None = None) -> IterableSource:
    """A data source that trainers and `batches_for` take, from a user's batches.

    `source` is re-iterable (a list, a torch `DataLoader`, a `tf.data.Dataset`: each
    epoch iterates it anew) or a callable `source(epoch)` returning an iterable. A one-shot
    iterator (a generator object) is refused: resume must be able to re-create it. Each
    batch is `(images, labels)` or images, arrays or tensors; images NHWC (or `(B, D)`
    points) floats in `[-1, 1]`, converted to float32; labels (needed with `num_classes`)
    integers in `[0, num_classes)`. Without `shape` the first batch of epoch 0 is read now
    to learn the per-sample shape.
    """
    if hasattr(source, "__next__") and iter(source) is source:  # type: ignore[arg-type]
        raise InvalidArgumentError(
            "source must be re-iterable (a list, a DataLoader, a tf.data.Dataset) or a "
            "callable source(epoch) returning one; received a one-shot iterator "
            f"({type(source).__name__}), which a resumed run could not re-create"
        )
    if not (hasattr(source, "__iter__") or callable(source)):
        raise InvalidArgumentError(
            f"source must be an iterable of batches or a callable source(epoch); received "
            f"{type(source).__name__}"
        )
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"name must be a non-empty str; received {name!r}")
    if num_classes is not None and (isinstance(num_classes, bool)
                                    or not isinstance(num_classes, int) or num_classes <= 0):
        raise InvalidArgumentError(f"num_classes must be an int > 0 or None; received "
                                   f"{num_classes!r}")
    if shape is None:
        probe = IterableSource(source, name, (), num_classes)
        try:
            first = next(probe.epoch(0))
        except StopIteration:
            raise InvalidArgumentError(f"source {name!r} yields no batches") from None
        images = _split(first, f"source {name!r}'s first batch")[0]
        shape = tuple(int(d) for d in getattr(images, "shape", np.shape(images))[1:])
    if len(shape) not in (1, 3) or not all(d > 0 for d in shape):
        raise InvalidArgumentError(
            f"shape must be (H, W, C) for images or (D,) for points; received {shape!r}"
        )
    return IterableSource(source, name, tuple(shape), num_classes,
                          None if class_names is None else tuple(class_names))


class IterableBatches(Iterator[Batch]):
    """The batches of an `IterableSource`: batches of exactly `batch_size` samples are
    used, smaller ones (an epoch's last) skipped, larger ones refused. With
    `shard=(rank, world)` every worker iterates the same global batches and keeps its rows
    `[rank * b, (rank + 1) * b)`, `b = batch_size // world` (only they are converted); with
    `shard=None` the source is already this worker's own and each batch is taken whole."""

    def __init__(self, source: IterableSource, batch_size: int, shard: Shard | None,
                 epochs: int | None) -> None:
        self.source = source
        self.batch_size = batch_size
        self.shard = shard
        self.epochs = epochs
        self.epoch = 0
        self.taken = 0  # batches taken from this epoch's iterator
        self.used = 0  # of them, full ones
        self._it: Iterator[Any] | None = None

    def _where(self) -> str:
        return f"batch {self.taken} of epoch {self.epoch} of {self.source.name!r}"

    def __next__(self) -> Batch:
        while True:
            if self._it is None:
                if self.epochs is not None and self.epoch >= self.epochs:
                    raise StopIteration
                self._it, self.taken, self.used = self.source.epoch(self.epoch), 0, 0
            try:
                raw = next(self._it)
            except StopIteration:
                if self.used == 0:
                    raise InvalidArgumentError(
                        f"source {self.source.name!r} must yield batches of batch_size "
                        f"({self.batch_size}) samples; epoch {self.epoch} yielded "
                        f"{self.taken} batches, none that large"
                    ) from None
                self._it = None
                self.epoch += 1
                continue
            where = self._where()
            self.taken += 1
            size = _rows(_split(raw, where)[0])
            if size > self.batch_size:
                raise InvalidArgumentError(
                    f"{where} must hold at most batch_size ({self.batch_size}) samples; "
                    f"received {size}"
                )
            if size < self.batch_size:
                continue
            self.used += 1
            rows = slice(None)
            if self.shard is not None:
                rank, world = self.shard
                local = self.batch_size // world
                rows = slice(rank * local, (rank + 1) * local)
            return self.source.convert(raw, rows, where)

    def snapshot(self) -> dict[str, Any]:
        """The position: epoch, batches taken from it, and the source's own state if any."""
        state: dict[str, Any] = {"epoch": self.epoch, "batches": self.taken, "used": self.used,
                                 "started": self._it is not None}
        own = self.source.source
        if hasattr(own, "state_dict") and hasattr(own, "load_state_dict"):
            state["source"] = own.state_dict()
        return state

    def state_dict(self) -> dict[str, Any]:
        """As `snapshot`."""
        return self.snapshot()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a position `state_dict` returned: re-create the epoch's iterator
        and skip the batches taken (or restore the source's own state)."""
        for key in ("epoch", "batches", "used"):
            value = state.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgumentError(
                    f"the batch position's {key} must be an int >= 0; received {value!r}"
                )
        self.epoch, self.taken, self.used = state["epoch"], state["batches"], state["used"]
        self._it = None
        if not state.get("started"):
            return
        own = self.source.source
        if "source" in state and hasattr(own, "load_state_dict"):
            own.load_state_dict(state["source"])
            self._it = self.source.epoch(self.epoch)
            return
        self._it = self.source.epoch(self.epoch)
        for skipped in range(self.taken):
            try:
                next(self._it)
            except StopIteration:
                raise InvalidArgumentError(
                    f"source {self.source.name!r} yields {skipped} batches in epoch "
                    f"{self.epoch}; the saved position is after {self.taken}"
                ) from None
