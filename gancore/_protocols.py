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

    # What checkpoints and resume need from a backend that trains (the trainer calls these
    # beside building networks and compiled updates):

    def optimizer_state(self, optimizer: Any) -> Mapping[str, list[Any]]:
        """The optimizer's state as lists aligned with its parameters, in native layouts:
        ``step`` (per parameter; SGD: 1 once its momentum buffer exists) and the slots,
        named as torch names them (Adam ``exp_avg``, ``exp_avg_sq``; RMSprop
        ``square_avg``; SGD ``momentum_buffer``), zeros before the first update. The core
        converts them to the canonical layouts with each network's ``to_canonical``."""

    def set_optimizer_state(self, optimizer: Any, state: Mapping[str, list[Any]]) -> None:
        """Load an `optimizer_state` (native layouts): the next update is the one the saving
        optimizer would have made."""

    def make_joint_update(self, first: Any, first_optimizer: Any, second: Any,
                          second_optimizer: Any, *, post: Any = None,
                          compile: bool = False) -> Any:
        """One critic update then one generator update (``reuse_fakes``): ``first(inputs)
        -> (loss, metrics, carry)``, ``second(inputs, carry) -> (loss, metrics)``, where
        `carry` holds the fakes with the generator's graph; the call returns both metrics.
        Optional: a backend without it trains without ``reuse_fakes``."""

    def set_threads(self, threads: int) -> None:
        """Run the framework's ops on `threads` threads (a `GancoreError` where that can no
        longer change)."""

    def random_state(self) -> Mapping[str, Any]:
        """The framework's own random streams (dropout masks) as numpy arrays."""

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Restore a `random_state` of this backend."""
