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
    trainer's stream), so every worker and backend draws alike."""

    def __init__(self, size: int, fraction: float) -> None:
        self.size = size
        self.fraction = fraction
        self.images = np.zeros((0,), np.float32)

    def draw(self, n: int, sample_shape: tuple[int, ...], rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
        """`(replayed, mask)` for `n` fakes: `replayed` (n, *sample_shape) holds the stored
        fakes chosen (zeros elsewhere), `mask` (n, 1, ...) is 1 where one replaces a fake."""
        mask = rng.random(n) < self.fraction
        chosen = rng.integers(0, max(1, len(self.images)), n)
        replayed = np.zeros((n, *sample_shape), np.float32)
        if len(self.images) == 0:
            mask[:] = False
        else:
            replayed[mask] = self.images[chosen[mask]]
        return replayed, mask.astype(np.float32).reshape(n, *[1] * len(sample_shape))

    def add(self, fakes: np.ndarray, rng: np.random.Generator) -> None:
        """The global batch's fresh `fakes` into the pool."""
        fakes = np.asarray(fakes, np.float32)
        room = self.size - len(self.images)
        if room > 0:
            head = fakes[:room]
            self.images = head.copy() if len(self.images) == 0 else np.concatenate(
                [self.images, head])
            fakes = fakes[room:]
        replace = rng.random(len(fakes)) < 0.5
        slots = rng.integers(0, self.size, len(fakes))
        for fake, slot in zip(fakes[replace], slots[replace], strict=True):
            self.images[slot] = fake

    def state_dict(self) -> dict[str, Any]:
        """The stored fakes (one array)."""
        return {"images": self.images.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        images = np.asarray(state["images"], np.float32)
        if len(images) > self.size:
            raise InvalidArgumentError(
                f"the replay pool's state must hold at most {self.size} fakes; received "
                f"{len(images)}"
            )
        self.images = images.copy() if images.ndim > 1 else np.zeros((0,), np.float32)
