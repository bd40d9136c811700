"""Loss families: a critic loss and its generator loss, as one `Loss` object by name.

The trainer picks a family by name (``TrainConfig.loss``); plugins add families through the
``gancore.losses`` entry-point group with any object that has ``critic_loss(real, fake)``
and ``generator_loss(fake)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from gancore.losses import _adversarial as adv

__all__ = ["LOSS_FAMILIES", "LossFamily"]


@attrs.frozen
class LossFamily:
    """A named pair of critic and generator losses (implements the `Loss` protocol).

    ``targets``: whether the critic loss takes label smoothing and flipping.
    """

    name: str
    critic: Callable[..., Any]
    generator: Callable[..., Any]
    targets: bool = False

    def critic_loss(self, real: Any, fake: Any, **options: Any) -> Any:
        """The critic's loss from its scores on real and generated samples."""
        return self.critic(real, fake, **options)

    def generator_loss(self, fake: Any) -> Any:
        """The generator's loss from the critic's scores on generated samples."""
        return self.generator(fake)


LOSS_FAMILIES: dict[str, LossFamily] = {
    family.name: family
    for family in (
        LossFamily("minimax", adv.minimax_critic_loss, adv.minimax_generator_loss, True),
        LossFamily("nonsaturating", adv.minimax_critic_loss, adv.nonsaturating_generator_loss,
                   True),
        LossFamily("wasserstein", adv.wasserstein_critic_loss, adv.wasserstein_generator_loss),
        LossFamily("hinge", adv.hinge_critic_loss, adv.hinge_generator_loss),
        LossFamily("least_squares", adv.least_squares_critic_loss,
                   adv.least_squares_generator_loss, True),
    )
}
