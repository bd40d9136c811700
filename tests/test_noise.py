"""The generator's noise: standard normal by default, uniform in [-1, 1] on request
(Raschka ch. 17), in training, in the fixed grid, in samples and in checkpoints."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
from test_training import SMALL

from gancore import InvalidArgumentError
from gancore.architectures import dcgan
from gancore.training import GANTrainer, TrainConfig, load_checkpoint
from gancore.training._sampling import make_noise


def test_uniform_noise_lies_in_minus_one_one_and_normal_is_unchanged() -> None:
    u = make_noise(4000, 3, 0, "uniform")
    assert u.dtype == np.float32 and -1 <= u.min() < -0.99 and 0.99 < u.max() <= 1
    np.testing.assert_array_equal(
        make_noise(5, 2, 7), np.random.default_rng(7).standard_normal((5, 2)).astype(np.float32))
    with pytest.raises(InvalidArgumentError, match="noise must be 'normal' or 'uniform'"):
        make_noise(2, 2, 0, "laplace")
    with pytest.raises(InvalidArgumentError, match="'noise' must be one of 'normal', 'uniform'"):
        TrainConfig(noise="gaussian")


def test_a_uniform_noise_run_trains_samples_and_checkpoints_with_it(tmp_path: Path) -> None:
    config = TrainConfig(batch_size=8, steps=2, noise="uniform", grid_size=16)
    trainer = GANTrainer(dcgan(SMALL.shape, latent_dim=16), SMALL, config, backend="torch",
                         device="cpu")
    assert np.abs(trainer.fixed_noise).max() <= 1.0
    seen = []
    original = trainer._noise
    trainer._noise = lambda n, d: seen.append(original(n, d)) or seen[-1]
    trainer.fit(progress=False)
    assert seen and all(np.abs(z).max() <= 1.0 for z in seen)
    # Sampling from the trainer and from its checkpoint (numpy backend) draws uniform noise:
    # the same samples as the generator on explicit uniform noise from the same seed.
    explicit = trainer.sample(6, noise=make_noise(6, 16, 3, "uniform"))
    np.testing.assert_allclose(trainer.sample(6, seed=3), explicit, rtol=1e-6, atol=1e-6)
    path = trainer.save(tmp_path / "ckpt")
    np.testing.assert_allclose(load_checkpoint(path).sample(6, seed=3), explicit, rtol=1e-4,
                               atol=1e-5)
    normal = attrs.evolve(config, noise="normal")
    other = GANTrainer(dcgan(SMALL.shape, latent_dim=16), SMALL, normal, backend="torch",
                       device="cpu")
    assert np.abs(other.fixed_noise).max() > 1.0
