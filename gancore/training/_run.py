"""One call from a recipe to a trained model and its output folder (what `gancore train`
runs)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from gancore._backend import backends
from gancore.data import GaussianMixture2D
from gancore.training._callbacks import CheckpointEvery, MetricsLog, ProgressBar, SampleGrid
from gancore.training._recipes import (
    Recipe,
    build_architecture,
    get_recipe,
    inverted,
    load_dataset,
)
from gancore.training._trainer import make_trainer

__all__ = ["RunResult", "default_backend", "train"]


@attrs.frozen
class RunResult:
    """What a run produced: the trainer, its folder, the last metrics and the time taken."""

    trainer: Any
    out_dir: Path
    metrics: dict[str, float]
    seconds: float


def default_backend() -> str:
    """torch when installed, else TensorFlow (never the numpy reference, which cannot train)."""
    names = [b for b in ("torch", "tensorflow") if b in backends()]
    return names[0] if names else "torch"


def train(recipe: str | Recipe = "dcgan", *, backend: str | None = None,
          out_dir: str | os.PathLike[str] | None = None, steps: int | None = None,
          seed: int | None = None, device: str = "auto", progress: bool = True,
          compile: bool = False, config: Mapping[str, Any] | None = None,
          architecture: str | None = None,
          architecture_options: Mapping[str, Any] | None = None,
          dataset: str | None = None, dataset_options: Mapping[str, Any] | None = None
          ) -> RunResult:
    """Train a recipe and write samples, plots, metrics and a checkpoint into `out_dir`."""
    base = get_recipe(recipe) if isinstance(recipe, str) else recipe
    overrides = dict(config or {})
    if steps is not None:
        overrides["steps"] = steps
    if seed is not None:
        overrides["seed"] = seed
    rec = base.with_overrides(architecture=architecture, dataset=dataset, config=overrides,
                              architecture_options=architecture_options,
                              dataset_options=dataset_options)
    backend = backend or default_backend()
    out = Path(out_dir or Path("runs") / f"{rec.name}-{backend}")
    data = load_dataset(rec.dataset, rec.dataset_options)
    pair = build_architecture(rec.architecture, tuple(data.shape), rec.architecture_options)
    cfg = rec.config
    means = None
    if rec.dataset in ("ring", "grid"):
        means = getattr(GaussianMixture2D, rec.dataset)().means
    callbacks: list[Any] = [ProgressBar()] if progress else []
    callbacks += [MetricsLog(out), SampleGrid(out, every=cfg.sample_every, means=means),
                  CheckpointEvery(out, every=cfg.checkpoint_every)]
    train_data: Any = (data, inverted(data)) if cfg.algorithm == "cyclegan" else data
    trainer = make_trainer(pair, train_data, cfg, backend=backend, device=device,
                           callbacks=callbacks, compile=compile)
    start = time.perf_counter()
    metrics = trainer.fit()
    seconds = time.perf_counter() - start
    summary = {"recipe": rec.name, "backend": backend, "steps": trainer.step,
               "seconds": round(seconds, 2), "metrics": metrics}
    (out / "run.json").write_text(json.dumps(summary, indent=2))
    return RunResult(trainer, out, metrics, seconds)
