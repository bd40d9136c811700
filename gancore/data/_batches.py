"""Shuffled mini-batches over a `Dataset`, with optional random horizontal flips."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import ARRAY_EQ, Dataset, array_repr
from gancore.data._random import (
    SeedLike,
    as_generator,
    generator_state,
    set_generator_state,
)


@attrs.frozen
class Batch:
    """One mini-batch: `images` (B, ...) float32 and `labels` (B,) int64 or `None`."""

    images: np.ndarray = attrs.field(eq=ARRAY_EQ, hash=False, repr=array_repr)
    labels: np.ndarray | None = attrs.field(eq=ARRAY_EQ, hash=False, repr=array_repr)

    def __len__(self) -> int:
        """The number of samples in the batch."""
        return len(self.images)


def _check_count(value: object, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value <= 0:
        allowed = "an int > 0 or None" if allow_none else "an int > 0"
        raise InvalidArgumentError(f"{name} must be {allowed}; received {value!r}")


def iterate_batches(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: SeedLike = None,
    epochs: int | None = None,
    drop_last: bool = True,
    hflip: bool = False,
) -> BatchIterator:
    """Yield `Batch`es of `batch_size` samples, reshuffled at the start of every epoch.

    `seed` (an int, a `numpy.random.Generator`, or `None` for fresh entropy) fixes the
    shuffles and flips. `epochs=None` iterates forever. With `drop_last` the last, partial
    batch of an epoch is dropped so that every batch has the same shape (compiled steps
    then trace once). `hflip` mirrors each image left-right with probability 1/2 (NHWC
    axis 2); it needs image data, not points. The arguments are checked at the call, not
    at the first `next()`.
    """
    if not isinstance(dataset, Dataset):
        raise InvalidArgumentError(f"dataset must be a Dataset; received {type(dataset).__name__}")
    _check_count(batch_size, "batch_size")
    _check_count(epochs, "epochs", allow_none=True)
    if batch_size > len(dataset):
        raise InvalidArgumentError(
            f"batch_size must be <= the dataset size ({len(dataset)} samples in "
            f"{dataset.name!r}); received {batch_size}"
        )
    if hflip and dataset.images.ndim != 4:
        raise InvalidArgumentError(
            f"hflip needs NHWC images; received {dataset.name!r} samples of shape {dataset.shape}"
        )
    return BatchIterator(dataset, int(batch_size), as_generator(seed), epochs, drop_last, hflip)


class BatchIterator(Iterator[Batch]):
    """The iterator `iterate_batches` returns: its position (epoch, permutation, index and
    random stream) is state that `state_dict` captures and `load_state_dict` restores, so a
    resumed run draws exactly the batches the uninterrupted run would have drawn."""

    def __init__(self, dataset: Dataset, batch_size: int, rng: np.random.Generator,
                 epochs: int | None, drop_last: bool, hflip: bool) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.rng = rng
        self.epochs = epochs
        self.drop_last = drop_last
        self.hflip = hflip
        self.epoch = 0
        self.order: np.ndarray | None = None  # this epoch's permutation, once drawn
        self.position = 0

    def __next__(self) -> Batch:
        while True:
            if self.order is None:
                if self.epochs is not None and self.epoch >= self.epochs:
                    raise StopIteration
                self.order = self.rng.permutation(len(self.dataset))
                self.position = 0
            index = self.order[self.position : self.position + self.batch_size]
            if len(index) and not (self.drop_last and len(index) < self.batch_size):
                break
            self.order = None
            self.epoch += 1
        self.position += len(index)
        # Fancy indexing copies, so flipping in place never touches the dataset.
        images = self.dataset.images[index]
        if self.hflip:
            flip = self.rng.random(len(index)) < 0.5
            images[flip] = images[flip, :, ::-1]
        labels = None if self.dataset.labels is None else self.dataset.labels[index]
        return Batch(images=images, labels=labels)

    def state_dict(self) -> dict[str, Any]:
        """The position: epoch, the epoch's permutation (an array) and index, and the random
        stream that draws the next permutations and flips."""
        return {"epoch": self.epoch, "position": self.position,
                "order": np.empty(0, np.int64) if self.order is None else self.order.copy(),
                "started": self.order is not None,
                "rng": generator_state(self.rng), "size": len(self.dataset)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a position `state_dict` returned (for a dataset of the same size)."""
        if state["size"] != len(self.dataset):
            raise InvalidArgumentError(
                f"the batch position belongs to a dataset of {state['size']} samples; received "
                f"{self.dataset.name!r} with {len(self.dataset)}"
            )
        size = len(self.dataset)
        epoch, position, order = state["epoch"], state["position"], state["order"]
        for name, value, high in (("epoch", epoch, 2**63 - 1), ("position", position, size)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
                raise InvalidArgumentError(
                    f"the batch position's {name} must be an int in [0, {high}]; received "
                    f"{value!r}"
                )
        if state["started"] and not (
            isinstance(order, np.ndarray) and order.shape == (size,)
            and order.dtype.kind in "iu" and (size == 0 or 0 <= order.min() <= order.max() < size)
        ):
            got = (f"{order.dtype} of shape {order.shape}" if isinstance(order, np.ndarray)
                   else type(order).__name__)
            raise InvalidArgumentError(
                f"the batch position's order must be {size} indices in [0, {size}); "
                f"received {got}"
            )
        self.epoch, self.position = epoch, position
        self.order = np.asarray(order, np.int64).copy() if state["started"] else None
        set_generator_state(self.rng, state["rng"])
