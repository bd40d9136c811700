"""Callbacks of the training loop: progress bar, metrics log and plot, sample grids and a
progress GIF, checkpoints. Each sees every step; metrics arrive every `log_every` steps."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gancore.training._images import samples_picture, save_gif, save_png, save_samples

__all__ = ["Callback", "CheckpointEvery", "MetricsLog", "ProgressBar", "SampleGrid"]


class Callback:
    """Base class with no-op hooks; subclass and override what you need."""

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        """Before the first step of `fit`."""

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        """After each step; `metrics` only on logging steps, else None."""

    def on_train_end(self, trainer: Any) -> None:
        """After the last step of `fit`."""


class ProgressBar(Callback):
    """A tqdm progress bar with the latest losses."""

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self.kwargs = tqdm_kwargs
        self.bar: Any = None

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=steps, desc=f"{trainer.algorithm} [{trainer.backend.name}]",
                        unit="step", **self.kwargs)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        self.bar.update(1)
        if metrics:
            shown = {k: f"{v:.3g}" for k, v in metrics.items() if k in
                     ("d_loss", "g_loss", "d_real", "d_fake", "gp")}
            self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, trainer: Any) -> None:
        self.bar.close()


class MetricsLog(Callback):
    """Logged metrics as JSON lines in ``metrics.jsonl``, and at the end ``losses.png``:
    the losses and the critic's mean outputs on real and fake samples, as the seeds plot
    them."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.jsonl"

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if trainer.step == 0:
            self.path.write_text("")

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if metrics:
            with self.path.open("a") as f:
                f.write(json.dumps(metrics) + "\n")

    def on_train_end(self, trainer: Any) -> None:
        plot_history(trainer.history, self.out_dir / "losses.png")


def plot_history(history: list[dict[str, float]], path: Path) -> Path | None:
    """Losses (left) and mean critic outputs (right) against the step."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=100)
    for key in ("d_loss", "g_loss", "gp", "g_cycle", "g_identity"):
        if key in history[0]:
            left.plot(steps, [h[key] for h in history], label=key)
    left.set_xlabel("step")
    left.set_title("losses")
    left.legend()
    for key, label in (("d_real", "critic on real"), ("d_fake", "critic on fake")):
        if key in history[0]:
            right.plot(steps, [h[key] for h in history], label=label)
    right.set_xlabel("step")
    right.set_title("mean critic output")
    right.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


class SampleGrid(Callback):
    """Samples from the fixed validation noise: ``samples_<step>.png`` every `every` steps
    (0: only at the end), ``samples.png`` at the end, and ``progress.gif`` of all frames."""

    def __init__(self, out_dir: str | os.PathLike[str], every: int = 0, gif: bool = True,
                 means: np.ndarray | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.every = every
        self.gif = gif
        self.means = means
        self.frames: list[np.ndarray] = []

    def _samples(self, trainer: Any) -> np.ndarray:
        noise = getattr(trainer, "fixed_noise", None)
        if noise is None:
            return trainer.sample(trainer.config.grid_size // 2 or 1, seed=trainer.config.seed)
        labels = getattr(trainer, "fixed_labels", None)
        return trainer.sample(len(noise), noise=noise, labels=labels)

    def _frame(self, trainer: Any, name: str) -> None:
        samples = self._samples(trainer)
        save_samples(self.out_dir / name, samples, self.means)
        picture = samples_picture(samples)
        if picture is not None:
            self.frames.append(picture)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if self.every and step % self.every == 0:
            self._frame(trainer, f"samples_{step:06d}.png")

    def on_train_end(self, trainer: Any) -> None:
        self._frame(trainer, "samples.png")
        if self.gif and len(self.frames) > 1:
            save_gif(self.out_dir / "progress.gif", self.frames)
        elif self.gif and self.frames:
            save_png(self.out_dir / "samples.png", self.frames[-1])


class CheckpointEvery(Callback):
    """A checkpoint in ``<out_dir>/checkpoint`` every `every` steps (0: only at the end)."""

    def __init__(self, out_dir: str | os.PathLike[str], every: int = 0) -> None:
        self.path = Path(out_dir) / "checkpoint"
        self.every = every

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if self.every and step % self.every == 0:
            trainer.save(self.path)

    def on_train_end(self, trainer: Any) -> None:
        trainer.save(self.path)
