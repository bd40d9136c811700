"""Everyday conveniences: DCGANs for any image side, conditional grids with one class per
column, loss plots with the critic's probabilities and accuracy, TensorBoard logs, epochs
as a unit of training length."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gancore.architectures import dcgan
from gancore.architectures._dcgan import _sides_to
from gancore.nn import forward_numpy, init_state

# -- DCGAN for any image side ----------------------------------------------------------------


@pytest.mark.parametrize("side", [4, 5, 7, 12, 16, 20, 33, 48])
def test_dcgan_builds_any_side_and_runs_at_it(side: int) -> None:
    pair = dcgan((side, side, 3), latent_dim=8)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    images = forward_numpy(pair.generator, init_state(pair.generator, 0), z)
    assert images.shape == (2, side, side, 3)
    assert np.all(np.abs(images) <= 1.0)
    scores = forward_numpy(pair.critic, init_state(pair.critic, 1), images)
    assert scores.shape == (2, 1) and np.all(np.isfinite(scores))


@pytest.mark.parametrize(("side", "sides"), [(48, [6, 12, 24, 48]), (100, [7, 13, 25, 50, 100]),
                                             (16, [4, 8, 16]), (6, [6]), (256, [4, 8, 16, 32,
                                                                               64, 128, 256])])
def test_the_generic_plan_halves_the_side_down_to_a_small_base(side: int,
                                                               sides: list[int]) -> None:
    assert _sides_to(side) == sides
    pair = dcgan((side, side, 1))
    assert pair.generator.output_shape == (side, side, 1)
    assert pair.generator.shapes()["reshape_1"][:2] == (sides[0], sides[0])


def test_the_books_sides_keep_their_own_networks() -> None:
    # GANs in Action's 28x28 DCGAN: 7x7x256 projection (not the generic plan's 4x4).
    pair = dcgan((28, 28, 1))
    assert pair.generator.shapes()["reshape_1"] == (7, 7, 256)


@pytest.mark.parametrize("options", [{"num_classes": 3}, {"num_classes": 3,
                                                           "semi_supervised": True},
                                     {"attention": True, "spectral_norm": True},
                                     {"norm": "layer", "minibatch_stddev": True}])
def test_the_generic_plan_takes_every_dcgan_option(options: dict[str, Any]) -> None:
    pair = dcgan((20, 20, 1), latent_dim=8, **options)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 20, 20, 1)).astype(np.float32)
    labels = [np.array([0, 1, 2, 0])] if pair.kind == "conditional" else []
    scores = forward_numpy(pair.critic, init_state(pair.critic, 1), x, *labels)
    head = 3 if pair.kind == "semi_supervised" else 1
    assert scores.shape == (4, head)


def test_a_dcgan_trains_on_a_side_no_book_uses(backend: Any, tmp_path: Path) -> None:
    from gancore.data import Dataset
    from gancore.training import GANTrainer, TrainConfig

    rng = np.random.default_rng(0)
    data = Dataset("blobs", rng.uniform(-1, 1, (16, 12, 12, 1)).astype(np.float32))
    trainer = GANTrainer(dcgan(data.shape, latent_dim=8), data,
                         TrainConfig(steps=2, batch_size=4), backend=backend.name)
    metrics = trainer.fit(progress=False)
    assert np.isfinite(metrics["d_loss"]) and trainer.sample(3, seed=0).shape == (3, 12, 12, 1)
