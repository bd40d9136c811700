"""CycleGAN between two folders of unpaired images (`--data-a` / `--data-b`, the
`cyclegan-folders` recipe) and the CycleGAN paper's ResNet generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gancore import InvalidArgumentError
from gancore.architectures import cyclegan
from gancore.data import load_image_files
from gancore.nn import ConvTranspose2D, forward_numpy
from gancore.nn import init_state as init
from gancore.training import load_checkpoint


def _folder(root: Path, colour: tuple[int, int, int], n: int, nested: bool = False) -> Path:
    rng = np.random.default_rng(sum(colour))
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        where = root / ("sub" if nested and i % 2 else "")
        where.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(rng.normal(colour, 30, (20, 24, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(where / f"{i}.png")
    (root / "notes.txt").write_text("not an image")
    return root


def test_a_folder_of_images_loads_unlabelled_and_resized(tmp_path: Path) -> None:
    data = load_image_files(_folder(tmp_path / "apples", (200, 30, 30), 5, nested=True),
                            size=(16, 16))
    assert data.images.shape == (5, 16, 16, 3) and data.labels is None
    assert data.name == "apples" and -1 <= data.images.min() < data.images.max() <= 1
    assert data.images[..., 0].mean() > data.images[..., 2].mean()  # red, read as RGB
    with pytest.raises(InvalidArgumentError, match="at least one image"):
        load_image_files(_folder(tmp_path / "empty", (0, 0, 0), 0))


def test_cyclegan_trains_between_two_folders_from_the_cli(tmp_path: Path) -> None:
    a = _folder(tmp_path / "trainA", (220, 40, 40), 4)
    b = _folder(tmp_path / "trainB", (240, 160, 20), 6)
    (tmp_path / "small.toml").write_text(
        '[data]\nsize = [16, 16]\n[architecture]\nbase_filters = 8\ndepth = 2\n')
    env = {**os.environ, "GANCORE_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "gancore", "train", "--recipe", "cyclegan-folders", "--data-a",
         str(a), "--data-b", str(b), "--config", "small.toml", "--steps", "2",
         "--no-progress", "--out", "run"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    settings = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]
    assert settings["dataset_options"]["folder"] == str(a)
    assert settings["dataset_options"]["folder_b"] == str(b)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint")
    out = ckpt.translate(load_image_files(a, size=(16, 16)).images)
    assert out.shape == (4, 16, 16, 3) and np.isfinite(out).all()
    half = subprocess.run(
        [sys.executable, "-m", "gancore", "train", "--recipe", "cyclegan-folders", "--data-a",
         str(a), "--steps", "2", "--out", "other"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120)
    assert half.returncode == 2 and "--data-a and --data-b go together" in half.stderr


def test_the_resnet_generator_follows_the_paper() -> None:
    pair = cyclegan((32, 32, 3), generator="resnet", base_filters=(8, 8), depth=2)
    spec = pair.generator
    # c7s1-k, d2k, d4k, six residual blocks (32 < 256 pixels a side), u2k, uk, c7s1-3.
    adds = [n for n in spec.nodes if type(n.layer).__name__ == "Add"]
    ups = [n.layer for n in spec.nodes if isinstance(n.layer, ConvTranspose2D)]
    assert len(adds) == 6 and [u.filters for u in ups] == [16, 8]
    assert spec.output_shape == (32, 32, 3)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    y = forward_numpy(spec, init(spec, 0), x)
    assert y.shape == (2, 32, 32, 3) and np.abs(y).max() <= 1
    assert len([n for n in cyclegan((256, 256, 3), generator="resnet").generator.nodes
                if type(n.layer).__name__ == "Add"]) == 9
    assert pair.name.endswith("generator_resnet-resnet_blocks_6")
    with pytest.raises(InvalidArgumentError, match="generator must be 'unet' or 'resnet'"):
        cyclegan((32, 32, 3), generator="vgg")
    with pytest.raises(InvalidArgumentError, match="resnet_blocks needs generator='resnet'"):
        cyclegan((32, 32, 3), resnet_blocks=3)


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_the_resnet_generator_computes_alike_on_every_backend(name: str) -> None:
    from _helpers import load_backend

    backend = load_backend(name)
    spec = cyclegan((16, 16, 3), generator="resnet", base_filters=(4, 4), depth=2,
                    resnet_blocks=1).generator
    state = init(spec, 1)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    net = backend.build_network(spec, state, "cpu")
    got = backend.to_numpy(net(backend.to_native(x, "cpu"), training=True))
    want = forward_numpy(spec, state, x)  # instance norm: training and inference agree
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
