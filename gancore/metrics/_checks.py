"""Input validation shared by the metrics: every failure names the argument, what is
allowed and what was received."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError

__all__ = ["as_feature_array", "as_label_array", "positive_int", "positive_number"]


def as_feature_array(name: str, value: Any, *, ndim: int, layout: str) -> np.ndarray:
    """`value` as a non-empty, finite float64 array of `ndim` dimensions.

    `layout` describes the expected axes for the message, e.g. "(n_samples, n_features)".
    """
    array = np.asarray(value)
    # Casting complex or object input to float would drop data silently.
    if array.dtype.kind not in "iuf":
        raise InvalidArgumentError(
            f"{name} must be a real numeric array; received dtype {array.dtype}"
        )
    if array.ndim != ndim:
        raise InvalidArgumentError(
            f"{name} must be a {ndim}-D array {layout}; received shape {array.shape}"
        )
    if array.size == 0:
        raise InvalidArgumentError(f"{name} must not be empty; received shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    non_finite = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if non_finite:
        raise InvalidArgumentError(
            f"{name} must be finite (no nan or inf); received {non_finite} non-finite values"
        )
    return array


def as_label_array(name: str, value: Any) -> np.ndarray:
    """`value` as a non-empty 1-D array of non-negative integer class ids."""
    array = np.asarray(value)
    if array.ndim != 1 or array.size == 0:
        raise InvalidArgumentError(
            f"{name} must be a non-empty 1-D array of class ids (n_samples,); "
            f"received shape {array.shape}"
        )
    if array.dtype.kind not in "iu":
        raise InvalidArgumentError(
            f"{name} must hold integer class ids; received dtype {array.dtype}"
        )
    if array.min() < 0:
        raise InvalidArgumentError(f"{name} must hold class ids >= 0; received {int(array.min())}")
    return array.astype(np.int64, copy=False)


def positive_int(name: str, value: Any) -> int:
    """`value` as an int > 0 (bools are refused: `True` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{name} must be an integer > 0; received {value!r}")
    if value <= 0:
        raise InvalidArgumentError(f"{name} must be > 0; received {value}")
    return int(value)


def positive_number(name: str, value: Any) -> float:
    """`value` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"{name} must be a real number > 0; received {value!r}")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise InvalidArgumentError(f"{name} must be a finite number > 0; received {value}")
    return number
