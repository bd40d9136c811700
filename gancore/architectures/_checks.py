"""Argument checks and pair names shared by the builders.

Every message names the builder and the argument, says what is allowed and what was received.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gancore._errors import InvalidArgumentError

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_int_pair",
    "check_ints",
    "check_latent_dim",
    "check_sample_shape",
    "check_square_image",
    "check_unlabelled",
    "pair_name",
    "resolve_kind",
]

Shape = tuple[int, ...]


def _is_int(value: Any) -> bool:
    # bool is an int subclass; True as a size is always a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(builder: str, arg: str, value: Any, low: int = 1) -> int:
    """`value` if it is an int >= `low`."""
    if not _is_int(value) or value < low:
        raise InvalidArgumentError(f"{builder} {arg} must be an int >= {low}; received {value!r}")
    return int(value)


def check_ints(builder: str, arg: str, value: Any, low: int = 1) -> tuple[int, ...]:
    """`value` as a non-empty tuple of ints >= `low` (an int counts as a 1-tuple)."""
    items = (value,) if _is_int(value) else value
    if (
        not isinstance(items, (tuple, list))
        or not items
        or not all(_is_int(v) and v >= low for v in items)
    ):
        raise InvalidArgumentError(
            f"{builder} {arg} must be an int or a non-empty sequence of ints >= {low}; "
            f"received {value!r}"
        )
    return tuple(int(v) for v in items)


def check_int_pair(builder: str, arg: str, value: Any, low: int = 1) -> tuple[int, int]:
    """`value` as (generator's, critic's): an int (both) or a pair of ints >= `low`."""
    items = (value, value) if _is_int(value) else value
    if (
        not isinstance(items, (tuple, list))
        or len(items) != 2
        or not all(_is_int(v) and v >= low for v in items)
    ):
        raise InvalidArgumentError(
            f"{builder} {arg} must be an int >= {low} or a pair (generator, critic) of them; "
            f"received {value!r}"
        )
    return int(items[0]), int(items[1])


def check_bool(builder: str, arg: str, value: Any) -> bool:
    """`value` if it is a bool."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{builder} {arg} must be a bool; received {value!r}")
    return value


def check_choice(builder: str, arg: str, value: Any, choices: Sequence[str]) -> str:
    """`value` if it is one of `choices`."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InvalidArgumentError(f"{builder} {arg} must be one of {allowed}; received {value!r}")
    return str(value)


def check_sample_shape(builder: str, value: Any, ranks: Sequence[int] = (1, 2, 3)) -> Shape:
    """`value` as a tuple of `ranks` ints >= 1 (NHWC for images)."""
    shape = tuple(value) if isinstance(value, (tuple, list)) else value
    if (
        not isinstance(shape, tuple)
        or len(shape) not in ranks
        or not all(_is_int(d) and d >= 1 for d in shape)
    ):
        wanted = " or ".join(str(r) for r in ranks)
        raise InvalidArgumentError(
            f"{builder} sample_shape must be a tuple of {wanted} ints >= 1; received {value!r}"
        )
    return tuple(int(d) for d in shape)


def check_square_image(builder: str, value: Any, sides: Sequence[int]) -> Shape:
    """`value` as (side, side, channels) with one of the supported `sides`."""
    shape = check_sample_shape(builder, value, ranks=(3,))
    if shape[0] != shape[1] or shape[0] not in sides:
        listed = ", ".join(f"{s}x{s}" for s in sides)
        raise InvalidArgumentError(
            f"{builder} sample_shape must be (side, side, channels) with a side of {listed}; "
            f"received {shape}"
        )
    return shape


def check_latent_dim(builder: str, value: Any) -> int:
    """`value` if it is a valid latent size (an int >= 1)."""
    return check_int(builder, "latent_dim", value)


def resolve_kind(builder: str, num_classes: Any, semi_supervised: Any) -> str:
    """The pair's kind: "gan" without labels, "conditional" with `num_classes`, and
    "semi_supervised" when asked for (the K-class critic needs `num_classes`)."""
    check_bool(builder, "semi_supervised", semi_supervised)
    if num_classes is None:
        if semi_supervised:
            raise InvalidArgumentError(
                f"{builder} num_classes must be an int >= 2 when semi_supervised=True "
                f"(the critic's class count); received None"
            )
        return "gan"
    check_int(builder, "num_classes", num_classes, low=2)
    return "semi_supervised" if semi_supervised else "conditional"


def check_unlabelled(builder: str, num_classes: Any) -> None:
    """Refuse labels for a builder that has no conditional variant."""
    if num_classes is not None:
        raise InvalidArgumentError(
            f"{builder} num_classes must be None ({builder} has no conditional or "
            f"semi-supervised variant); received {num_classes!r}"
        )


def _fmt(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(_fmt(v) for v in value)
    return str(value)


def pair_name(
    builder: str,
    sample_shape: Shape,
    kind: str,
    num_classes: int | None,
    options: Sequence[tuple[str, Any, Any]] = (),
) -> str:
    """A deterministic name: builder, sample shape, kind, then every option that differs
    from its default, e.g. `dcgan-28x28x1-conditional_10-norm_layer`.

    `options` holds (name, value, default) triples, in the order they are to appear.
    """
    parts = [builder, _fmt(sample_shape)]
    if kind in ("conditional", "semi_supervised"):
        parts.append(f"{kind}_{num_classes}")
    parts.extend(f"{name}_{_fmt(value)}" for name, value, default in options if value != default)
    return "-".join(parts)
