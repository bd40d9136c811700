"""Shuffled mini-batches over a `Dataset` or a `StreamingDataset`, with optional random
horizontal flips, and for one worker of several its rows of each global batch."""

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
from gancore.data._streaming import StreamingDataset


@attrs.frozen
class Batch:
    """One mini-batch: `images` (B, ...) float32 and `labels` (B,) int64 or `None`."""

    images: np.ndarray = attrs.field(eq=ARRAY_EQ, hash=False, repr=array_repr)
    labels: np.ndarray | None = attrs.field(eq=ARRAY_EQ, hash=False, repr=array_repr)

    def __len__(self) -> int:
        """The number of samples in the batch."""
        return len(self.images)


def copy_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an iterator's state whose arrays are copies too."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in state.items()}


def check_count(value: object, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value <= 0:
        allowed = "an int > 0 or None" if allow_none else "an int > 0"
        raise InvalidArgumentError(f"{name} must be {allowed}; received {value!r}")


#: A worker's place among its peers: `(rank, world)`.
Shard = tuple[int, int]


def check_shard(shard: object, batch_size: int) -> Shard:
    """`shard` as `(rank, world)` with `0 <= rank < world` and `world` dividing `batch_size`."""
    if not (isinstance(shard, tuple) and len(shard) == 2
            and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in shard)
            and 0 <= shard[0] < shard[1]):
        raise InvalidArgumentError(
            f"shard must be a (rank, world) pair of ints with 0 <= rank < world; received "
            f"{shard!r}"
        )
    rank, world = int(shard[0]), int(shard[1])
    if batch_size % world:
        raise InvalidArgumentError(
            f"batch_size must be divisible by the number of workers ({world}); received "
            f"{batch_size}"
        )
    return rank, world


def iterate_batches(
    dataset: Dataset | StreamingDataset,
    batch_size: int,
    *,
    seed: SeedLike = None,
    epochs: int | None = None,
    drop_last: bool = True,
    hflip: bool = False,
    shard: Shard = (0, 1),
) -> BatchIterator:
    """Yield `Batch`es of `batch_size` samples, reshuffled at the start of every epoch.

    `seed` (an int, a `numpy.random.Generator`, or `None` for fresh entropy) fixes the
    shuffles and flips. `epochs=None` iterates forever. With `drop_last` the last, partial
    batch of an epoch is dropped so that every batch has the same shape (compiled steps
    then trace once). `hflip` mirrors each image left-right with probability 1/2 (NHWC
    axis 2); it needs image data, not points. The arguments are checked at the call, not
    at the first `next()`.

    `shard=(rank, world)`: every worker draws the same global batch of `batch_size`
    (the same permutation and flips) and yields its rows `[rank * b, (rank + 1) * b)`,
    `b = batch_size // world` (`world` must divide `batch_size`, and `drop_last` hold);
    only those rows are read from a `StreamingDataset`. The workers' batches, stacked in
    rank order, are the batch of one process.
    """
    if not isinstance(dataset, Dataset | StreamingDataset):
        raise InvalidArgumentError(
            f"dataset must be a Dataset; received {type(dataset).__name__} (or a "
            f"StreamingDataset; batches_for also takes iterables)"
        )
    check_count(batch_size, "batch_size")
    check_count(epochs, "epochs", allow_none=True)
    if batch_size > len(dataset):
        raise InvalidArgumentError(
            f"batch_size must be <= the dataset size ({len(dataset)} samples in "
            f"{dataset.name!r}); received {batch_size}"
        )
    if hflip and len(dataset.shape) != 3:
        raise InvalidArgumentError(
            f"hflip needs NHWC images; received {dataset.name!r} samples of shape {dataset.shape}"
        )
    shard = check_shard(shard, int(batch_size))
    if shard[1] > 1 and not drop_last:
        raise InvalidArgumentError(
            f"drop_last must be True with {shard[1]} workers (a partial batch cannot be split "
            f"evenly); received False"
        )
    return BatchIterator(dataset, int(batch_size), as_generator(seed), epochs, drop_last, hflip,
                         shard)


class BatchIterator(Iterator[Batch]):
    """The iterator `iterate_batches` returns: its position (epoch, permutation, index and
    random stream) is state that `state_dict` captures and `load_state_dict` restores, so a
    resumed run draws exactly the batches the uninterrupted run would have drawn."""

    def __init__(self, dataset: Dataset | StreamingDataset, batch_size: int,
                 rng: np.random.Generator, epochs: int | None, drop_last: bool, hflip: bool,
                 shard: Shard = (0, 1)) -> None:
        self.dataset = dataset
        self.shard = shard
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
        # The global batch's flips are drawn whole, so that every worker draws the same.
        flip = self.rng.random(len(index)) < 0.5 if self.hflip else None
        rank, world = self.shard
        if world > 1:
            local = slice(rank * len(index) // world, (rank + 1) * len(index) // world)
            index, flip = index[local], None if flip is None else flip[local]
        # Fancy indexing copies (a read, a fresh array), so flipping in place never touches
        # the dataset.
        if isinstance(self.dataset, Dataset):
            images = self.dataset.images[index]
        else:
            images = self.dataset.read(index)
        if flip is not None:
            images[flip] = images[flip, :, ::-1]
        labels = None if self.dataset.labels is None else self.dataset.labels[index]
        return Batch(images=images, labels=labels)

    def snapshot(self) -> dict[str, Any]:
        """`state_dict` without copying the permutation (an epoch's is never changed in
        place, only replaced): what a prefetching reader records after each batch."""
        return {"epoch": self.epoch, "position": self.position,
                "order": np.empty(0, np.int64) if self.order is None else self.order,
                "started": self.order is not None,
                "rng": generator_state(self.rng), "size": len(self.dataset)}

    def state_dict(self) -> dict[str, Any]:
        """The position: epoch, the epoch's permutation (an array) and index, and the random
        stream that draws the next permutations and flips. It is the same on every worker:
        a checkpoint of N workers resumes on any number."""
        return copy_state(self.snapshot())

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
