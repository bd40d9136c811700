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


# -- conditional grids, the critic's probabilities and accuracy, TensorBoard, epochs ---------


def _run(tmp_path: Path, *args: str) -> Path:
    from gancore.cli import main

    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-progress", "--backend", "torch",
                 "--batch-size", "8", *args]) == 0
    return out


def test_a_conditional_grid_has_one_class_per_column(tmp_path: Path) -> None:
    from gancore.training import SampleGrid, train

    result = train("cgan", backend="torch", steps=1, progress=False, out_dir=tmp_path / "r",
                   config={"batch_size": 8})
    trainer = result.trainer
    samples, columns = SampleGrid(tmp_path)._samples(trainer)
    assert columns == 10 and len(samples) == 60  # 64 noise vectors: 6 full rows of 10
    # Column k holds class k: the same images as sampling class k from the same noise.
    noise = trainer.fixed_noise[:60]
    for k in (0, 3, 9):
        alone = trainer.sample(6, noise=noise[k::10], labels=np.full(6, k))
        np.testing.assert_allclose(samples[k::10], alone, rtol=1e-5, atol=1e-6)
    from PIL import Image

    with Image.open(result.out_dir / "samples.png") as image:
        width, height = image.size
    side = 8 * 8 + 1  # 8x8 digits drawn 8 times larger, one pixel apart
    assert (width, height) == (10 * side + 1, 6 * side + 1)


def _history(out: Path) -> list[dict[str, float]]:
    import json

    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_the_log_has_the_critics_probabilities_and_accuracy(tmp_path: Path) -> None:
    out = _run(tmp_path, "--steps", "4")
    from gancore.training._callbacks import _sigmoid

    for h in _history(out):
        assert 0 < h["p_real"] < 1 and 0 < h["p_fake"] < 1
        assert 0 <= h["d_accuracy"] <= 1
    np.testing.assert_allclose(_sigmoid(np.array([-800.0, 0.0, 800.0])), [0.0, 0.5, 1.0])
    from PIL import Image

    with Image.open(out / "losses.png") as image:
        assert image.size[0] == 1500  # three panels: losses, critic outputs, probabilities


def test_the_probe_is_what_the_critic_says_on_its_held_images(tmp_path: Path) -> None:
    from gancore.data import load_digits
    from gancore.training import CriticProbe, GANTrainer, TrainConfig
    from gancore.training._callbacks import _sigmoid

    data = load_digits()
    trainer = GANTrainer(dcgan(data.shape, latent_dim=8), data,
                         TrainConfig(steps=2, batch_size=8, loss="minimax"), backend="torch")
    probe = CriticProbe(size=16)
    probe.on_train_begin(trainer, 2)
    metrics: dict[str, float] = {}
    probe.on_step_end(trainer, 1, metrics)
    real = probe._logits(trainer, probe.real, None)
    assert real.shape == (16,)
    assert metrics["p_real"] == pytest.approx(float(np.mean(_sigmoid(real))))
    fake = probe._logits(trainer, trainer.sample(16, noise=trainer.fixed_noise[:16]), None)
    accuracy = (np.sum(real > 0) + np.sum(fake < 0)) / 32
    assert metrics["d_accuracy"] == pytest.approx(accuracy)


@pytest.mark.parametrize(("loss", "keys"), [("wasserstein", set()), ("hinge", {"d_accuracy"})])
def test_losses_without_probabilities_log_none(tmp_path: Path, loss: str,
                                               keys: set[str]) -> None:
    out = _run(tmp_path, "--steps", "2", "--loss", loss)
    assert {"p_real", "p_fake", "d_accuracy"} & set(_history(out)[-1]) == keys


def test_tensorboard_events_hold_the_logged_metrics(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    out = _run(tmp_path, "--steps", "4", "--tensorboard")
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    raw = events[0].read_bytes()
    for tag in (b"loss/d_loss", b"loss/g_loss", b"critic/p_real", b"critic/d_accuracy",
                b"samples"):
        assert tag in raw, tag
    import json

    assert json.loads((out / "run.json").read_text())["tensorboard"] is True


def test_tensorboard_without_tensorboardx_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from gancore import InvalidArgumentError
    from gancore.training import TensorBoardLog

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(InvalidArgumentError, match=r'pip install "gancore\[tensorboard\]"'):
        TensorBoardLog(tmp_path)


def test_epochs_set_the_length_and_the_frequencies(tmp_path: Path) -> None:
    import json

    # 1797 digits in batches of 8: 224 steps an epoch; a tenth of one is 23 steps.
    out = _run(tmp_path, "--epochs", "0.1", "--sample-every-epochs", "0",
               "--checkpoint-every-epochs", "0")
    record = json.loads((out / "run.json").read_text())
    assert record["steps"] == 23 and record["epochs"]["steps_per_epoch"] == 224
    assert record["settings"]["config"]["steps"] == 23
    assert record["settings"]["config"]["sample_every"] == 0


def test_epochs_in_steps() -> None:
    from gancore import InvalidArgumentError
    from gancore.training import Epochs, TrainConfig, steps_per_epoch

    cfg = TrainConfig(batch_size=64, n_critic=5)
    assert steps_per_epoch(60000, cfg) == 187  # 60000 // 320
    out = Epochs(epochs=2, sample_every=1, checkpoint_every=15).apply(cfg, range(60000))
    assert (out.steps, out.sample_every, out.checkpoint_every) == (374, 187, 15 * 187)
    assert Epochs().apply(cfg, range(10)) is cfg
    with pytest.raises(InvalidArgumentError, match="'epochs' must be None or a number > 0"):
        Epochs(epochs=0)
    with pytest.raises(InvalidArgumentError, match="epochs need data of known size"):
        Epochs(epochs=1).apply(cfg, iter(()))


def test_epochs_and_steps_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from gancore.cli import main

    assert main(["train", "--epochs", "1", "--steps", "5", "--no-progress"]) == 2
    assert "--epochs and --steps cannot both be given" in capsys.readouterr().err
    assert main(["train", "--epochs", "-1"]) == 2
    assert "must be a number > 0; received '-1'" in capsys.readouterr().err
