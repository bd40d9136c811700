"""A user's own JAX function and its parameters behind the interface of gancore's networks.

A native JAX network is a pair ``(apply, params)``: ``params`` any pytree of arrays (nested
dicts, lists, tuples; a Flax ``variables`` dict too), ``apply(params, *inputs,
training=bool)`` a pure function returning the output. Every leaf is trained. The state
is the leaves by their pytree paths, ``/``-joined (``{"dense": {"w": ...}}`` gives
``dense/w``, a list index its number), so a checkpoint's arrays rebuild the pytree with
`unflatten_params`. The network runs, like gancore's own JAX networks, under the compiled
updates' overlay (`gancore_jax._state`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from gancore import InvalidArgumentError
from gancore.nn import CanonicalLayouts
from gancore_jax._nn import JaxNetwork, JaxParameter
from gancore_jax._state import current


def _key_name(entry: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def param_paths(params: Any) -> tuple[list[str], Any]:
    """The ``/``-joined path of each leaf of `params`, in flattening order, and the tree's
    structure."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = ["/".join(_key_name(k) for k in path) for path, _ in leaves]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(
            f"a native JAX network's parameter paths must be unique; received {names}"
        )
    return names, treedef


def unflatten_params(treedef: Any, names: Sequence[str], arrays: Mapping[str, Any]) -> Any:
    """The pytree of `treedef` with the leaves `arrays[name]` (`param_paths`' names)."""
    return jax.tree_util.tree_unflatten(treedef, [arrays[n] for n in names])


class NativeJaxNetwork(CanonicalLayouts):
    """``net(*inputs, training=)`` computes ``apply(params, *inputs, training=training)``;
    eagerly under `jax.jit` (one compile per input shape and mode), inside a compiled
    update on the update's traced parameters. Its canonical names and layouts are the
    pytree's own (`CanonicalLayouts` with identity permutations)."""

    def __init__(self, apply: Callable[..., Any], params: Any, device: Any = None) -> None:
        self.apply_fn = apply
        self.device = device
        self._names, self._treedef = param_paths(params)
        leaves = jax.tree_util.tree_leaves(params)
        bad = [n for n, v in zip(self._names, leaves, strict=True)
               if not hasattr(v, "shape") or not hasattr(v, "dtype")]
        if bad or not leaves:
            raise InvalidArgumentError(
                f"a native JAX network's params must be a non-empty pytree of arrays; "
                f"received {'no leaves' if not leaves else 'non-arrays at ' + ', '.join(bad)}"
            )
        self._state: dict[str, jax.Array] = {
            n: jax.device_put(v, device) for n, v in zip(self._names, leaves, strict=True)}
        # gancore's own parameter handles: the ops, optimizers, EMA and clipping know them.
        self._parameters = [JaxParameter(self, n) for n in self._names]  # type: ignore[arg-type]
        self._trainable = list(self._names)
        self._perms = {n: tuple(range(np.ndim(v))) for n, v in self._state.items()}
        self._eager = jax.jit(self.apply, static_argnames=("training",))

    def params(self, arrays: Mapping[str, Any] | None = None) -> Any:
        """The parameters as the user's pytree (of `arrays`, by default the own ones)."""
        return unflatten_params(self._treedef, self._names,
                                self._state if arrays is None else arrays)

    def apply(self, arrays: Mapping[str, jax.Array], inputs: tuple[jax.Array, ...],
              training: bool) -> jax.Array:
        return self.apply_fn(self.params(arrays), *inputs, training=training)

    # Where the arrays are read, eager or under an update's overlay: as gancore's networks.
    arrays_outside = JaxNetwork.arrays_outside
    arrays = JaxNetwork.arrays

    def __call__(self, *inputs: jax.Array, training: bool = False) -> jax.Array:
        active = current()
        traced = active.arrays(self) if active is not None else None
        if traced is None:
            return self._eager(self._state, tuple(inputs), training)
        return self.apply(traced, tuple(inputs), training)

    def copy(self) -> NativeJaxNetwork:
        """An independent copy (the same function, a copy of the parameters): the EMA
        generator."""
        return NativeJaxNetwork(self.apply_fn, self.params(), self.device)

    def trainable_parameters(self) -> list[JaxParameter]:
        """Every leaf, in flattening order."""
        return list(self._parameters)

    def get_state(self) -> dict[str, np.ndarray]:
        return {n: np.array(v) for n, v in self._state.items()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        missing = sorted(set(self._names) - set(state))
        if missing:
            raise InvalidArgumentError(
                f"state must hold every parameter of the network; missing {', '.join(missing)}"
            )
        new = {}
        for name in self._names:
            own, value = self._state[name], np.asarray(state[name])
            if tuple(value.shape) != tuple(own.shape):
                raise InvalidArgumentError(
                    f"state entry {name!r} must have shape {tuple(own.shape)}; received "
                    f"{tuple(value.shape)}"
                )
            new[name] = jax.device_put(value.astype(own.dtype), self.device)
        self._state = new

    def __repr__(self) -> str:
        return f"NativeJaxNetwork({getattr(self.apply_fn, '__name__', 'apply')!r})"


def wrap(module: Any, device: Any = None) -> NativeJaxNetwork:
    """A native JAX network for an ``(apply, params)`` pair."""
    if (not isinstance(module, tuple) or len(module) != 2 or not callable(module[0])):
        raise InvalidArgumentError(
            f"a native jax architecture must build (apply, params) pairs, apply(params, "
            f"*inputs, training=bool) a pure function; received {type(module).__name__}"
        )
    return NativeJaxNetwork(module[0], module[1], device)
