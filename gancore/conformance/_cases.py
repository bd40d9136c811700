"""The training cases of the conformance suite: one small run of each algorithm."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from gancore.architectures import cyclegan, dcgan
from gancore.data import load_digits
from gancore.training import OptimizerConfig, TrainConfig, make_trainer
from gancore.training._recipes import inverted

__all__ = ["CASES", "train"]

_DIGITS = load_digits()
_SMALL = _DIGITS.subset(np.arange(64))

#: name -> (architecture factory, data factory, config): the standard GAN, WGAN-GP,
#: weight-clipped WGAN with an EMA generator, the conditional, semi-supervised and
#: CycleGAN, each small enough for a few seconds' step.
CASES: dict[str, tuple[Any, Any, TrainConfig]] = {
    "dcgan": (lambda: dcgan(_SMALL.shape, latent_dim=16), lambda: _SMALL,
              TrainConfig(batch_size=8)),
    # Seed 1: with seed 0 one fake's first critic pre-activation sits 1e-9 from the
    # LeakyReLU's kink in the second critic step, and which side float32 rounding puts it
    # on depends on the summation order (torch at one thread against two: the first
    # layer's gradients move apart by 600 times the tolerance). A comparison across
    # backends is only meaningful away from the kinks; seeds 1-4 stay there.
    "wgan-gp": (lambda: dcgan(_SMALL.shape, latent_dim=16, norm="layer"), lambda: _SMALL,
                TrainConfig(batch_size=8, loss="wasserstein", gradient_penalty=10.0,
                            n_critic=2, seed=1,
                            generator_optimizer=OptimizerConfig.adam(1e-4, 0.0, 0.9),
                            critic_optimizer=OptimizerConfig.adam(1e-4, 0.0, 0.9))),
    "wgan-clip-ema": (lambda: dcgan(_SMALL.shape, latent_dim=16), lambda: _SMALL,
                      TrainConfig(batch_size=8, loss="wasserstein", clip_value=0.01,
                                  ema_decay=0.9,
                                  generator_optimizer=OptimizerConfig.rmsprop(5e-5),
                                  critic_optimizer=OptimizerConfig.rmsprop(5e-5))),
    "cgan": (lambda: dcgan(_SMALL.shape, latent_dim=16, num_classes=10), lambda: _SMALL,
             TrainConfig(batch_size=8)),
    "sgan": (lambda: dcgan(_SMALL.shape, latent_dim=16, num_classes=10, semi_supervised=True),
             lambda: _SMALL, TrainConfig(algorithm="sgan", batch_size=8, num_labeled=20)),
    "cyclegan": (lambda: cyclegan(_SMALL.shape, base_filters=4, depth=2),
                 lambda: (_SMALL, inverted(_SMALL)),
                 TrainConfig(algorithm="cyclegan", loss="least_squares", batch_size=4,
                             pool_size=4)),
}


def train(case: str, backend: str, steps: int = 2, **overrides: Any) -> Any:
    """A trainer of `case` on `backend` after `steps` steps (config fields overridden)."""
    arch, data, config = CASES[case]
    config = attrs.evolve(config, steps=steps, log_every=1, **overrides)
    trainer = make_trainer(arch(), data(), config, backend=backend)
    trainer.fit()
    return trainer
