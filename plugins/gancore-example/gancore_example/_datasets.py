"""`swiss_roll`: the classic swiss roll as 2-D points, generated in numpy (no download)."""

from __future__ import annotations

import math

import numpy as np

from gancore import InvalidArgumentError
from gancore.data import Dataset

__all__ = ["swiss_roll"]

#: The roll's largest radius, 1.5 pi * 3: dividing by it scales the points into [-1, 1].
_T_MAX = 4.5 * math.pi


def swiss_roll(n: int = 10_000, noise: float = 0.05, seed: int = 0) -> Dataset:
    """`n` points of a 2-D swiss roll (a spiral), scaled to about [-1, 1], as a `Dataset`.

    With ``t = 1.5 pi (1 + 2 u)``, ``u ~ U(0, 1)``, a point is ``(t cos t, t sin t) / (4.5 pi)``
    plus Gaussian noise of standard deviation `noise` on each coordinate: scikit-learn's
    ``make_swiss_roll`` seen along its height axis. `images` holds the points, (n, 2)
    float32; there are no labels. The same `seed` gives the same points.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidArgumentError(f"swiss_roll n must be an int >= 1; received {n!r}")
    if not isinstance(noise, (int, float)) or not (0.0 <= noise < math.inf):
        raise InvalidArgumentError(
            f"swiss_roll noise must be a finite number >= 0; received {noise!r}"
        )
    rng = np.random.default_rng(seed)
    t = 1.5 * math.pi * (1.0 + 2.0 * rng.random(n))
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / _T_MAX
    points += noise * rng.standard_normal((n, 2))
    return Dataset(name="swiss_roll", images=points.astype(np.float32))
