"""Validation, reduction and override dispatch shared by every loss."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from gancore._backend import ops_for
from gancore._errors import InvalidArgumentError
from gancore._ops import ArrayOps

REDUCTIONS = ("mean", "sum", "none")

Array = Any

_state = threading.local()


@contextlib.contextmanager
def generic_only() -> Iterator[None]:
    """Within this block every loss runs its generic implementation, never a backend's fused
    override: the generic loss is the specification the tests hold overrides to."""
    previous = getattr(_state, "generic_only", False)
    _state.generic_only = True
    try:
        yield
    finally:
        _state.generic_only = previous


def dispatch(name: str, generic: Callable[..., Array], ops: ArrayOps, **kwargs: Any) -> Array:
    """Run the backend's fused override of loss `name` if it has one, else the generic loss."""
    override = ops.loss_overrides.get(name)
    if override is not None and not getattr(_state, "generic_only", False):
        out = override(ops, **kwargs)
        if out is not NotImplemented:
            return out
    return generic(ops, **kwargs)


def backend_ops(**arrays: Any) -> ArrayOps:
    """The ops of the framework the given arrays belong to (an error for mixed frameworks)."""
    return ops_for(list(arrays.items()))


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        allowed = ", ".join(repr(r) for r in REDUCTIONS)
        raise InvalidArgumentError(f"reduction must be one of {allowed}; received {reduction!r}")
    return reduction


def is_floating(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat", "half", "double"))


def check_scores(ops: ArrayOps, name: str, x: Array) -> tuple[int | None, ...]:
    """Scores are floating arrays with a non-empty batch axis; returns their shape."""
    if isinstance(x, (float, int, list, tuple)):
        raise InvalidArgumentError(
            f"{name} must be an array with a batch axis; received {type(x).__name__}"
        )
    if not ops.is_array(x):
        # Only weights, masks and labels may be numpy beside a framework's tensors.
        raise InvalidArgumentError(
            f"{name} must be a {ops.name} tensor like the other scores; received "
            f"{type(x).__module__}.{type(x).__qualname__}"
        )
    shape = ops.shape(x)
    dtype = ops.dtype_name(x)
    if not is_floating(dtype):
        raise InvalidArgumentError(f"{name} must have a floating dtype; received {dtype}")
    if len(shape) == 0:
        raise InvalidArgumentError(
            f"{name} must have a batch axis (shape (batch, ...)); received a scalar"
        )
    if shape[0] == 0:
        raise InvalidArgumentError(f"{name} must hold at least one sample; received shape {shape}")
    return shape


def check_same_sample_shape(
    name_a: str, shape_a: Sequence[int | None], name_b: str, shape_b: Sequence[int | None]
) -> None:
    """Two score arrays must have the same per-sample shape (batch sizes may differ)."""
    if tuple(shape_a[1:]) != tuple(shape_b[1:]):
        raise InvalidArgumentError(
            f"{name_a} and {name_b} must have the same per-sample shape; received "
            f"{name_a} {tuple(shape_a)} and {name_b} {tuple(shape_b)}"
        )


def check_same_shape(
    name_a: str, shape_a: Sequence[int | None], name_b: str, shape_b: Sequence[int | None],
    why: str = "",
) -> None:
    if tuple(shape_a) != tuple(shape_b):
        raise InvalidArgumentError(
            f"{name_a} and {name_b} must have the same shape{why}; received "
            f"{name_a} {tuple(shape_a)} and {name_b} {tuple(shape_b)}"
        )


def per_sample(
    ops: ArrayOps, name: str, values: Any, like: Array, shape: Sequence[int | None]
) -> Array | None:
    """Per-sample values (shape (batch,)) or full-shape values, as an array that broadcasts
    against scores of `shape`, with the dtype and device of `like`."""
    if values is None:
        return None
    arr = values if not isinstance(values, (list, tuple, float, int)) else np.asarray(values)
    if not ops.is_array(arr):
        arr = np.asarray(arr)
        if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
            raise InvalidArgumentError(f"{name} must be numeric; received dtype {arr.dtype}")
        w_shape: tuple[int | None, ...] = arr.shape
    else:
        w_shape = ops.shape(arr)
    arr = ops.asarray(arr, like=like)
    if tuple(w_shape) == tuple(shape):
        return arr
    if len(w_shape) == 1 and _dims_match(w_shape[0], shape[0]):
        return ops.reshape(arr, (-1,) + (1,) * (len(shape) - 1))
    raise InvalidArgumentError(
        f"{name} must have shape (batch,) = ({shape[0]},) or the scores' shape {tuple(shape)}; "
        f"received {tuple(w_shape)}"
    )


def _dims_match(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def weighted(loss: Array, weights: Array | None) -> Array:
    return loss if weights is None else loss * weights


def reduce(ops: ArrayOps, loss: Array, reduction: str) -> Array:
    """`mean` averages over every element (a patch map counts each patch), `sum` adds them,
    `none` keeps the shape."""
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def combine(ops: ArrayOps, real_term: Array, fake_term: Array, reduction: str,
            real_shape: Sequence[int | None], fake_shape: Sequence[int | None]) -> Array:
    """The critic's two terms reduced separately (batches may differ), or summed
    elementwise for `none`, which needs equal shapes."""
    if reduction == "none":
        check_same_shape("real", real_shape, "fake", fake_shape, " for reduction='none'")
        return real_term + fake_term
    return reduce(ops, real_term, reduction) + reduce(ops, fake_term, reduction)


def numpy_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """A numpy Generator from a seed or a Generator; gancore never draws unseeded."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InvalidArgumentError(
        f"{name} must be an int seed or a numpy.random.Generator; received {rng!r}"
    )


def check_fraction(name: str, value: float, *, upper_open: bool = False) -> float:
    value = float(value)
    ok = 0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0
    if not ok:
        bound = "[0, 1)" if upper_open else "[0, 1]"
        raise InvalidArgumentError(f"{name} must be in {bound}; received {value}")
    return value


def check_positive(name: str, value: float, *, allow_zero: bool = True) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(f"{name} must be {bound}; received {value}")
    return value
