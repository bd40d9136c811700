"""The command line: every recipe trains from `gancore train` on every backend, a TOML file
sets what flags set, and `gancore sample` draws from a checkpoint on any backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import MNIST_DIR, load_backend

from gancore.cli import main
from gancore.training import RECIPES

MNIST = MNIST_DIR


def _train(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-progress", *args]) == 0
    return out


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_trains_from_the_cli(backend: Any, recipe: str, tmp_path: Path) -> None:
    args = ["--recipe", recipe, "--backend", backend.name, "--steps", "2", "--batch-size", "8"]
    if RECIPES[recipe].dataset in ("image_folder", "cifar10"):
        pytest.skip("trained on generated files in tests/test_recipes_books.py")
    if RECIPES[recipe].dataset == "image_files":
        pytest.skip("trained on generated folders in tests/test_cyclegan_folders.py")
    if RECIPES[recipe].dataset in ("mnist", "fashion_mnist"):  # one file format
        if not MNIST.is_dir():
            pytest.skip(f"no MNIST files at {MNIST}")
        args += ["--data", str(MNIST)]
    out = _train(tmp_path, *args)
    summary = json.loads((out / "run.json").read_text())
    assert summary["recipe"] == recipe and summary["backend"] == backend.name
    assert summary["steps"] == 2
    assert all(np.isfinite(v) for v in summary["metrics"].values())
    for name in ("samples.png", "losses.png", "metrics.jsonl", "checkpoint/meta.json",
                 "checkpoint/arrays.npz"):
        assert (out / name).is_file(), name
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 2


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_trains_on_jax_from_the_cli(recipe: str, tmp_path: Path) -> None:
    """The same run and checks on the JAX backend (not in the `backend` fixture's
    frameworks); the recipes on generated files train on JAX in tests/test_jax_recipes.py."""
    if RECIPES[recipe].dataset in ("image_folder", "cifar10", "image_files"):
        pytest.skip("trained on JAX on generated files in tests/test_jax_recipes.py")
    test_every_recipe_trains_from_the_cli(load_backend("jax"), recipe, tmp_path)


def test_a_toml_file_sets_what_flags_set(backend: Any, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'recipe = "wgan-gp"\nsteps = 3\nseed = 5\n'
        f'backend = "{backend.name}"\n'
        "[train]\nbatch_size = 8\nlog_every = 1\n"
        "critic_optimizer = { lr = 2e-4, beta1 = 0.0, beta2 = 0.9 }\n"
        '[architecture]\nnorm = "instance"\n'
    )
    out = _train(tmp_path, "--config", str(config), "--steps", "2")  # the flag wins
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["step"] == 2 and meta["backend"] == backend.name
    assert meta["config"]["batch_size"] == 8 and meta["config"]["seed"] == 5
    assert meta["config"]["critic_optimizer"]["lr"] == 2e-4
    assert meta["config"]["critic_optimizer"]["beta2"] == 0.9
    assert meta["config"]["generator_optimizer"]["lr"] == 1e-4  # the recipe's
    assert "norm_instance" in meta["architecture"]["name"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_sample_draws_the_same_images_on_every_backend(tmp_path: Path) -> None:
    from _helpers import ALL_FRAMEWORKS, load_backend

    for name in ALL_FRAMEWORKS:
        load_backend(name)
    out = _train(tmp_path, "--recipe", "cgan", "--backend", "torch", "--steps", "2",
                 "--batch-size", "8")
    arrays = {}
    for name in ("numpy", *ALL_FRAMEWORKS):
        target = tmp_path / f"{name}.npy"
        assert main(["sample", "--checkpoint", str(out / "checkpoint"), "--n", "5",
                     "--label", "4", "--seed", "2", "--out", str(target),
                     "--backend", name]) == 0
        arrays[name] = np.load(target)
    assert arrays["numpy"].shape == (5, 8, 8, 1)
    for name in ALL_FRAMEWORKS:
        np.testing.assert_allclose(arrays[name], arrays["numpy"], rtol=1e-4, atol=1e-5)
    grid = tmp_path / "grid.png"
    assert main(["sample", "--checkpoint", str(out / "checkpoint"), "--n", "9",
                 "--out", str(grid)]) == 0
    assert grid.stat().st_size > 100


def test_recipes_lists_every_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes"]) == 0
    listed = capsys.readouterr().out
    for name in RECIPES:
        assert name in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--recipe", "nope"], "recipe must be one of dcgan"),
        (["train", "--recipe", "mnist-dcgan", "--steps", "1"], "needs a folder"),
        (["train", "--config", "/nonexistent.toml"], "config file not found"),
        (["sample", "--checkpoint", "/nonexistent", "--out", "x.png"],
         "must be a gancore checkpoint folder"),
    ],
)
def test_bad_commands_print_a_gancore_error(args: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANCORE_MNIST", raising=False)
    assert main(args) == 2
    assert message in capsys.readouterr().err
