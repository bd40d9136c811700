"""The interfaces of gancore, as `typing.Protocol`s.

Anything with the right methods is a generator, critic, loss, trainer or backend: plugins
need not inherit from gancore classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from gancore._ops import ArrayOps

__all__ = ["Backend", "Critic", "Generator", "Loss", "Trainer"]

Array = Any


@runtime_checkable
class Generator(Protocol):
    """Maps latent noise `z` (and optional integer labels) to samples."""

    def __call__(self, z: Array, labels: Array | None = None, /) -> Array: ...


@runtime_checkable
class Critic(Protocol):
    """Maps samples (and optional labels) to scores: one per sample, or a patch map."""

    def __call__(self, x: Array, labels: Array | None = None, /) -> Array: ...


@runtime_checkable
class Loss(Protocol):
    """The critic's and the generator's objectives for one step of one GAN family."""

    def critic_loss(self, real: Array, fake: Array) -> Array:
        """The critic's loss from its scores on real and on generated samples."""

    def generator_loss(self, fake: Array) -> Array:
        """The generator's loss from the critic's scores on generated samples."""


@runtime_checkable
class Trainer(Protocol):
    """Runs the alternating critic / generator updates."""

    def fit(self, steps: int) -> Mapping[str, float]:
        """Train for `steps` generator steps; returns the last logged metrics."""


@runtime_checkable
class Backend(Protocol):
    """What a deep-learning framework must provide to gancore."""

    name: ClassVar[str]
    framework: ClassVar[str]
    #: Top-level module names whose arrays belong to this backend (matched via sys.modules).
    array_modules: ClassVar[tuple[str, ...]]
    ops: ArrayOps

    @classmethod
    def describe(cls) -> Any:
        """A `BackendInfo` from package metadata, without importing the framework."""
