"""`ArrayOps` on TensorFlow tensors, and the fused native losses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from gancore import GancoreError
from gancore_tensorflow import _nn


def _bce(logits: Any, target: Any, weights: Any, reduction: str) -> tf.Tensor:
    labels = tf.broadcast_to(tf.cast(target, logits.dtype), tf.shape(logits))
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    if weights is not None:
        loss = loss * weights
    if reduction == "mean":
        return tf.reduce_mean(loss)
    return tf.reduce_sum(loss) if reduction == "sum" else loss


def _minimax_critic(ops: Any, *, real: Any, fake: Any, real_target: Any, real_weights: Any,
                    fake_weights: Any, reduction: str, real_shape: tuple,
                    fake_shape: tuple) -> Any:
    if reduction == "none" and real_shape != fake_shape:
        return NotImplemented  # the generic loss raises the shape error
    return _bce(real, real_target, real_weights, reduction) + _bce(
        fake, 0.0, fake_weights, reduction
    )


def _nonsaturating_generator(ops: Any, *, fake: Any, weights: Any, reduction: str) -> tf.Tensor:
    return _bce(fake, 1.0, weights, reduction)


class TensorFlowOps:
    """`ArrayOps` for TensorFlow tensors and variables, eager or inside `tf.function`."""

    name = "tensorflow"

    def __init__(self) -> None:
        # sigmoid_cross_entropy_with_logits is TensorFlow's fused, stable form of these losses.
        self.loss_overrides = {
            "minimax_critic_loss": _minimax_critic,
            "nonsaturating_generator_loss": _nonsaturating_generator,
        }

    def is_array(self, x: Any) -> bool:
        return isinstance(x, (tf.Tensor, tf.Variable)) or tf.is_tensor(x)

    def asarray(self, x: Any, like: Any) -> tf.Tensor:
        if tf.is_tensor(x):
            return tf.cast(x, like.dtype)
        return tf.constant(np.asarray(x), dtype=like.dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        if not hasattr(x, "numpy"):
            # A symbolic tensor inside tf.function has no values yet.
            raise GancoreError(f"a symbolic tensor has no values to read; received {x!r}")
        return x.numpy()

    def shape(self, x: Any) -> tuple[int, ...]:
        return tuple(x.shape.as_list())

    def dtype_name(self, x: Any) -> str:
        return x.dtype.name

    def softplus(self, x: Any) -> tf.Tensor:
        # tf.math.softplus is computed in a form that never overflows.
        return tf.math.softplus(x)

    def abs(self, x: Any) -> tf.Tensor:
        return tf.abs(x)

    def sqrt(self, x: Any) -> tf.Tensor:
        return tf.sqrt(x)

    def relu(self, x: Any) -> tf.Tensor:
        return tf.nn.relu(x)

    def sum(self, x: Any, axis: int | Sequence[int] | None = None) -> tf.Tensor:
        return tf.reduce_sum(x, axis=_axis(axis))

    def mean(self, x: Any, axis: int | Sequence[int] | None = None) -> tf.Tensor:
        return tf.reduce_mean(x, axis=_axis(axis))

    def reshape(self, x: Any, shape: Sequence[int]) -> tf.Tensor:
        return tf.reshape(x, tuple(shape))

    def log_softmax(self, x: Any, axis: int = -1) -> tf.Tensor:
        return tf.nn.log_softmax(x, axis=axis)

    def logsumexp(self, x: Any, axis: int = -1) -> tf.Tensor:
        return tf.reduce_logsumexp(x, axis=axis)

    def one_hot(self, labels: Any, depth: int, like: Any) -> tf.Tensor:
        return tf.one_hot(tf.cast(labels, tf.int32), depth, dtype=like.dtype)

    def stop_gradient(self, x: Any) -> tf.Tensor:
        return tf.stop_gradient(x)

    def input_gradient(self, fn: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        x = tf.convert_to_tensor(x)
        # An outer tape (the training step's) records this tape's work, which makes the
        # returned gradient differentiable again.
        with tf.GradientTape() as tape, _nn.differentiated_twice():
            tape.watch(x)
            out = fn(x)
            total = tf.reduce_sum(out)
        return out, tape.gradient(total, x)

    def uniform(self, shape: Sequence[int], like: Any, generator: Any = None) -> tf.Tensor:
        if isinstance(generator, tf.random.Generator):
            return generator.uniform(tuple(shape), dtype=like.dtype)
        return tf.random.uniform(tuple(shape), dtype=like.dtype)

    def clip_(self, params: Sequence[Any], low: float, high: float) -> None:
        for p in params:
            p.assign(tf.clip_by_value(p, low, high))


def _axis(axis: int | Sequence[int] | None) -> int | list[int] | None:
    return axis if axis is None or isinstance(axis, int) else list(axis)
