"""The numpy reference backend: the oracle of the property tests.

It evaluates every loss and metric without any framework installed. Gradients through a
function (`input_gradient`) use central finite differences in float64: accurate enough to
serve as a reference on the small inputs of the tests, not meant for training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["NumpyOps", "NUMPY_OPS"]

_FD_STEP = 1e-6


class NumpyOps:
    """`ArrayOps` on numpy arrays."""

    name = "numpy"

    def __init__(self) -> None:
        self.loss_overrides: dict[str, Any] = {}

    def is_array(self, x: Any) -> bool:
        return isinstance(x, (np.ndarray, np.generic))

    def asarray(self, x: Any, like: Any) -> np.ndarray:
        return np.asarray(x, dtype=np.asarray(like).dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x)

    def shape(self, x: Any) -> tuple[int, ...]:
        return tuple(np.shape(x))

    def dtype_name(self, x: Any) -> str:
        return np.asarray(x).dtype.name

    def softplus(self, x: np.ndarray) -> np.ndarray:
        # logaddexp(0, x) never overflows, unlike log1p(exp(x)).
        return np.logaddexp(np.zeros((), dtype=x.dtype), x)

    def abs(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def sqrt(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)

    def relu(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, np.zeros((), dtype=x.dtype))

    def sum(self, x: np.ndarray, axis: int | Sequence[int] | None = None) -> np.ndarray:
        return np.sum(x, axis=_axis(axis))

    def mean(self, x: np.ndarray, axis: int | Sequence[int] | None = None) -> np.ndarray:
        return np.mean(x, axis=_axis(axis))

    def reshape(self, x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        return np.reshape(x, tuple(shape))

    def log_softmax(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        return x - np.expand_dims(self.logsumexp(x, axis=axis), axis)

    def logsumexp(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        # Subtracting the max keeps exp() from overflowing.
        top = np.max(x, axis=axis, keepdims=True)
        return np.squeeze(top, axis) + np.log(np.sum(np.exp(x - top), axis=axis))

    def one_hot(self, labels: Any, depth: int, like: Any) -> np.ndarray:
        return np.eye(depth, dtype=np.asarray(like).dtype)[np.asarray(labels)]

    def stop_gradient(self, x: np.ndarray) -> np.ndarray:
        return x

    def input_gradient(
        self, fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        out = fn(x)
        x64 = np.asarray(x, dtype=np.float64)
        grad = np.zeros_like(x64)
        flat, gflat = x64.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + _FD_STEP
            up = np.sum(np.asarray(fn(x64), dtype=np.float64))
            flat[i] = saved - _FD_STEP
            down = np.sum(np.asarray(fn(x64), dtype=np.float64))
            flat[i] = saved
            gflat[i] = (up - down) / (2 * _FD_STEP)
        return out, grad.astype(np.asarray(x).dtype)

    def uniform(self, shape: Sequence[int], like: Any, generator: Any = None) -> np.ndarray:
        rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(
            generator
        )
        return rng.random(tuple(shape)).astype(np.asarray(like).dtype)

    def clip_(self, params: Sequence[np.ndarray], low: float, high: float) -> None:
        for p in params:
            np.clip(p, low, high, out=p)


def _axis(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


NUMPY_OPS = NumpyOps()


class NumpyBackend:
    """The reference backend: numpy arrays, no autodiff, no training."""

    name = "numpy"
    framework = "numpy"
    array_modules = ("numpy",)

    @classmethod
    def describe(cls) -> Any:
        from gancore._backend import BackendInfo

        return BackendInfo(cls.name, cls.framework, np.__version__, "gancore", "builtin", ("cpu",))

    def __init__(self) -> None:
        self.ops = NUMPY_OPS

    def __repr__(self) -> str:
        return f"NumpyBackend(numpy {np.__version__})"
