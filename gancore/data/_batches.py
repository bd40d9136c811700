"""Shuffled mini-batches over a `Dataset`, with optional random horizontal flips."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import ARRAY_EQ, Dataset, array_repr
from gancore.data._random import SeedLike, as_generator


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
) -> Iterator[Batch]:
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
    return _batches(dataset, int(batch_size), as_generator(seed), epochs, drop_last, hflip)


def _batches(
    dataset: Dataset,
    batch_size: int,
    rng: np.random.Generator,
    epochs: int | None,
    drop_last: bool,
    hflip: bool,
) -> Iterator[Batch]:
    epoch = 0
    while epochs is None or epoch < epochs:
        order = rng.permutation(len(dataset))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            if drop_last and len(index) < batch_size:
                break
            # Fancy indexing copies, so flipping in place never touches the dataset.
            images = dataset.images[index]
            if hflip:
                flip = rng.random(len(index)) < 0.5
                images[flip] = images[flip, :, ::-1]
            labels = None if dataset.labels is None else dataset.labels[index]
            yield Batch(images=images, labels=labels)
        epoch += 1
