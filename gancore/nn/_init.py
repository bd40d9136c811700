"""Parameters of a spec: canonical names and layouts, numpy initialisation, validation.

The canonical state is the checkpoint format shared by every backend:
`<node>.kernel` (Dense: (in, out); Conv2D and ConvTranspose2D: (kh, kw, in, out)),
`<node>.bias`, `<node>.gamma`, `<node>.beta`, `<node>.embeddings` (num, dim), the
BatchNorm buffers `<node>.running_mean`, `<node>.running_var`, and the power-iteration
vector `<node>.u` of spectrally normalised layers. All float32; each layer's docstring
gives the rest (MinibatchDiscrimination's (in, kernels, dims) `kernel`, SelfAttention's
`<role>_kernel` and `scale`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.nn._layers import ParamSpec
from gancore.nn._spec import NetworkSpec

__all__ = ["CanonicalLayouts", "buffer_names", "check_state", "init_state", "parameter_shapes",
           "trainable_names"]


def _param_specs(spec: NetworkSpec) -> list[tuple[str, ParamSpec]]:
    shapes = spec.shapes()
    out: list[tuple[str, ParamSpec]] = []
    for node in spec.nodes:
        in_shapes = tuple(shapes[s] for s in node.inputs)
        out.extend((f"{node.name}.{p.suffix}", p) for p in node.layer.params(in_shapes))
    return out


def parameter_shapes(spec: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter and buffer, by canonical name, in canonical order."""
    return {name: p.shape for name, p in _param_specs(spec)}


def trainable_names(spec: NetworkSpec) -> list[str]:
    """Names of the trainable parameters in canonical order (node order, then kernel, bias,
    gamma, beta, embeddings within a node); buffers excluded."""
    return [name for name, p in _param_specs(spec) if p.trainable]


def buffer_names(spec: NetworkSpec) -> list[str]:
    """Names of the non-trainable buffers (BatchNorm running statistics), in canonical order."""
    return [name for name, p in _param_specs(spec) if not p.trainable]


def init_state(spec: NetworkSpec, seed: int) -> dict[str, np.ndarray]:
    """Initial parameters and buffers (float32), drawn from one `np.random.default_rng(seed)`
    walked over the nodes and their parameters in canonical order.

    "dcgan" (Radford 2015): kernels N(0, 0.02), gamma N(1, 0.02). "glorot": kernels
    uniform(+-sqrt(6 / (fan_in + fan_out))) with the receptive field in both fans, gamma 1.
    Both: biases and beta 0, running_mean 0, running_var 1, embeddings N(0, 1) (PyTorch's
    default, kept for glorot too because an embedding has no meaningful fans). Every
    `*_kernel` (SelfAttention's projections) is a kernel; SelfAttention's `scale` is 0; a
    power-iteration vector `u` is N(0, 1) normalised to unit length.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise InvalidArgumentError(f"seed must be an int; received {seed!r}")
    rng = np.random.default_rng(seed)
    dcgan = spec.init == "dcgan"
    state: dict[str, np.ndarray] = {}
    for name, p in _param_specs(spec):
        value: np.ndarray
        if p.suffix.endswith("kernel"):
            if dcgan:
                value = rng.normal(0.0, 0.02, p.shape)
            else:
                limit = np.sqrt(6.0 / (p.fan_in + p.fan_out))
                value = rng.uniform(-limit, limit, p.shape)
        elif p.suffix == "gamma":
            value = rng.normal(1.0, 0.02, p.shape) if dcgan else np.ones(p.shape)
        elif p.suffix == "embeddings":
            value = rng.normal(0.0, 1.0, p.shape)
        elif p.suffix == "running_var":
            value = np.ones(p.shape)
        elif p.suffix == "u":
            value = rng.normal(0.0, 1.0, p.shape)
            value /= max(float(np.linalg.norm(value)), 1e-12)
        else:  # bias, beta, running_mean, scale
            value = np.zeros(p.shape)
        state[name] = value.astype(np.float32)
    return state


def check_state(
    spec: NetworkSpec, state: Mapping[str, object], dtype: type = np.float32
) -> dict[str, np.ndarray]:
    """`state` as numpy arrays of `dtype` in canonical order, after checking that it has
    exactly the spec's parameter and buffer names, each with the right shape."""
    expected = parameter_shapes(spec)
    if not isinstance(state, Mapping):
        raise InvalidArgumentError(
            f"state must be a mapping of parameter names to arrays; received {type(state).__name__}"
        )
    missing = [n for n in expected if n not in state]
    unknown = [n for n in state if n not in expected]
    if missing or unknown:
        raise InvalidArgumentError(
            f"state for network {spec.name!r} must have exactly the parameters "
            f"{list(expected)}; missing {missing}, unknown {unknown}"
        )
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        value: np.ndarray = np.asarray(state[name], dtype=dtype)
        if value.shape != shape:
            raise InvalidArgumentError(
                f"state[{name!r}] must have shape {shape}; received {value.shape}"
            )
        out[name] = value
    return out


class CanonicalLayouts:
    """What a backend's network shares for arrays shaped like its trainable parameters
    (optimizer moments): their canonical names, and the conversion between the native and
    the canonical layouts. The network sets ``_trainable`` (canonical names, in
    ``trainable_parameters()`` order) and ``_perms`` (name -> the permutation from the
    canonical layout to the native one)."""

    _trainable: list[str]
    _perms: Mapping[str, Sequence[int]]

    def trainable_names(self) -> list[str]:
        """The canonical names of `trainable_parameters()`, in that order."""
        return list(self._trainable)

    def to_canonical(self, values: Sequence[Any]) -> dict[str, np.ndarray]:
        """Native-layout arrays, one per trainable parameter, by canonical name and in the
        canonical layouts."""
        return {name: np.ascontiguousarray(np.asarray(v).transpose(np.argsort(self._perms[name])))
                for name, v in zip(self._trainable, values, strict=True)}

    def from_canonical(self, arrays: Mapping[str, Any]) -> list[np.ndarray]:
        """The inverse of `to_canonical`: native-layout arrays in `trainable_parameters()`
        order."""
        return [np.ascontiguousarray(np.asarray(arrays[name]).transpose(self._perms[name]))
                for name in self._trainable]
