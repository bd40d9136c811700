"""Turn the `seed` arguments of the data package into a `numpy.random.Generator`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A generator's bit-generator state as JSON-able values (PCG64's 128-bit integers
    as decimal strings, so that any JSON reader keeps them exact)."""
    return _ints_to_strings(rng.bit_generator.state)


def set_generator_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Put a generator back to a state `generator_state` returned."""
    if state.get("bit_generator") != type(rng.bit_generator).__name__:
        raise InvalidArgumentError(
            f"random state must be of a {type(rng.bit_generator).__name__} generator; "
            f"received {state.get('bit_generator')!r}"
        )
    rng.bit_generator.state = _strings_to_ints(state)


def _ints_to_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ints_to_strings(v) for k, v in value.items()}
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return value


def _strings_to_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strings_to_ints(v) for k, v in value.items()}
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value
