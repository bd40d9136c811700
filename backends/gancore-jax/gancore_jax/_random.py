"""The JAX backend's random stream (dropout masks): one `jax.random` key, split for each
use, whose two words are what checkpoints save and restore."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

_KEY: list[Any] = []


def key() -> Any:
    """The process's key (seeded 0 until `seed` is called)."""
    if not _KEY:
        _KEY.append(jax.random.PRNGKey(0))
    return _KEY[0]


def set_key(value: Any) -> None:
    """Replace the key (a compiled update returns the one it leaves)."""
    key()
    _KEY[0] = value


def next_key() -> Any:
    """A fresh subkey; the stream moves on."""
    current, sub = jax.random.split(key())
    set_key(current)
    return sub


def seed(value: int) -> None:
    set_key(jax.random.PRNGKey(value))


def get_state() -> np.ndarray:
    return np.array(key(), np.uint32)


def set_state(state: Any) -> None:
    value = np.asarray(state)
    if value.shape != (2,) or value.dtype != np.uint32:
        raise ValueError(
            f"the jax key must be uint32 of shape (2,); received {value.dtype} of shape "
            f"{value.shape}"
        )
    set_key(jax.numpy.asarray(value))
