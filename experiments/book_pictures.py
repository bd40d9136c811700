"""The pictures and numbers of docs/experiments.md, from short real runs of the books' recipes.

Each experiment runs one ``gancore train`` command (printed before it runs) on one thread
(``GANCORE_THREADS=1``), times the whole command, and copies its pictures into
``docs/images/experiments-*``:

- ``mnist-dcgan``: the DCGAN on the MNIST files of ``--data`` for 3 epochs with a grid each
  epoch (the final grid, the loss plot and the progress GIF of the epoch grids).
- ``sgan``: the SGAN with 100 labels. Its test accuracy needs a training split and a test
  split; where ``--data`` holds the test files only (``t10k-*``), the script writes two
  disjoint halves of them as a training and a test split in MNIST's format under ``--work``.
- ``cyclegan``: cyclegan-folders between two MNIST-derived folders under ``--work`` (digits;
  other digits inverted, unpaired) at 32x32 (``book_pictures.cyclegan.toml``); held-out
  digits are translated with ``gancore sample --input`` into the picture.
- ``timing``: a few steps of each full-size recipe whose data is not on this machine
  (Fashion-MNIST, CIFAR-10, the flowers, 128x128 CycleGAN folders) on stand-in files of the
  same format and shape (MNIST digits for Fashion-MNIST, random pixels for the others), for
  the ms a step that the full runs' estimates multiply. Makes no pictures.

Results (commands, wall times, steps, ms a step, the full runs' estimates):
``experiments/results/book_pictures/runs.json``; a table on stdout.

    python experiments/book_pictures.py --data ../shared/data/mnist
    python experiments/book_pictures.py --data ../shared/data/mnist --only sgan
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
RESULTS = ROOT / "experiments" / "results" / "book_pictures" / "runs.json"
CYCLEGAN_TOML = Path(__file__).resolve().parent / "book_pictures.cyclegan.toml"
EXPERIMENTS = ("mnist-dcgan", "sgan", "cyclegan", "timing")

#: The full runs' lengths in steps: the recipes' own, or 50 epochs of the real training set
#: (Fashion-MNIST 60,000 images, CIFAR-10 50,000, batch 128).
FULL_STEPS = {"mnist-dcgan": 3000, "mnist-sgan": 3000, "cyclegan-folders": 20000,
              "fashion-mnist-dcgan": 50 * (60000 // 128), "cifar10-dcgan": 50 * (50000 // 128),
              "flowers-cgan": 5000, "flowers-wgan-gp": 5000}


def gancore(args: list[str], work: Path) -> float:
    """Run ``gancore ARGS`` on one thread in `work`; the command's wall time in seconds."""
    print("$ gancore " + shlex.join(args), flush=True)
    env = {**os.environ, "GANCORE_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gancore", *args], check=True, cwd=work, env=env)
    return time.perf_counter() - start


def train(name: str, args: list[str], out: Path, work: Path, full_size: bool = True
          ) -> dict[str, Any]:
    """``gancore train ARGS --no-progress --out OUT`` and what its run.json says; with
    `full_size` (the recipe's networks and images) the full run's estimate too."""
    if out.exists():
        shutil.rmtree(out)
    command = ["train", *args, "--no-progress", "--out", str(out)]
    wall = gancore(command, work)
    record = json.loads((out / "run.json").read_text())
    steps, seconds = record["steps"], record["seconds"]
    recipe = record["recipe"]
    ms = 1000 * seconds / steps
    full = FULL_STEPS.get(recipe) if full_size else None
    return {"experiment": name, "recipe": recipe, "command": "gancore " + shlex.join(command),
            "steps": steps, "wall_s": round(wall, 1), "train_s": seconds,
            "ms_per_step": round(ms, 1), "full_steps": full,
            "full_hours": None if full is None else round(full * ms / 3.6e6, 2),
            "split": record["settings"]["dataset_options"].get("split"),
            "metrics": record["metrics"]}


def mnist_dcgan(data: Path, work: Path) -> dict[str, Any]:
    out = work / "mnist-dcgan"
    row = train("mnist-dcgan", ["--recipe", "mnist-dcgan", "--data", str(data), "--epochs",
                                "3", "--sample-every-epochs", "1"], out, work)
    steps = row["steps"]
    shutil.copyfile(out / "samples.png", IMAGES / f"experiments-mnist-dcgan-{steps}.png")
    shutil.copyfile(out / "losses.png", IMAGES / f"experiments-mnist-dcgan-{steps}-losses.png")
    shutil.copyfile(out / "progress.gif", IMAGES / "experiments-mnist-dcgan-progress.gif")
    row["grids"] = sorted(p.name for p in out.glob("samples_*.png"))
    return row


def write_idx(path: Path, array: np.ndarray) -> None:
    """`array` (uint8) as a gzipped IDX file, MNIST's format."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array).tobytes(), mtime=0))


def mnist_splits(data: Path, work: Path) -> Path:
    """A folder with MNIST's training and test files: `data`'s own, or where it holds the
    test files only, their two halves (stratified, seed 0) as a training and a test split."""
    from gancore.data import load_mnist

    if any(data.glob("train-images-idx3-ubyte*")):
        return data
    folder = work / "mnist-halves"
    folder.mkdir(parents=True, exist_ok=True)
    halves = load_mnist(data).split(0.5, seed=0)
    for prefix, part in zip(("train", "t10k"), halves, strict=True):
        assert part.labels is not None
        pixels = np.rint((part.images[..., 0] + 1) * 127.5).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", pixels)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", part.labels.astype(np.uint8))
    return folder


def sgan(data: Path, work: Path, steps: int) -> dict[str, Any]:
    folder = mnist_splits(data, work)
    out = work / "mnist-sgan"
    row = train("sgan", ["--recipe", "mnist-sgan", "--data", str(folder), "--steps",
                         str(steps)], out, work)
    shutil.copyfile(out / "samples.png", IMAGES / f"experiments-mnist-sgan-{row['steps']}.png")
    return row


def cyclegan_folders(data: Path, work: Path) -> tuple[Path, Path, Path]:
    """Domain A: 500 MNIST digits; domain B: 500 other digits inverted (white background);
    and a folder of 16 held-out digits of domain A (the last 16)."""
    from PIL import Image

    from gancore.data import load_mnist

    images = load_mnist(data).images
    folders = (work / "digits", work / "inverted", work / "held-out")
    for folder, part, sign in zip(folders, (images[:500], images[500:1000], images[-16:]),
                                  (1, -1, 1), strict=True):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for i, image in enumerate(part):
            pixels = np.rint((sign * image[..., 0] + 1) * 127.5).astype(np.uint8)
            Image.fromarray(pixels, "L").save(folder / f"{i:04d}.png")
    return folders


def cyclegan(data: Path, work: Path, steps: int) -> dict[str, Any]:
    from gancore.data import load_image_files
    from gancore.training import save_samples

    folder_a, folder_b, held = cyclegan_folders(data, work)
    out = work / "cyclegan"
    row = train("cyclegan", ["--recipe", "cyclegan-folders", "--data-a", str(folder_a),
                             "--data-b", str(folder_b), "--steps", str(steps), "--config",
                             str(CYCLEGAN_TOML)], out, work, full_size=False)
    # The held-out digits read as the training folders are (32x32), translated A -> B.
    inputs = load_image_files(held, size=(32, 32), channels=1).images
    np.save(work / "held-out.npy", inputs)
    translated = work / "translated.npy"
    row["translate_command"] = "gancore " + shlex.join(
        ["sample", "--checkpoint", str(out / "checkpoint"), "--input",
         str(work / "held-out.npy"), "--out", str(translated)])
    gancore(shlex.split(row["translate_command"])[1:], work)
    outputs = np.load(translated)
    pairs = np.stack([inputs, outputs], axis=1).reshape(-1, *inputs.shape[1:])
    save_samples(IMAGES / f"experiments-cyclegan-mnist-{row['steps']}.png", pairs, columns=8)
    shutil.copyfile(out / "losses.png",
                    IMAGES / f"experiments-cyclegan-mnist-{row['steps']}-losses.png")
    return row


def stand_in_data(work: Path) -> dict[str, Path]:
    """Random-pixel files in CIFAR-10's format (1,280 images), in class sub-folders at 64x64
    (two classes of 130) and in a folder of 128x128 images: only their shapes matter."""
    import pickle

    from PIL import Image

    rng = np.random.default_rng(0)
    cifar = work / "stand-in" / "cifar-10-batches-py"
    cifar.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        batch = {b"data": rng.integers(0, 256, (256, 3072), dtype=np.uint8),
                 b"labels": [int(k) for k in rng.integers(0, 10, 256)]}
        (cifar / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=4))
    (cifar / "batches.meta").write_bytes(pickle.dumps(
        {b"label_names": [f"class{k}".encode() for k in range(10)]}, protocol=4))
    flowers, photos = work / "stand-in" / "flowers", work / "stand-in" / "photos"
    for folder, side, count in ((flowers / "a", 64, 130), (flowers / "b", 64, 130),
                                (photos, 128, 8)):
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(folder / f"{i:04d}.png")
    return {"cifar": cifar, "flowers": flowers, "photos": photos}


def timing(data: Path, work: Path, steps: int) -> list[dict[str, Any]]:
    """Each recipe twice, `n` and `3n` steps: the difference of the two runs' training
    seconds over `2n` steps is the ms a step, without the fixed costs of a run (the first
    step's warm-up, the last grid and checkpoint)."""
    files = stand_in_data(work)
    runs = [("fashion-mnist-dcgan", ["--data", str(data)], 4 * steps),
            ("cifar10-dcgan", ["--data", str(files["cifar"])], 4 * steps),
            ("cyclegan-folders", ["--data-a", str(files["photos"]), "--data-b",
                                  str(files["photos"])], 4 * steps),
            ("flowers-cgan", ["--data", str(files["flowers"])], steps),
            ("flowers-wgan-gp", ["--data", str(files["flowers"])], steps)]
    rows = []
    for recipe, data_args, n in runs:
        short, long = (train("timing", ["--recipe", recipe, *data_args, "--steps", str(k)],
                             work / f"timing-{recipe}", work) for k in (n, 3 * n))
        ms = 1000 * (long["train_s"] - short["train_s"]) / (2 * n)
        full = FULL_STEPS[recipe]
        rows.append({**long, "short_run": {k: short[k] for k in ("steps", "train_s")},
                     "ms_per_step": round(ms, 1), "full_steps": full,
                     "full_hours": round(full * ms / 3.6e6, 2)})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a folder of MNIST files")
    p.add_argument("--work", type=Path, default=Path("/tmp/gancore-book-pictures"),
                   help="where the runs and the derived folders go (outside the project)")
    p.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS))
    p.add_argument("--sgan-steps", type=int, default=400)
    p.add_argument("--cyclegan-steps", type=int, default=2000)
    p.add_argument("--timing-steps", type=int, default=1,
                   help="n: the 64x64 flowers recipes are timed over n and 3n steps, the "
                   "others over 4n and 12n")
    args = p.parse_args()
    data, work = args.data.resolve(), args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    if "mnist-dcgan" in args.only:
        rows.append(mnist_dcgan(data, work))
    if "sgan" in args.only:
        rows.append(sgan(data, work, args.sgan_steps))
    if "cyclegan" in args.only:
        rows.append(cyclegan(data, work, args.cyclegan_steps))
    if "timing" in args.only:
        rows += timing(data, work, args.timing_steps)
    kept = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    redone = {(r["experiment"], r["recipe"]) for r in rows}
    write_json(RESULTS, [r for r in kept if (r["experiment"], r["recipe"]) not in redone]
               + rows)
    print(markdown_table(
        ["experiment", "recipe", "steps", "wall s", "train s", "ms/step", "full steps",
         "full h"],
        [[r["experiment"], r["recipe"], r["steps"], r["wall_s"], r["train_s"],
          r["ms_per_step"], r["full_steps"], r["full_hours"]] for r in rows]))


if __name__ == "__main__":
    main()
