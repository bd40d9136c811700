"""The TensorFlow backend's own random stream (dropout masks): a `tf.random.Generator`,
whose state is one variable that checkpoints save and restore, unlike the hidden state of
TensorFlow's global-seed random ops."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_GENERATOR: list[tf.random.Generator] = []


def generator() -> tf.random.Generator:
    """The process's generator (created on first use, seeded 0 until `seed` is called)."""
    if not _GENERATOR:
        _GENERATOR.append(tf.random.Generator.from_seed(0))
    return _GENERATOR[0]


def seed(value: int) -> None:
    generator().reset_from_seed(value)


def get_state() -> np.ndarray:
    return generator().state.numpy().copy()


def set_state(state: np.ndarray) -> None:
    value = np.asarray(state)
    current = generator().state
    if value.shape != tuple(current.shape) or value.dtype != np.int64:
        raise ValueError(
            f"generator state must be int64 of shape {tuple(current.shape)}; received "
            f"{value.dtype} of shape {value.shape}"
        )
    generator().reset(value)
