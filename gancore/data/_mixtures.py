"""The 2D Gaussian mixtures that PacGAN (Lin et al. 2018) uses to measure mode collapse."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import ARRAY_EQ, Dataset, array_repr
from gancore.data._random import SeedLike, as_generator


def _as_means(means: Any) -> np.ndarray:
    array = np.array(means, dtype=np.float64)  # a private copy: the mixture is frozen
    array.flags.writeable = False
    return array


def _check_means(_: Any, __: attrs.Attribute, means: np.ndarray) -> None:
    if means.ndim != 2 or means.shape[0] == 0 or means.shape[1] != 2:
        raise InvalidArgumentError(
            f"means must have shape (K, 2) with K > 0; received shape {means.shape}"
        )
    if not np.isfinite(means).all():
        raise InvalidArgumentError("means must be finite; received nan or inf values")


def _check_std(_: Any, __: attrs.Attribute, std: float) -> None:
    if not (np.isfinite(std) and std > 0):
        raise InvalidArgumentError(f"std must be a finite float > 0; received {std}")


@attrs.frozen
class GaussianMixture2D:
    """An equal-weight mixture of K isotropic 2D Gaussians with means `means` (K, 2)
    and a shared standard deviation `std`.

    `ring()` and `grid()` build the two mixtures of PacGAN (Lin et al. 2018).
    """

    name: str
    means: np.ndarray = attrs.field(
        converter=_as_means, validator=_check_means, eq=ARRAY_EQ, hash=False, repr=array_repr
    )
    std: float = attrs.field(converter=float, validator=_check_std)

    @property
    def num_components(self) -> int:
        """K, the number of Gaussians."""
        return len(self.means)

    @classmethod
    def ring(
        cls, num_components: int = 8, radius: float = 1.0, std: float = 0.01
    ) -> GaussianMixture2D:
        """Gaussians evenly spaced on a circle: mean i is `radius * (cos 2πi/K, sin 2πi/K)`.

        The defaults are PacGAN's ring: 8 modes, radius 1, std 0.01.
        """
        angles = 2 * np.pi * np.arange(num_components) / num_components
        means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return cls(name="ring", means=means, std=std)

    @classmethod
    def grid(cls, size: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
        """A `size` x `size` grid of Gaussians, centred on the origin, `spacing` apart.

        The defaults are PacGAN's grid: 25 modes at (i, j), i, j in {-4, -2, 0, 2, 4},
        std 0.05; mean `size * a + b` is at (coordinate a, coordinate b).
        """
        coordinates = spacing * (np.arange(size) - (size - 1) / 2)
        first, second = np.meshgrid(coordinates, coordinates, indexing="ij")
        means = np.stack([first.ravel(), second.ravel()], axis=1)
        return cls(name="grid", means=means, std=std)

    def sample_with_components(
        self, n: int, seed: SeedLike = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`n` points (n, 2) float32 and the index (n,) int64 of the Gaussian of each."""
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n <= 0:
            raise InvalidArgumentError(f"n must be an int > 0; received {n!r}")
        rng = as_generator(seed)
        components = rng.integers(self.num_components, size=n)
        points = self.means[components] + self.std * rng.standard_normal((n, 2))
        return points.astype(np.float32), components.astype(np.int64)

    def sample(self, n: int, seed: SeedLike = None) -> np.ndarray:
        """`n` points (n, 2) float32; the same `seed` gives the same points as
        `sample_with_components`."""
        return self.sample_with_components(n, seed)[0]


_MIXTURES = {"ring": GaussianMixture2D.ring, "grid": GaussianMixture2D.grid}


def load_mixture(name: str = "ring", n: int = 100_000, seed: SeedLike = 0) -> Dataset:
    """`n` points of PacGAN's `"ring"` or `"grid"` mixture as a `Dataset`.

    `images` holds the points (n, 2) float32; `labels` the component of each point, with
    `num_classes` the number of components (8 or 25).
    """
    if name not in _MIXTURES:
        raise InvalidArgumentError(
            f"name must be one of {', '.join(map(repr, _MIXTURES))}; received {name!r}"
        )
    mixture = _MIXTURES[name]()
    points, components = mixture.sample_with_components(n, seed)
    return Dataset(name=name, images=points, labels=components, num_classes=mixture.num_components)
