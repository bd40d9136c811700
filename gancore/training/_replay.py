"""Experience replay: a pool of past fakes mixed into the critic's batches (Shrivastava et al.
2017; CycleGAN's image pool generalised to any trainer and fraction)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError

__all__ = ["ReplayPool"]


class ReplayPool:
    """Up to `size` past fakes. `draw` chooses, for a global batch, which fakes a stored one
    replaces (each with probability `fraction`, once the pool holds any); `add` puts the
    batch's fresh fakes in: appended until the pool is full, then each replaces a random
    stored fake half of the time. All randomness comes from the `rng` passed in (the
    trainer's stream), so every worker and backend draws alike.

    With `num_classes` (a conditional GAN) the pool keeps beside each fake the label it was
    made for, and `draw_with_labels` returns the stored labels of the fakes it replays: a
    past fake is judged with its own label, never with the batch's."""

    def __init__(self, size: int, fraction: float, num_classes: int | None = None) -> None:
        self.size = size
        self.fraction = fraction
        self.num_classes = num_classes
        self.images = np.zeros((0,), np.float32)
        self.labels = None if num_classes is None else np.zeros((0,), np.int64)

    def draw(self, n: int, sample_shape: tuple[int, ...], rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
        """`(replayed, mask)` for `n` fakes: `replayed` (n, *sample_shape) holds the stored
        fakes chosen (zeros elsewhere), `mask` (n, 1, ...) is 1 where one replaces a fake."""
        replayed, mask, _ = self.draw_with_labels(n, sample_shape, rng)
        return replayed, mask

    def draw_with_labels(self, n: int, sample_shape: tuple[int, ...], rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """`draw`'s `(replayed, mask)` and the stored labels of the chosen fakes, (n,) int64
        (0 where the mask is 0); None for a pool without labels. The same draws as `draw`."""
        mask = rng.random(n) < self.fraction
        chosen = rng.integers(0, max(1, len(self.images)), n)
        replayed = np.zeros((n, *sample_shape), np.float32)
        if len(self.images) == 0:
            mask[:] = False
        else:
            replayed[mask] = self.images[chosen[mask]]
        labels = None
        if self.labels is not None:
            labels = np.zeros(n, np.int64)
            labels[mask] = self.labels[chosen[mask]]
        return replayed, mask.astype(np.float32).reshape(n, *[1] * len(sample_shape)), labels

    def add(self, fakes: np.ndarray, rng: np.random.Generator,
            labels: np.ndarray | None = None) -> None:
        """The global batch's fresh `fakes` into the pool, with the `labels` they were made
        for when the pool keeps labels (and only then)."""
        fakes = np.asarray(fakes, np.float32)
        if (labels is None) != (self.labels is None):
            wanted = "the fakes' labels" if self.labels is not None else "None"
            raise InvalidArgumentError(
                f"labels must be {wanted} for a replay pool "
                f"{'with' if self.labels is not None else 'without'} labels; received "
                f"{'None' if labels is None else type(labels).__name__}"
            )
        if labels is not None:
            labels = np.asarray(labels).astype(np.int64)
            if labels.shape != (len(fakes),):
                raise InvalidArgumentError(
                    f"labels must have shape ({len(fakes)},), one per fake; received "
                    f"{labels.shape}"
                )
        room = self.size - len(self.images)
        if room > 0:
            head = fakes[:room]
            self.images = head.copy() if len(self.images) == 0 else np.concatenate(
                [self.images, head])
            fakes = fakes[room:]
            if self.labels is not None and labels is not None:
                self.labels = np.concatenate([self.labels, labels[:room]])
                labels = labels[room:]
        replace = rng.random(len(fakes)) < 0.5
        slots = rng.integers(0, self.size, len(fakes))
        for i, slot in zip(np.flatnonzero(replace), slots[replace], strict=True):
            self.images[slot] = fakes[i]
            if self.labels is not None and labels is not None:
                self.labels[slot] = labels[i]

    def state_dict(self) -> dict[str, Any]:
        """The stored fakes (one array) and, in a pool with labels, their labels."""
        state: dict[str, np.ndarray] = {"images": self.images.copy()}
        if self.labels is not None:
            state["labels"] = self.labels.copy()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        images = np.asarray(state["images"], np.float32)
        if len(images) > self.size:
            raise InvalidArgumentError(
                f"the replay pool's state must hold at most {self.size} fakes; received "
                f"{len(images)}"
            )
        images = images.copy() if images.ndim > 1 else np.zeros((0,), np.float32)
        if self.num_classes is not None:
            self.labels = self._stored_labels(state.get("labels"), len(images))
        self.images = images

    def _stored_labels(self, labels: Any, n: int) -> np.ndarray:
        """A state's labels, checked: one class id in [0, num_classes) per stored fake."""
        wanted = (f"the replay pool's state must hold a label in [0, {self.num_classes}) for "
                  f"each of its {n} fakes (integers of shape ({n},)); received")
        if labels is None:
            if n:
                raise InvalidArgumentError(f"{wanted} none")
            return np.zeros((0,), np.int64)
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" or labels.shape != (n,):
            raise InvalidArgumentError(f"{wanted} {labels.dtype} of shape {labels.shape}")
        if n and not 0 <= labels.min() <= labels.max() < (self.num_classes or 0):
            raise InvalidArgumentError(f"{wanted} labels from {labels.min()} to {labels.max()}")
        return labels.astype(np.int64)
