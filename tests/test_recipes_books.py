"""The books' experiments as gancore runs them: the MNIST recipes train on the training
split when its files are there (and say so when they fall back to the test split), the
label-flip recipe flips with factor 0.5, image folders train from the command line, run
folders are named after the overrides and record them, and `gancore eval` scores its
baseline at the samples' count."""

from __future__ import annotations

import gzip
import json
import pickle
import re
import shlex
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import MNIST_DIR
from PIL import Image

from gancore import InvalidArgumentError
from gancore.cli import _parser, main
from gancore.data import load_digits, load_mnist
from gancore.evaluation import ClassifierSettings, evaluate
from gancore.training import RECIPES, load_checkpoint
from gancore.training._recipes import load_dataset, resolved

needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files at {MNIST_DIR}")


def _idx_pair(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write `images` (uint8, N x 28 x 28) and `labels` as gzip IDX files `<prefix>-*`."""
    header = np.array([0x803, len(images), 28, 28], ">u4").tobytes()
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(np.array([0x801, len(labels)], ">u4").tobytes() + labels.astype(np.uint8).tobytes())


@pytest.fixture()
def both_splits(tmp_path: Path) -> Path:
    """A folder with a 30-image training split (all pixels 255) and a 20-image test split
    (all 0), so that which one was read shows in the pixels."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    _idx_pair(folder, "train", np.full((30, 28, 28), 255), np.arange(30) % 10)
    _idx_pair(folder, "t10k", np.zeros((20, 28, 28)), np.arange(20) % 10)
    return folder


def test_mnist_recipes_train_on_the_training_split_when_it_is_there(both_splits: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning when the training split is there
        rec = resolved(RECIPES["mnist-dcgan"].with_overrides(
            dataset_options={"folder": str(both_splits)}))
        data = load_dataset(rec.dataset, rec.dataset_options)
    assert rec.dataset_options["split"] == "train"
    assert len(data) == 30 and float(data.images.min()) == 1.0


def test_mnist_recipes_say_when_they_fall_back_to_the_test_split(both_splits: Path) -> None:
    for path in both_splits.glob("train-labels*"):
        path.unlink()  # half a training split is no training split
    with pytest.warns(UserWarning, match="no training split.*using its test split"):
        rec = resolved(RECIPES["mnist-cgan"].with_overrides(
            dataset_options={"folder": str(both_splits)}))
    assert rec.dataset_options["split"] == "test"
    assert len(load_dataset(rec.dataset, rec.dataset_options)) == 20


def test_an_explicit_split_is_kept_and_a_wrong_one_named(both_splits: Path) -> None:
    assert len(load_mnist(both_splits, split="test")) == 20
    assert len(load_mnist(both_splits, split="auto")) == 30
    with pytest.raises(InvalidArgumentError, match="split must be one of 'train', 'test', "
                                                   "'auto'; received 'validation'"):
        load_mnist(both_splits, split="validation")


def test_a_run_records_the_split_it_trained_on(both_splits: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--recipe", "mnist-dcgan", "--data", str(both_splits), "--steps", "1",
                 "--batch-size", "4", "--backend", "torch", "--no-progress", "--out",
                 str(out)]) == 0
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["dataset_options"]["split"] == "train"
    assert settings["dataset_options"]["folder"] == str(both_splits)


@needs_mnist
def test_the_real_mnist_test_files_alone_train_with_a_clear_warning(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="using its test split"):
        rec = resolved(RECIPES["mnist-dcgan"].with_overrides(
            dataset_options={"folder": str(MNIST_DIR)}))
    assert len(load_dataset(rec.dataset, rec.dataset_options)) == 10_000


def test_the_label_flip_recipe_flips_with_factor_one_half() -> None:
    rec = RECIPES["gan-label-flip"]
    assert rec.config.flip_fraction == 0.5 and "0.5" in rec.description


def _image_folder(root: Path, classes: int = 2, per_class: int = 4, side: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for k in range(classes):
        (root / f"class{k}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{k}" / f"{i}.png")
    return root


def test_train_on_an_image_folder_from_the_cli(tmp_path: Path) -> None:
    folder = _image_folder(tmp_path / "images")
    out = tmp_path / "run"
    assert main(["train", "--dataset", "image_folder", "--data", str(folder), "--steps", "1",
                 "--batch-size", "4", "--backend", "torch", "--no-progress", "--out",
                 str(out)]) == 0
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["dataset"] == "image_folder"
    assert settings["dataset_options"]["folder"] == str(folder)


def test_override_runs_get_their_own_folder_and_record_the_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["train", "--steps", "1", "--batch-size", "4", "--backend", "torch", "--no-progress"]
    assert main([*args, "--loss", "hinge"]) == 0
    assert main([*args, "--arch", "vanilla"]) == 0
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["dcgan-hinge-torch", "dcgan-vanilla-torch"]
    hinge = json.loads((runs / "dcgan-hinge-torch" / "run.json").read_text())["settings"]
    assert hinge["config"]["loss"] == "hinge" and hinge["architecture"] == "dcgan"
    vanilla = json.loads((runs / "dcgan-vanilla-torch" / "run.json").read_text())["settings"]
    assert vanilla["architecture"] == "vanilla" and vanilla["config"]["loss"] == "nonsaturating"
    assert not (runs / "dcgan-torch").exists()


def test_eval_scores_the_baseline_at_the_samples_count(tmp_path: Path) -> None:
    data = load_digits()
    samples = data.images[:300]
    settings = ClassifierSettings(steps=20, backend="torch")
    report = evaluate(samples, "digits", classifier=settings, cache_dir=tmp_path)
    assert report.num_samples == 300 and report.baseline_samples == 300
    shown = report.table()
    assert "samples (n=300)" in shown and "real baseline (n=300)" in shown
    assert "300 (as many as the samples)" in shown
    # More samples than the held-out half: all of it, and the table says so.
    many = evaluate(data.images, "digits", num_samples=1797, classifier=settings,
                    cache_dir=tmp_path)
    assert many.num_samples == 1797 and many.baseline_samples == 899
    assert "899 (all there are: fewer than the 1,797 samples)" in many.table()
    assert many.to_dict()["baseline_samples"] == 899


def test_the_baseline_coverage_depends_on_the_count_it_is_scored_at(tmp_path: Path) -> None:
    """Why the count matters: the same real images score lower coverage at fewer points."""
    data = load_digits()
    settings = ClassifierSettings(steps=20, backend="torch")
    few = evaluate(data.images[:100], "digits", classifier=settings, cache_dir=tmp_path)
    full = evaluate(data.images[:899], "digits", classifier=settings, cache_dir=tmp_path)
    assert few.baseline.prdc.coverage < full.baseline.prdc.coverage



# -- the books' experiments as recipes, on small generated data -----------------------------


@pytest.mark.parametrize("recipe", ["flowers-cgan", "flowers-wgan-gp"])
def test_the_flowers_recipes_train_on_class_sub_folders(recipe: str, tmp_path: Path) -> None:
    from gancore.training import train

    folder = _image_folder(tmp_path / "flowers", classes=3, per_class=4, side=20)
    result = train(recipe, backend="torch", steps=2, progress=False, out_dir=tmp_path / "run",
                   config={"batch_size": 4},
                   dataset_options={"folder": str(folder), "size": [16, 16]})
    trainer, cfg = result.trainer, result.trainer.config
    assert cfg.hflip and cfg.batch_size == 4
    if recipe == "flowers-cgan":
        # The class count comes from the sub-folders; half of the real labels are flipped.
        assert trainer.num_classes == 3 and cfg.flip_fraction == 0.5
        assert RECIPES[recipe].config.batch_size == 128
        assert RECIPES[recipe].architecture_options["input_dropout"] == 0.25
    else:
        assert (cfg.n_critic, cfg.gradient_penalty) == (5, 10.0)
        assert (cfg.critic_optimizer.lr, cfg.generator_optimizer.lr) == (2e-4, 1e-3)
        assert (cfg.critic_optimizer.beta1, cfg.critic_optimizer.beta2) == (0.0, 0.9)
    assert (result.out_dir / "samples.png").is_file()


def test_the_flowers_cgan_refuses_a_folder_of_one_class(tmp_path: Path) -> None:
    from gancore.training import train

    folder = _image_folder(tmp_path / "one", classes=1, per_class=4)
    with pytest.raises(InvalidArgumentError, match="labelled data of 2 or more classes"):
        train("flowers-cgan", backend="torch", steps=1, progress=False,
              out_dir=tmp_path / "run", dataset_options={"folder": str(folder),
                                                         "size": [16, 16]})


def test_the_report_dcgan_runs_in_epochs_with_a_grid_each(both_splits: Path,
                                                          tmp_path: Path) -> None:
    from gancore.training import Epochs, train

    # The recipe's own frequencies (a grid every epoch, a checkpoint every 15) over a run of
    # 16 epochs of 30 images in batches of 10: 3 steps an epoch.
    result = train("fashion-mnist-dcgan", backend="torch", progress=False,
                   out_dir=tmp_path / "run", config={"batch_size": 10},
                   dataset_options={"folder": str(both_splits)},
                   epochs=Epochs(epochs=16, sample_every=1, checkpoint_every=15))
    out = result.out_dir
    assert result.trainer.step == 48
    grids = sorted(p.name for p in out.glob("samples_*.png"))
    assert grids[:2] == ["samples_000003.png", "samples_000006.png"] and len(grids) == 16
    assert sorted(p.name for p in (out / "checkpoints").iterdir())[-2:] == [
        "step-00000045", "step-00000048"]
    assert (out / "progress.gif").is_file()
    record = json.loads((out / "run.json").read_text())
    assert record["epochs"]["steps_per_epoch"] == 3
    assert RECIPES["fashion-mnist-dcgan"].epochs == Epochs(50, 1, 15)


def test_a_recipes_epochs_give_way_to_steps(both_splits: Path, tmp_path: Path) -> None:
    from gancore.training import train

    result = train("fashion-mnist-dcgan", backend="torch", steps=4, progress=False,
                   out_dir=tmp_path / "run", config={"batch_size": 10},
                   dataset_options={"folder": str(both_splits)})
    assert result.trainer.step == 4
    assert result.trainer.config.sample_every == 3  # still a grid every epoch


def test_the_mnist_sgan_reports_its_test_accuracy(both_splits: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--recipe", "mnist-sgan", "--data", str(both_splits), "--steps", "2",
                 "--batch-size", "10", "--backend", "torch", "--no-progress", "--out",
                 str(out), "--config", str(_toml(tmp_path, "[train]\nnum_labeled = 20\n"))]) == 0
    assert "test_accuracy" in capsys.readouterr().out
    metrics = json.loads((out / "run.json").read_text())["metrics"]
    # The test split's images are all black, the training split's all white: the critic's
    # accuracy on the 20 test images is a multiple of 1/20.
    assert 0 <= metrics["test_accuracy"] <= 1
    assert metrics["test_accuracy"] * 20 == pytest.approx(round(metrics["test_accuracy"] * 20))


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def _cifar_folder(root: Path, sizes: tuple[int, ...] = (2, 2, 2, 1, 1)) -> Path:
    """A `cifar-10-batches-py` folder as the official archive unpacks: `data_batch_1` ...
    `_5` (random pixels, `sizes` images each) and `batches.meta`, as numpy 2 pickles them."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, n in enumerate(sizes, start=1):
        batch = {b"batch_label": f"training batch {i} of 5".encode(),
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [(i + k) % 10 for k in range(n)]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=4))
    names = {b"label_names": [f"class{k}".encode() for k in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(names, protocol=4))
    return folder


def test_the_cifar10_dcgan_trains_from_the_cli_in_epochs(backend: Any, tmp_path: Path) -> None:
    # 8 training images in batches of 8: one step an epoch. --epochs sets the length, the
    # recipe keeps its grid every epoch, --checkpoint-every-epochs replaces its 15.
    folder = _cifar_folder(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--recipe", "cifar10-dcgan", "--data", str(folder), "--epochs",
                 "2", "--checkpoint-every-epochs", "1", "--batch-size", "8", "--backend",
                 backend.name, "--no-progress", "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text())
    assert (record["recipe"], record["backend"]) == ("cifar10-dcgan", backend.name)
    assert record["status"] == "finished" and record["steps"] == 2
    assert record["epochs"] == {"epochs": 2, "sample_every": 1, "checkpoint_every": 1,
                                "steps_per_epoch": 1}
    settings = record["settings"]
    assert settings["dataset"] == "cifar10" and settings["architecture"] == "dcgan"
    assert settings["dataset_options"]["folder"] == str(folder)
    assert (settings["config"]["sample_every"], settings["config"]["checkpoint_every"]) == (1, 1)
    assert all(np.isfinite(v) for v in record["metrics"].values())
    # 64 fixed-noise samples, 32x32 RGB enlarged twice, 8 a row with 1-pixel gaps.
    with Image.open(out / "samples.png") as grid:
        assert grid.mode == "RGB" and grid.size == (8 * 65 + 1, 8 * 65 + 1)
        assert np.ptp(np.asarray(grid)) > 0
    assert sorted(p.name for p in out.glob("samples_*.png")) == [
        "samples_000001.png", "samples_000002.png"]
    with Image.open(out / "progress.gif") as gif:
        assert gif.n_frames >= 2  # the two epochs' grids (the end's is the second again)
    assert {"step-00000001", "step-00000002"} <= {p.name for p in (out / "checkpoints").iterdir()}
    ckpt = load_checkpoint(out / "checkpoint")
    assert ckpt.step == 2
    samples = ckpt.sample(3, seed=0)
    assert samples.shape == (3, 32, 32, 3) and np.abs(samples).max() <= 1


def test_a_recipes_epoch_grids_stay_when_the_cli_sets_the_steps(tmp_path: Path) -> None:
    folder = _cifar_folder(tmp_path)
    args = ["train", "--recipe", "cifar10-dcgan", "--data", str(folder), "--steps", "3",
            "--batch-size", "8", "--backend", "torch", "--no-progress", "--out"]
    assert main([*args, str(tmp_path / "run")]) == 0
    run = tmp_path / "run"
    assert sorted(p.name for p in run.glob("samples_*.png")) == [
        "samples_000001.png", "samples_000002.png", "samples_000003.png"]
    record = json.loads((run / "run.json").read_text())
    assert record["steps"] == 3 and record["epochs"]["steps_per_epoch"] == 1
    assert record["settings"]["config"]["checkpoint_every"] == 15  # the recipe's 15 epochs
    # A frequency given in steps replaces the recipe's in epochs.
    assert main([*args, str(tmp_path / "other"), "--sample-every", "2"]) == 0
    assert [p.name for p in (tmp_path / "other").glob("samples_*.png")] == ["samples_000002.png"]


EXPERIMENTS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "experiments.md"


def test_the_experiments_pages_commands_parse_and_its_pictures_are_there() -> None:
    # Every `gancore train` / `sample` command on the page (inline or a line of a code block)
    # is one the CLI accepts, with a recipe and a config file that exist; every picture it
    # shows is a small file, and every experiments-* picture in docs/images is shown.

    text = EXPERIMENTS_PAGE.read_text()
    commands = re.findall(r"`(gancore (?:train|sample) [^`]+)`", text)
    commands += re.findall(r"^(gancore (?:train|sample) [^`\n]+)$", text, flags=re.MULTILINE)
    assert len(commands) >= 12
    parser = _parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])
        if args.command == "train":
            assert args.recipe in RECIPES, command
            assert args.config is None or Path(EXPERIMENTS_PAGE.parents[1], args.config).is_file()
    shown = set(re.findall(r"\]\(images/([^)]+)\)", text))
    assert shown, "the page shows no picture"
    for name in shown:
        path = EXPERIMENTS_PAGE.parent / "images" / name
        assert path.is_file() and path.stat().st_size < 1_000_000, name
    made = {p.name for p in (EXPERIMENTS_PAGE.parent / "images").glob("experiments-*")}
    assert made <= shown, f"not shown on the page: {sorted(made - shown)}"
