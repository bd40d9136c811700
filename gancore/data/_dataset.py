"""`Dataset`: images (or 2D points) with optional integer labels, as one frozen value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._random import SeedLike, as_generator

# numpy arrays have no single truth value, so attrs' default field equality cannot compare
# them; datasets are equal when their arrays hold the same values.
ARRAY_EQ = attrs.cmp_using(eq=np.array_equal)


def array_repr(array: np.ndarray | None) -> str:
    """Describe an array by shape and dtype: printing 60,000 images helps nobody."""
    if array is None:
        return "None"
    return f"array(shape={array.shape}, dtype={array.dtype})"


def _readonly(array: Any) -> np.ndarray:
    # A frozen dataset must not change under the loops that share it. A read-only *view*
    # protects it without touching the flags of the caller's own array.
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


def _as_labels(labels: Any) -> np.ndarray | None:
    if labels is None:
        return None
    array = np.asarray(labels)
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.int64, copy=False)
    return _readonly(array)


def _as_names(names: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(names)


def _check_name(_: Any, __: attrs.Attribute, name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"name must be a non-empty str; received {name!r}")


def _check_images(_: Any, __: attrs.Attribute, images: np.ndarray) -> None:
    if images.ndim not in (2, 4) or len(images) == 0:
        raise InvalidArgumentError(
            "images must have shape (N, H, W, C) or, for points, (N, D), with N > 0; "
            f"received shape {images.shape}"
        )
    if images.dtype != np.float32:
        raise InvalidArgumentError(f"images must be float32; received {images.dtype}")
    # min and max propagate nan and inf, so one pass each also proves the values finite.
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InvalidArgumentError("images must be finite; received nan or inf values")
    if images.ndim == 4 and (low < -1.0 or high > 1.0):
        raise InvalidArgumentError(
            f"images must lie in [-1, 1]; received values in [{low:g}, {high:g}]"
        )


def _check_num_classes(_: Any, __: attrs.Attribute, num_classes: Any) -> None:
    if num_classes is None:
        return
    if not isinstance(num_classes, int | np.integer) or isinstance(num_classes, bool):
        raise InvalidArgumentError(f"num_classes must be an int or None; received {num_classes!r}")
    if num_classes <= 0:
        raise InvalidArgumentError(f"num_classes must be > 0; received {num_classes}")


def _default_num_classes(dataset: Any) -> int | None:
    labels = dataset.labels
    if labels is None or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        return None  # the validators below report what is wrong with such labels
    return int(labels.max()) + 1


@attrs.frozen
class Dataset:
    """A named set of samples, held in memory as numpy arrays.

    `images` is float32: NHWC images `(N, H, W, C)` with values in `[-1, 1]`, or `(N, D)`
    points (the 2D Gaussian mixtures). `labels` is `None` or one int64 class index per
    sample in `[0, num_classes)`; `num_classes` defaults to `labels.max() + 1`.
    `class_names` (optional) names each class. The arrays are stored as read-only views.
    """

    name: str = attrs.field(validator=_check_name)
    images: np.ndarray = attrs.field(
        converter=_readonly, validator=_check_images, eq=ARRAY_EQ, hash=False, repr=array_repr
    )
    labels: np.ndarray | None = attrs.field(
        default=None, converter=_as_labels, eq=ARRAY_EQ, hash=False, repr=array_repr
    )
    num_classes: int | None = attrs.field(
        default=attrs.Factory(_default_num_classes, takes_self=True),
        validator=_check_num_classes,
    )
    class_names: tuple[str, ...] | None = attrs.field(default=None, converter=_as_names)

    def __attrs_post_init__(self) -> None:
        # Checks that relate several fields; the single-field validators have run already.
        labels, num_classes, class_names = self.labels, self.num_classes, self.class_names
        if labels is not None:
            if labels.dtype != np.int64 or labels.shape != (len(self.images),):
                raise InvalidArgumentError(
                    f"labels must be integers of shape ({len(self.images)},), one per image; "
                    f"received {labels.dtype} of shape {labels.shape}"
                )
            if num_classes is None:
                raise InvalidArgumentError("num_classes must be given with labels; received None")
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= num_classes:
                raise InvalidArgumentError(
                    f"labels must lie in [0, {num_classes}) for num_classes={num_classes}; "
                    f"received values in [{low}, {high}]"
                )
        elif num_classes is not None:
            raise InvalidArgumentError(
                f"num_classes must be None without labels; received {num_classes}"
            )
        if class_names is not None and (
            num_classes is None
            or len(class_names) != num_classes
            or not all(isinstance(n, str) for n in class_names)
        ):
            raise InvalidArgumentError(
                f"class_names must be num_classes ({num_classes}) strings; received {class_names!r}"
            )

    def __len__(self) -> int:
        """The number of samples."""
        return len(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample: `(H, W, C)` for images, `(D,)` for points."""
        return tuple(self.images.shape[1:])

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The samples at `indices` (integer positions, or a boolean mask of length N)."""
        index = np.asarray(indices)
        size = len(self)
        if index.dtype == np.bool_:
            if index.shape != (size,):
                raise InvalidArgumentError(
                    f"indices as a boolean mask must have shape ({size},); "
                    f"received shape {index.shape}"
                )
        elif index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise InvalidArgumentError(
                "indices must be a 1-D sequence of ints or a boolean mask; "
                f"received {index.dtype} of shape {index.shape}"
            )
        elif index.size and (index.min() < -size or index.max() >= size):
            raise InvalidArgumentError(
                f"indices must lie in [{-size}, {size}) for a dataset of {size} samples; "
                f"received values in [{index.min()}, {index.max()}]"
            )
        labels = None if self.labels is None else self.labels[index]
        return attrs.evolve(self, images=self.images[index], labels=labels)

    def split(self, fraction: float, seed: SeedLike) -> tuple[Dataset, Dataset]:
        """Split into two disjoint datasets, the first holding `fraction` of the samples.

        The split is random but fixed by `seed`. A labelled dataset is split per class
        (stratified), so both parts keep the class balance; the first part then has exactly
        `round(fraction * N)` samples, spread over the classes by largest remainder. Both
        parts keep the original sample order.
        """
        if isinstance(fraction, bool) or not isinstance(fraction, float | int):
            raise InvalidArgumentError(f"fraction must be a float; received {fraction!r}")
        if not 0 < fraction < 1:
            raise InvalidArgumentError(f"fraction must be in (0, 1); received {fraction}")
        size = len(self)
        first_size = round(fraction * size)
        if not 0 < first_size < size:
            raise InvalidArgumentError(
                f"fraction must leave both parts non-empty for {size} samples; received {fraction}"
            )
        rng = as_generator(seed)
        if self.labels is None:
            groups = [np.arange(size)]
        else:
            groups = [np.flatnonzero(self.labels == c) for c in range(self.num_classes or 0)]
        quotas = fraction * np.array([len(g) for g in groups], dtype=np.float64)
        takes = np.floor(quotas).astype(np.int64)
        # Largest remainder: the samples that the per-class floors leave over go to the
        # classes that lost the largest fraction of a sample (ties: lower class first).
        leftover = first_size - int(takes.sum())
        takes[np.argsort(-(quotas - takes), kind="stable")[:leftover]] += 1
        in_first = np.zeros(size, dtype=bool)
        for group, take in zip(groups, takes, strict=True):
            in_first[rng.permutation(group)[:take]] = True
        return self.subset(in_first), self.subset(~in_first)
