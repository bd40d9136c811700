"""`Epochs`: a run's length and its sample and checkpoint frequencies in passes over the
data, turned into generator steps once the data's size is known."""

from __future__ import annotations

import math
from typing import Any

import attrs

from gancore._errors import InvalidArgumentError
from gancore.training._config import TrainConfig

__all__ = ["Epochs", "steps_per_epoch"]


def _optional_positive(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise InvalidArgumentError(f"'{attribute.name}' must be None or a number > 0: {value!r}")


def _optional_count(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 0):
        raise InvalidArgumentError(f"'{attribute.name}' must be None or an int >= 0: {value!r}")


def steps_per_epoch(size: int, config: TrainConfig, packing: int = 1) -> int:
    """Generator steps in one pass over `size` samples: each step's critic updates read
    ``n_critic`` batches of ``batch_size * packing`` samples (partial batches are dropped,
    as the batch iterator does); at least 1."""
    return max(1, size // (config.batch_size * packing * config.n_critic))


@attrs.frozen
class Epochs:
    """A run measured in epochs (passes of the critic over the data) instead of steps.

    ``epochs`` (may be fractional) sets the length, ``sample_every`` and
    ``checkpoint_every`` the frequency of the sample grids and the numbered checkpoints
    in whole epochs (0: only at the end). None leaves the config's own setting."""

    epochs: float | None = attrs.field(default=None, validator=_optional_positive)
    sample_every: int | None = attrs.field(default=None, validator=_optional_count)
    checkpoint_every: int | None = attrs.field(default=None, validator=_optional_count)

    def __bool__(self) -> bool:
        return any(v is not None for v in attrs.astuple(self))

    def apply(self, config: TrainConfig, data: Any, packing: int = 1) -> TrainConfig:
        """`config` with the settings given here in steps for `data` (anything with a
        length)."""
        if not self:
            return config
        try:
            size = len(data)
        except TypeError:
            raise InvalidArgumentError(
                f"epochs need data of known size; received {type(data).__name__} "
                f"{getattr(data, 'name', '')!r} without a length: give steps instead"
            ) from None
        per = steps_per_epoch(size, config, packing)
        changes: dict[str, int] = {}
        if self.epochs is not None:
            changes["steps"] = max(1, math.ceil(self.epochs * per))
        if self.sample_every is not None:
            changes["sample_every"] = self.sample_every * per
        if self.checkpoint_every is not None:
            changes["checkpoint_every"] = self.checkpoint_every * per
        return attrs.evolve(config, **changes)
