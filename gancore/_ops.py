"""The small array-ops interface that every backend provides.

Losses and regularizers are written once against `ArrayOps`; Python operators (+, -, *, /)
work on the arrays of every backend, so only what differs between frameworks lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ArrayOps", "LossOverride"]

Array = Any

#: A fused native implementation of a loss: called with the backend's ops and the loss's
#: validated keyword arguments; returns the loss, or NotImplemented for options it lacks.
LossOverride = Callable[..., Any]


@runtime_checkable
class ArrayOps(Protocol):
    """What a backend must provide for gancore's losses to run on its arrays."""

    name: str
    #: Fused native losses by public loss name; the generic loss is their specification.
    loss_overrides: Mapping[str, LossOverride]

    def is_array(self, x: Any) -> bool:
        """Whether `x` is an array of this backend (checked without importing anything)."""

    def asarray(self, x: Any, like: Array) -> Array:
        """`x` (numpy or scalar) as an array with the dtype and device of `like`."""

    def to_numpy(self, x: Array) -> np.ndarray:
        """A numpy copy of `x` (detached from any graph)."""

    def shape(self, x: Array) -> tuple[int, ...]:
        """The static shape of `x`."""

    def dtype_name(self, x: Array) -> str:
        """The numpy-style dtype name of `x`, e.g. 'float32'."""

    def softplus(self, x: Array) -> Array:
        """log(1 + exp(x)), stable for large |x|."""

    def abs(self, x: Array) -> Array:
        """Elementwise |x|."""

    def sqrt(self, x: Array) -> Array:
        """Elementwise square root."""

    def relu(self, x: Array) -> Array:
        """Elementwise max(x, 0)."""

    def sum(self, x: Array, axis: int | Sequence[int] | None = None) -> Array:
        """Sum over `axis` (all axes when None)."""

    def mean(self, x: Array, axis: int | Sequence[int] | None = None) -> Array:
        """Mean over `axis` (all axes when None)."""

    def reshape(self, x: Array, shape: Sequence[int]) -> Array:
        """`x` with a new shape."""

    def log_softmax(self, x: Array, axis: int = -1) -> Array:
        """Stable log-softmax along `axis`."""

    def logsumexp(self, x: Array, axis: int = -1) -> Array:
        """Stable log(sum(exp(x))) along `axis`."""

    def one_hot(self, labels: Array, depth: int, like: Array) -> Array:
        """One-hot encoding of integer `labels` with the dtype and device of `like`."""

    def stop_gradient(self, x: Array) -> Array:
        """`x` cut from the autodiff graph."""

    def input_gradient(self, fn: Callable[[Array], Array], x: Array) -> tuple[Array, Array]:
        """`(fn(x), d sum(fn(x)) / dx)`, differentiable again (for gradient penalties)."""

    def uniform(self, shape: Sequence[int], like: Array, generator: Any = None) -> Array:
        """U(0, 1) samples drawn natively, with the dtype and device of `like`."""

    def clip_(self, params: Sequence[Array], low: float, high: float) -> None:
        """Clip parameters in place (weight clipping of the original WGAN)."""
