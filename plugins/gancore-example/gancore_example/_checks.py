"""Argument checks shared by the example's architecture builders, with gancore's messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gancore import InvalidArgumentError

__all__ = ["check_options", "check_positive_int", "check_sample_shape"]


def check_positive_int(builder: str, what: str, value: Any) -> int:
    """`value` if it is an int >= 1, else an `InvalidArgumentError` naming the argument."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(f"{builder} {what} must be an int >= 1; received {value!r}")
    return value


def check_sample_shape(builder: str, value: Any) -> tuple[int, ...]:
    """`value` as a tuple: `(features,)` for points or NHWC `(h, w, c)` for images."""
    shape = tuple(value) if isinstance(value, (list, tuple)) else value
    if (
        not isinstance(shape, tuple)
        or len(shape) not in (1, 3)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
    ):
        raise InvalidArgumentError(
            f"{builder} sample_shape must be (features,) or an NHWC image shape (h, w, c) of "
            f"ints >= 1; received {value!r}"
        )
    return shape


def check_options(builder: str, num_classes: Any, options: Mapping[str, Any]) -> None:
    """The example builders are unconditional and take no options beyond their own."""
    if num_classes is not None:
        raise InvalidArgumentError(
            f"{builder} is unconditional: num_classes must be None; received {num_classes!r}"
        )
    if options:
        raise InvalidArgumentError(
            f"{builder} options must be among latent_dim, num_classes, hidden; received "
            f"{', '.join(sorted(options))}"
        )
