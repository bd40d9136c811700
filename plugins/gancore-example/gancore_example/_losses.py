"""`least_squares_abc`: the least-squares GAN loss with Mao et al.'s a-b-c coding
(a = -1, b = 1, c = 0), written once against gancore's array ops.

The same code runs on numpy arrays, torch tensors and TensorFlow tensors:
`gancore.ops_for` finds the backend from the arrays' types (without importing any
framework), and the Python operators work on every backend's arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gancore import InvalidArgumentError, ops_for

__all__ = ["LEAST_SQUARES_ABC", "LeastSquaresABC"]

Array = Any


@dataclass(frozen=True)
class LeastSquaresABC:
    """Least-squares GAN loss with targets a (fake), b (real) for the critic and c for the
    generator, on raw critic scores of any shape (one per sample or a patch map):

    - critic: ``1/2 mean (real - b)^2 + 1/2 mean (fake - a)^2``
    - generator: ``1/2 mean (fake - c)^2``

    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017, eq. (2). With
    b - c = 1 and b - a = 2 — the defaults a = -1, b = 1, c = 0 — the generator minimises
    the Pearson chi-squared divergence between p_data + p_g and 2 p_g (section 3.2.2,
    eq. (9)); gancore's built-in ``least_squares`` loss is the paper's other choice,
    a = 0, b = c = 1 (eq. (10)). Each mean runs over every element, so a patch map gives the
    same value as its flattened form; the result has the scores' framework and dtype.
    """

    a: float = -1.0
    b: float = 1.0
    c: float = 0.0
    name: str = "least_squares_abc"

    def __post_init__(self) -> None:
        for target in ("a", "b", "c"):
            value = getattr(self, target)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidArgumentError(
                    f"LeastSquaresABC {target} must be a finite number; received {value!r}"
                )

    def critic_loss(self, real: Array, fake: Array) -> Array:
        """The critic's loss from its scores on a real and a generated batch (their batch
        sizes may differ)."""
        ops = ops_for([("real", real), ("fake", fake)])
        return 0.5 * (ops.mean((real - self.b) ** 2) + ops.mean((fake - self.a) ** 2))

    def generator_loss(self, fake: Array) -> Array:
        """The generator's loss from the critic's scores on generated samples."""
        ops = ops_for([("fake", fake)])
        return 0.5 * ops.mean((fake - self.c) ** 2)


#: The instance the `gancore.losses` entry point names.
LEAST_SQUARES_ABC = LeastSquaresABC()
