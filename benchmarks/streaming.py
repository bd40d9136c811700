"""Does a streamed run keep the in-memory run's steps/s?

Trains the same DCGAN on MNIST 28 x 28 (the real test set, from the IDX files) on torch at
one thread, from memory and streamed (a memory-mapped ``.npy`` written to a temporary
folder, and an image folder of PNG files decoded as batches are drawn), in alternating
rounds so that a machine's changing load falls on every mode alike. Prints a table of
steps/s per mode (the median over rounds) and each mode's ratio to the in-memory run, and
writes them as JSON.

    python benchmarks/streaming.py --steps 200 --rounds 3 --out benchmarks/results/streaming.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gancore import backend as get_backend
from gancore.architectures import dcgan
from gancore.data import load_image_folder, load_mnist, load_npy
from gancore.training import TrainConfig, make_trainer

_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _write_sources(folder: Path, mnist: Any, folder_images: int) -> dict[str, Path]:
    from PIL import Image

    pixels = np.round((mnist.images + 1.0) * 127.5).astype(np.uint8)
    npy = folder / "npy"
    npy.mkdir()
    np.save(npy / "images.npy", pixels)
    np.save(npy / "labels.npy", mnist.labels)
    images = folder / "images"
    for i in range(folder_images):
        label = folder / "images" / str(mnist.labels[i])
        label.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i, :, :, 0]).save(label / f"{i:05d}.png")
    return {"npy": npy, "image_folder": images}


def _steps_per_second(data: Any, steps: int, batch_size: int, warmup: int) -> float:
    config = TrainConfig(batch_size=batch_size, steps=warmup + steps, log_every=warmup + steps)
    trainer = make_trainer(dcgan(data.shape, latent_dim=64), data, config, backend="torch",
                           callbacks=[])
    # First steps: allocations, kernel selection, the reader starting.
    trainer.fit(warmup, progress=False)
    start = time.perf_counter()
    trainer.fit(steps, progress=False)
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(_MNIST), help="folder of the MNIST IDX files")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--folder-images", type=int, default=10000,
                        help="images written to the image folder (of the 10,000)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    get_backend("torch").set_threads(1)
    memory = load_mnist(args.mnist)
    rates: dict[str, list[float]] = {"memory": [], "npy": [], "image_folder": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_sources(Path(tmp), memory, args.folder_images)
        sources = {
            "memory": lambda: memory,
            "npy": lambda: load_npy(paths["npy"], stream=True),
            "image_folder": lambda: load_image_folder(paths["image_folder"], (28, 28),
                                                      channels=1, stream=True),
        }
        for round_ in range(args.rounds):
            for mode, source in sources.items():
                rate = _steps_per_second(source(), args.steps, args.batch_size, args.warmup)
                rates[mode].append(rate)
                print(f"round {round_ + 1}/{args.rounds}  {mode:<13} {rate:6.2f} steps/s",
                      flush=True)
    median = {mode: statistics.median(r) for mode, r in rates.items()}
    print(f"\n{'mode':<13} {'steps/s':>8} {'vs memory':>10}")
    for mode, rate in median.items():
        print(f"{mode:<13} {rate:8.2f} {rate / median['memory']:10.3f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({
            "workload": f"dcgan mnist 28x28, batch {args.batch_size}, torch, 1 thread",
            "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
            "machine": {"platform": platform.platform(), "python": platform.python_version()},
            "steps_per_second": rates, "median": median,
            "ratio_to_memory": {m: r / median["memory"] for m, r in median.items()},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
