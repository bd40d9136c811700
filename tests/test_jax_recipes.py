"""The recipes whose data the tests generate (CIFAR-10 batches, a folder of class
sub-folders, two folders of unpaired images) train from `gancore train` on the JAX backend:
two steps at batch 8, the run's files written, and the checkpoint samples (or translates)
back. The other recipes train on JAX in tests/test_cli.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _helpers import load_backend
from test_cyclegan_folders import _folder
from test_recipes_books import _cifar_folder, _image_folder

from gancore.cli import main
from gancore.training import RECIPES, load_checkpoint

# 16 x 16 images and a narrow U-Net keep the compiles short; CIFAR-10 is 32 x 32 always.
SMALL = "[data]\nsize = [16, 16]\n"
SMALL_UNET = SMALL + "[architecture]\nbase_filters = 8\ndepth = 2\n"


def _cifar(root: Path) -> list[str]:
    """`cifar-10-batches-py` as the archive unpacks: five batches, 8 images in all."""
    return ["--data", str(_cifar_folder(root))]


def _class_folders(root: Path) -> list[str]:
    """Two class sub-folders of 4 images each (the flowers recipes' layout)."""
    folder = _image_folder(root / "flowers", classes=2, per_class=4, side=20)
    (root / "small.toml").write_text(SMALL)
    return ["--data", str(folder), "--config", str(root / "small.toml")]


def _two_folders(root: Path) -> list[str]:
    """Two folders of 8 unpaired images each (CycleGAN's domains)."""
    a, b = _folder(root / "trainA", (220, 40, 40), 8), _folder(root / "trainB", (240, 160, 20), 8)
    (root / "small.toml").write_text(SMALL_UNET)
    return ["--data-a", str(a), "--data-b", str(b), "--config", str(root / "small.toml")]


DATA: dict[str, Callable[[Path], list[str]]] = {
    "cifar10": _cifar, "image_folder": _class_folders, "image_files": _two_folders,
}
GENERATED = sorted(name for name, r in RECIPES.items() if r.dataset in DATA)


def test_every_recipe_on_generated_data_is_covered() -> None:
    # A new recipe on one of these datasets joins the test below by itself; one on a new
    # kind of files needs a maker here.
    assert GENERATED == ["cifar10-dcgan", "cyclegan-folders", "flowers-cgan",
                         "flowers-wgan-gp"]


@pytest.mark.parametrize("recipe", GENERATED)
def test_the_recipes_on_generated_data_train_on_jax(recipe: str, tmp_path: Path) -> None:
    load_backend("jax")
    data_args = DATA[RECIPES[recipe].dataset](tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--recipe", recipe, "--backend", "jax", "--steps", "2",
                 "--batch-size", "8", "--no-progress", "--out", str(out), *data_args]) == 0
    summary = json.loads((out / "run.json").read_text())
    assert (summary["recipe"], summary["backend"], summary["steps"]) == (recipe, "jax", 2)
    assert summary["status"] == "finished"
    assert all(np.isfinite(v) for v in summary["metrics"].values())
    for name in ("samples.png", "losses.png", "metrics.jsonl", "checkpoint/meta.json",
                 "checkpoint/arrays.npz"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2
    ckpt = load_checkpoint(out / "checkpoint")
    assert ckpt.step == 2
    side = 32 if recipe == "cifar10-dcgan" else 16
    if recipe == "cyclegan-folders":
        images = np.random.default_rng(0).uniform(-1, 1, (3, side, side, 3)).astype(np.float32)
        made = ckpt.translate(images)
    else:
        made = ckpt.sample(3, seed=0)
    assert made.shape == (3, side, side, 3)
    assert np.isfinite(made).all() and np.abs(made).max() <= 1
