"""Turn the `seed` arguments of the data package into a `numpy.random.Generator`."""

from __future__ import annotations

import numpy as np

from gancore._errors import InvalidArgumentError

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike, name: str = "seed") -> np.random.Generator:
    """Return `seed` itself if it is a Generator, else a new one seeded with it.

    `None` draws fresh entropy from the operating system (not reproducible).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    # bool is an int subclass; seed=True is almost certainly a mistake.
    if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise InvalidArgumentError(f"{name} must be >= 0; received {seed}")
        return np.random.default_rng(seed)
    raise InvalidArgumentError(
        f"{name} must be an int, a numpy.random.Generator or None; received {seed!r}"
    )
