"""Callbacks of the training loop: progress bar, metrics log and plot, sample grids and a
progress GIF, checkpoints. Each sees every step; metrics arrive every `log_every` steps.

A callback with a ``state_key`` and ``state_dict`` / ``load_state_dict`` has its state saved
in every checkpoint and restored on resume (the sample grid's frames of the GIF)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from gancore.training._images import samples_picture, save_gif, save_png, save_samples

__all__ = ["Callback", "CheckpointEvery", "CriticProbe", "MetricsLog", "ProgressBar",
           "SampleGrid", "TensorBoardLog"]


class Callback:
    """Base class with no-op hooks; subclass and override what you need."""

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        """Before the first step of `fit`, which will make `steps` steps from
        ``trainer.step`` (not 0 for a resumed run)."""

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        """After each step; `metrics` only on logging steps, else None."""

    def on_stop(self, trainer: Any, signum: int) -> None:
        """A stop signal (SIGINT, SIGTERM) arrived: the step is finished, save what must be
        saved; `fit` raises `TrainingStopped` next."""

    def on_train_end(self, trainer: Any) -> None:
        """After the last step of `fit` (in the reverse order of the callbacks)."""

    def on_train_error(self, trainer: Any, error: BaseException) -> None:
        """`fit` is leaving with `error` (a stop, a divergence, a crash): release resources;
        nothing of the failed state should be saved."""


class ProgressBar(Callback):
    """A tqdm progress bar with the latest losses."""

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self.kwargs = tqdm_kwargs
        self.bar: Any = None

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.step + steps, initial=trainer.step,
                        desc=f"{trainer.algorithm} [{trainer.backend.name}]", unit="step",
                        **self.kwargs)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        self.bar.update(1)
        if metrics:
            shown = {k: f"{v:.3g}" for k, v in metrics.items() if k in
                     ("d_loss", "g_loss", "d_real", "d_fake", "gp")}
            self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, trainer: Any) -> None:
        self.bar.close()

    def on_train_error(self, trainer: Any, error: BaseException) -> None:
        if self.bar is not None:
            self.bar.close()


class MetricsLog(Callback):
    """Logged metrics as JSON lines in ``metrics.jsonl``, and at the end ``losses.png``:
    the losses and the critic's mean outputs on real and fake samples, as the seeds plot
    them. At the start the file is written anew from the trainer's history, so a resumed
    run's log holds exactly the lines up to its checkpoint and goes on from there."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.jsonl"

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        tmp.write_text("".join(json.dumps(h) + "\n" for h in trainer.history))
        os.replace(tmp, self.path)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if metrics:
            with self.path.open("a") as f:
                f.write(json.dumps(metrics) + "\n")

    def on_train_end(self, trainer: Any) -> None:
        plot_history(trainer.history, self.out_dir / "losses.png")


def plot_history(history: list[dict[str, float]], path: Path) -> Path | None:
    """Losses (left) and mean critic outputs (middle) against the step, and where the
    history has them (`CriticProbe`), the critic's probabilities on real and fake samples
    and its accuracy (right)."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    probed = [key for key in PROBE_KEYS if key in history[-1]]
    fig, axes = plt.subplots(1, 3 if probed else 2, figsize=(15 if probed else 10, 3.5),
                             dpi=100)
    left, right = axes[0], axes[1]
    if probed:
        probe_steps = [h["step"] for h in history if probed[0] in h]
        for key in probed:
            axes[2].plot(probe_steps, [h[key] for h in history if key in h],
                         label=PROBE_KEYS[key])
        axes[2].set_ylim(-0.02, 1.02)
        axes[2].set_xlabel("step")
        axes[2].set_title("critic on held samples")
        axes[2].legend()
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


#: What `CriticProbe` adds to the logged metrics, and how the plot labels it.
PROBE_KEYS = {"p_real": "P(real) on real", "p_fake": "P(real) on fake",
              "d_accuracy": "critic accuracy"}
#: Losses whose critic outputs are logits of P(real) (`CriticProbe` reports probabilities).
PROBABILITY_LOSSES = ("minimax", "nonsaturating")
#: Losses whose critic outputs classify by their sign (`CriticProbe` reports accuracy).
SIGN_LOSSES = (*PROBABILITY_LOSSES, "hinge")


class CriticProbe(Callback):
    """On every logged step, the critic (in inference mode) scores `size` real images held
    from the data and as many fakes from the fixed validation noise, and adds to the
    logged metrics (and so to the history, ``metrics.jsonl`` and ``losses.png``):
    ``p_real`` and ``p_fake``, the mean probability of "real" it gives each, where its
    outputs are logits of it (the minimax and non-saturating losses; an SGAN critic's
    class logits give it as ``logsumexp``), and ``d_accuracy``, the share of both it
    classifies right by the sign of its output (those losses and hinge). Other losses,
    packed critics, CycleGAN and data without an in-memory array are left as they are.
    Inference mode changes no state, so a resumed run logs what the uninterrupted one
    does."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.real: np.ndarray | None = None
        self.labels: np.ndarray | None = None

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        from gancore.data import Dataset

        data = getattr(trainer, "data", None)
        self.real = None
        if (trainer.config.loss not in SIGN_LOSSES or getattr(trainer, "D", None) is None
                or getattr(trainer.architecture, "packing", 1) != 1
                or not isinstance(data, Dataset) or len(data.shape) != 3):
            return
        rng = np.random.default_rng(trainer.config.seed)
        keep = np.sort(rng.permutation(len(data))[: self.size])
        self.real = np.asarray(data.images[keep], np.float32)
        self.labels = None if data.labels is None else np.asarray(data.labels[keep])

    def _logits(self, trainer: Any, images: np.ndarray, labels: np.ndarray | None
                ) -> np.ndarray:
        cond = (trainer.native(labels),) if trainer.conditional else ()
        with trainer.backend.no_grad():
            out = np.asarray(trainer.ops.to_numpy(
                trainer.D(trainer.native(images), *cond, training=False)), np.float64)
        if trainer.algorithm == "sgan":
            top = out.max(axis=-1, keepdims=True)
            return (top + np.log(np.exp(out - top).sum(axis=-1, keepdims=True))).ravel()
        return out.reshape(len(images), -1).mean(axis=1)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if metrics is None or self.real is None:
            return
        n = len(self.real)
        labels = None
        if trainer.conditional:
            labels = self.labels if self.labels is not None else np.zeros(n, np.int64)
        noise = trainer.fixed_noise[np.arange(n) % len(trainer.fixed_noise)]
        fake = trainer.sample(n, noise=noise, labels=labels)
        real_logits = self._logits(trainer, self.real, labels)
        fake_logits = self._logits(trainer, np.asarray(fake, np.float32), labels)
        if trainer.config.loss in PROBABILITY_LOSSES:
            metrics["p_real"] = float(np.mean(_sigmoid(real_logits)))
            metrics["p_fake"] = float(np.mean(_sigmoid(fake_logits)))
        metrics["d_accuracy"] = float((np.sum(real_logits > 0) + np.sum(fake_logits < 0))
                                      / (2 * n))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a negative magnitude only: no overflow for extreme logits.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class TensorBoardLog(Callback):
    """TensorBoard event files in `log_dir`: every logged metric as a scalar (tags
    ``loss/<name>`` for losses and penalties, ``critic/<name>`` for the critic's outputs,
    probabilities and accuracy), and the final sample grid as an image. Written with
    tensorboardX (``pip install "gancore[tensorboard]"``), which needs no framework; a
    resumed run purges the events after its checkpoint's step, so the curves continue."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        from gancore._errors import InvalidArgumentError

        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise InvalidArgumentError(
                "tensorboard logging needs tensorboardX: pip install \"gancore[tensorboard]\" "
                "(or pip install tensorboardX)"
            ) from None
        self.log_dir = Path(log_dir)
        self.writer: Any = None

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir), purge_step=trainer.step or None)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if metrics:
            for key, value in metrics.items():
                if key != "step":
                    group = "critic" if key.startswith(("d_real", "d_fake", "p_", "d_acc")) \
                        else "loss"
                    self.writer.add_scalar(f"{group}/{key}", value, step)

    def on_train_end(self, trainer: Any) -> None:
        picture = samples_picture(*SampleGrid(self.log_dir)._samples(trainer))
        if picture is not None:
            self.writer.add_image("samples", picture, trainer.step, dataformats="HWC")
        self.writer.close()

    def on_train_error(self, trainer: Any, error: BaseException) -> None:
        if self.writer is not None:
            self.writer.close()


class SampleGrid(Callback):
    """Samples from the fixed validation noise: ``samples_<step>.png`` every `every` steps
    (0: only at the end), ``samples.png`` at the end, and ``progress.gif`` of all frames.
    Its state is the list of frames so far; a resumed run reads them back from their PNGs."""

    state_key = "sample_grid"

    def __init__(self, out_dir: str | os.PathLike[str], every: int = 0, gif: bool = True,
                 means: np.ndarray | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.every = every
        self.gif = gif
        self.means = means
        self.frames: list[np.ndarray] = []
        self.frame_names: list[str] = []  # the periodic frames, those a resume reads back

    def _samples(self, trainer: Any) -> tuple[np.ndarray, int | None]:
        """The grid's samples and its column count (the class count of a conditional
        model: one class per column, as many rows as the grid size allows)."""
        noise = getattr(trainer, "fixed_noise", None)
        if noise is None:
            return trainer.sample(trainer.config.grid_size // 2 or 1,
                                  seed=trainer.config.seed), None
        classes = getattr(trainer, "num_classes", None)
        if getattr(trainer, "fixed_labels", None) is None or not classes:
            return trainer.sample(len(noise), noise=noise), None
        n = max(1, len(noise) // classes) * classes
        labels = np.arange(n) % classes
        return trainer.sample(n, noise=noise[np.arange(n) % len(noise)], labels=labels), classes

    def _frame(self, trainer: Any, name: str) -> bool:
        samples, columns = self._samples(trainer)
        save_samples(self.out_dir / name, samples, self.means, columns=columns)
        picture = samples_picture(samples, columns)
        if picture is not None:
            self.frames.append(picture)
        return picture is not None

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if self.every and step % self.every == 0:
            name = f"samples_{step:06d}.png"
            if self._frame(trainer, name):
                self.frame_names.append(name)

    def on_train_end(self, trainer: Any) -> None:
        self._frame(trainer, "samples.png")
        if self.gif and len(self.frames) > 1:
            save_gif(self.out_dir / "progress.gif", self.frames)
        elif self.gif and self.frames:
            save_png(self.out_dir / "samples.png", self.frames[-1])
        # The end frame belongs to this call of fit, not to the run a resume continues.
        self.frames = self.frames[: len(self.frame_names)]

    def state_dict(self) -> dict[str, Any]:
        return {"frames": list(self.frame_names)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from PIL import Image

        from gancore._errors import InvalidArgumentError

        self.frame_names, self.frames = [], []
        for name in state["frames"]:
            if not isinstance(name, str) or Path(name).name != name or not name.endswith(".png"):
                # A frame is a file of the run folder, never a path out of it.
                raise InvalidArgumentError(
                    f"sample grid frames must be .png file names of the run folder; received "
                    f"{name!r}"
                )
            path = self.out_dir / name
            try:
                with Image.open(path) as image:
                    picture = np.asarray(image)
            except OSError as e:
                warnings.warn(f"progress.gif will lack frame {name}: {e}", stacklevel=2)
                continue
            self.frame_names.append(name)
            self.frames.append(picture[..., None] if picture.ndim == 2 else picture)


class CheckpointEvery(Callback):
    """Step-numbered checkpoints in ``<out_dir>/checkpoints/`` every `every` steps (0: only
    at the end), on a stop signal, and at the start when the folder has none yet (so a run
    killed at any moment can be resumed); the newest `keep` are kept and
    ``<out_dir>/checkpoint`` links to the latest."""

    def __init__(self, out_dir: str | os.PathLike[str], every: int = 0, keep: int = 3) -> None:
        from gancore._errors import InvalidArgumentError

        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise InvalidArgumentError(f"keep_checkpoints must be an int >= 1; received {keep!r}")
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "checkpoint"
        self.every = every
        self.keep = keep
        self.saved_step: int | None = None

    def save(self, trainer: Any) -> Path:
        from gancore.training._checkpoint import write_run_checkpoint

        path = write_run_checkpoint(self.out_dir, trainer, self.keep)
        self.saved_step = trainer.step
        return path

    def on_train_begin(self, trainer: Any, steps: int) -> None:
        from gancore.training._checkpoint import latest_checkpoint

        if latest_checkpoint(self.out_dir) is None:
            self.save(trainer)

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, float] | None) -> None:
        if self.every and step % self.every == 0:
            self.save(trainer)

    def on_stop(self, trainer: Any, signum: int) -> None:
        if self.saved_step != trainer.step:
            self.save(trainer)

    def on_train_end(self, trainer: Any) -> None:
        if self.saved_step != trainer.step:
            self.save(trainer)
