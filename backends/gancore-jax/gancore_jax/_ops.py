"""`ArrayOps` on JAX arrays, eager or traced inside `jax.jit` and `jax.grad`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.array import ArrayImpl

from gancore import InvalidArgumentError
from gancore_jax._nn import JaxParameter, to_numpy
from gancore_jax._state import capture, commit


def _axis(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


class JaxOps:
    """`ArrayOps` for JAX arrays (and tracers, and a network's `JaxParameter`s)."""

    name = "jax"
    #: Registered for dispatch when the backend loads (see gancore.backend); tracers are
    #: found through their module, ``jax``. The concrete type is named, not made: creating
    #: an array would start XLA's CPU client, whose thread count is fixed from then on
    #: (`JaxBackend.set_threads` must still work after the backend loads).
    array_types = (ArrayImpl, JaxParameter)

    def __init__(self) -> None:
        # The generic losses are written with softplus, which jax.nn computes stably: no
        # fused kernel would be faster once XLA has fused them.
        self.loss_overrides: dict[str, Any] = {}

    def is_array(self, x: Any) -> bool:
        return isinstance(x, (jax.Array, JaxParameter))

    def asarray(self, x: Any, like: Any) -> jax.Array:
        return jnp.asarray(np.asarray(x) if not isinstance(x, jax.Array) else x,
                           dtype=like.dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, jax.core.Tracer):
            raise InvalidArgumentError(
                f"a traced JAX array has no values to read (inside jax.jit); received {x!r}"
            )
        return to_numpy(x)

    def shape(self, x: Any) -> tuple[int, ...]:
        return tuple(x.shape)

    def dtype_name(self, x: Any) -> str:
        return str(jnp.dtype(x.dtype))

    def softplus(self, x: Any) -> jax.Array:
        # jax.nn.softplus is logaddexp(x, 0): no overflow for large x.
        return jax.nn.softplus(x)

    def abs(self, x: Any) -> jax.Array:
        return jnp.abs(x)

    def sqrt(self, x: Any) -> jax.Array:
        return jnp.sqrt(x)

    def relu(self, x: Any) -> jax.Array:
        return jax.nn.relu(x)

    def sum(self, x: Any, axis: int | Sequence[int] | None = None) -> jax.Array:
        return jnp.sum(x, axis=_axis(axis))

    def mean(self, x: Any, axis: int | Sequence[int] | None = None) -> jax.Array:
        return jnp.mean(x, axis=_axis(axis))

    def reshape(self, x: Any, shape: Sequence[int]) -> jax.Array:
        return jnp.reshape(x, tuple(shape))

    def log_softmax(self, x: Any, axis: int = -1) -> jax.Array:
        return jax.nn.log_softmax(x, axis=axis)

    def logsumexp(self, x: Any, axis: int = -1) -> jax.Array:
        return jax.nn.logsumexp(x, axis=axis)

    def one_hot(self, labels: Any, depth: int, like: Any) -> jax.Array:
        return jax.nn.one_hot(jnp.asarray(labels), depth, dtype=like.dtype)

    def stop_gradient(self, x: Any) -> jax.Array:
        return jax.lax.stop_gradient(x)

    def input_gradient(self, fn: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        # What `fn` writes to the update's networks (a critic's BatchNorm statistics) comes
        # out of the vjp as an auxiliary output: its own tracers never leave it.
        def traced(v: Any) -> tuple[Any, Any]:
            with capture() as written:
                out = fn(v)
            return out, written

        out, pullback, written = jax.vjp(traced, x, has_aux=True)
        commit(written)
        # vjp's pullback is differentiable again: the penalty trains the critic.
        (grad,) = pullback(jnp.ones_like(out))
        return out, grad

    def uniform(self, shape: Sequence[int], like: Any, generator: Any = None) -> jax.Array:
        if isinstance(generator, jax.Array) and generator.dtype == jnp.uint32:
            return jax.random.uniform(generator, tuple(shape), dtype=like.dtype)
        rng = generator if isinstance(generator, np.random.Generator) else (
            np.random.default_rng(generator))
        return jnp.asarray(rng.random(tuple(shape)), dtype=like.dtype)

    def clip_(self, params: Sequence[Any], low: float, high: float) -> None:
        for p in params:
            if not isinstance(p, JaxParameter):
                raise InvalidArgumentError(
                    f"params must be a JAX network's parameters (JAX arrays cannot change in "
                    f"place); received {type(p).__name__}"
                )
            p.value = jnp.clip(p.value, low, high)
