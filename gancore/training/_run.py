"""One call from a recipe to a trained model and its output folder (what `gancore train`
runs)."""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from gancore._backend import backend as get_backend
from gancore._backend import backends
from gancore._errors import (
    GancoreError,
    InvalidArgumentError,
    NonFiniteError,
    RunFolderError,
    TrainingStopped,
)
from gancore.data import Dataset, GaussianMixture2D
from gancore.distributed import Workers, from_environment
from gancore.training._callbacks import (
    CheckpointEvery,
    CriticProbe,
    MetricsLog,
    ProgressBar,
    SampleGrid,
    TensorBoardLog,
)
from gancore.training._checkpoint import Checkpoint, load_checkpoint
from gancore.training._config import TrainConfig
from gancore.training._epochs import Epochs, steps_per_epoch
from gancore.training._recipes import (
    Recipe,
    build_architecture,
    get_recipe,
    load_dataset,
    load_domains,
    resolved,
    with_data_classes,
)
from gancore.training._run_folder import RunFolder
from gancore.training._threads import resolve_threads
from gancore.training._trainer import make_trainer

__all__ = ["RunResult", "default_backend", "resume", "train"]

#: The environment variable that sets the default thread count of `train` and `resume`.
THREADS_ENV = "GANCORE_THREADS"


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
          dataset: str | None = None, dataset_options: Mapping[str, Any] | None = None,
          overwrite: bool = False, keep_checkpoints: int = 3,
          threads: int | str | None = None, workers: Workers | None = None,
          sync_batch_norm: bool = False, epochs: Epochs | None = None,
          tensorboard: bool = False) -> RunResult:
    """Train a recipe and write samples, plots, metrics and checkpoints into `out_dir`.

    Without `out_dir` the run goes to ``runs/<recipe>[-<arch>][-<loss>][-<dataset>]-<backend>``
    (the first free one: ``-2``, ``-3``, ... are appended). An `out_dir` that holds a run is
    refused unless `overwrite`; continue such a run with `resume`. Checkpoints are written
    every ``checkpoint_every`` steps, on SIGINT / SIGTERM and at the end; the newest
    `keep_checkpoints` are kept. `threads` (an int, or ``"auto"``; default: the environment's
    ``GANCORE_THREADS``, else ``"auto"``: the free cores) sets the framework's threads.

    In a data-parallel job (`workers`; by default read from the environment torchrun or
    ``TF_CONFIG`` sets) every worker calls `train` alike; worker 0 alone writes the folder.
    `sync_batch_norm` normalises over the global batch instead of each worker's rows.

    `epochs` (an `Epochs`) gives the length and the sample and checkpoint frequencies in
    passes over the data instead (converted to steps once the data is loaded; run.json
    records both); a recipe's own epochs fill in each setting neither `epochs` nor the
    config's steps give. `tensorboard` also writes TensorBoard events to
    ``<out_dir>/tensorboard`` (needs tensorboardX). The logged metrics include the critic's
    probabilities on held real and fake samples and its accuracy, where the loss has them
    (`CriticProbe`).
    """
    base = get_recipe(recipe) if isinstance(recipe, str) else recipe
    overrides = dict(config or {})
    if steps is not None:
        overrides["steps"] = steps
    if seed is not None:
        overrides["seed"] = seed
    rec = base.with_overrides(architecture=architecture, dataset=dataset, config=overrides,
                              architecture_options=architecture_options,
                              dataset_options=dataset_options)
    rec = resolved(rec)
    epochs = _with_recipe_epochs(epochs, rec.epochs, overrides)
    backend = backend or default_backend()
    workers = _workers(backend, workers, sync_batch_norm)
    parts = [rec.name, *(p for p in (architecture, (config or {}).get("loss"), dataset) if p)]
    default = Path("runs") / "-".join([*parts, backend])
    if workers.is_main:
        folder = RunFolder.for_new_run(out_dir, default, overwrite)
    else:  # writes nothing; worker 0 names the folder
        folder = RunFolder(out_dir if out_dir is not None else default)
    return _execute(folder, rec, backend=backend, device=device, progress=progress,
                    compile=compile, keep=keep_checkpoints, checkpoint=None, threads=threads,
                    workers=workers, epochs=epochs, tensorboard=tensorboard)


def _with_recipe_epochs(given: Epochs | None, recipe: Epochs | None,
                        overrides: Mapping[str, Any]) -> Epochs:
    """The run's epochs: each setting `given` (the CLI passes an `Epochs` of None for the
    flags it did not get), else the recipe's, unless the config overrides the setting in
    steps (``steps``, ``sample_every``, ``checkpoint_every``): a recipe measured in epochs
    keeps its frequencies when only its length is given, in steps or in epochs."""
    given = given or Epochs()
    if recipe is None:
        return given
    settings = {}
    for name, in_steps in (("epochs", "steps"), ("sample_every", "sample_every"),
                           ("checkpoint_every", "checkpoint_every")):
        value = getattr(given, name)
        if value is None and in_steps not in overrides:
            value = getattr(recipe, name)
        settings[name] = value
    return Epochs(**settings)


def _workers(backend: str, workers: Workers | None, sync_batch_norm: bool) -> Workers:
    if workers is not None:
        if not isinstance(workers, Workers):
            raise InvalidArgumentError(
                f"workers must be a gancore.distributed.Workers or None; received "
                f"{type(workers).__name__}"
            )
        return workers
    framework = {"torch": "torch", "tensorflow": "tensorflow"}.get(backend, backend)
    return from_environment(framework, sync_batch_norm=bool(sync_batch_norm))


def resume(run_dir: str | os.PathLike[str], *, steps: int | None = None,
           backend: str | None = None, device: str = "auto", progress: bool = True,
           compile: bool = False, config: Mapping[str, Any] | None = None,
           keep_checkpoints: int = 3, threads: int | str | None = None,
           workers: Workers | None = None, sync_batch_norm: bool | None = None,
           tensorboard: bool | None = None) -> RunResult:
    """Continue the run in `run_dir` from its latest checkpoint to its configured steps
    (`steps` may raise them), appending to its metrics, plots, frames and GIF as if it had
    never stopped. On the backend that wrote the checkpoint the result is bit for bit the
    uninterrupted run's; `backend` may name the other one (within the parity tolerance).
    `config` may change only ``log_every``, ``sample_every`` and ``checkpoint_every``;
    any setting that would change the run raises a `CheckpointError` naming it. The run
    keeps its thread count unless `threads` says otherwise (a framework's sums can depend
    on it: bit-for-bit equality holds at the same count). A run resumes on any number of
    workers (the global batch is the run's); it keeps its synchronised batch norm unless
    `sync_batch_norm` says otherwise, and its TensorBoard logging unless `tensorboard`
    does."""
    folder = RunFolder(run_dir)
    record = folder.settings()
    if sync_batch_norm is None:
        sync_batch_norm = bool(record.get("sync_batch_norm", False))
    backend = backend or record.get("backend") or default_backend()
    workers = _workers(backend, workers, sync_batch_norm)
    rec = _recipe_from(record["settings"])
    overrides = dict(config or {})
    if steps is not None:
        overrides["steps"] = steps
    if overrides:
        rec = rec.with_overrides(config=overrides)
    checkpoint_path = folder.latest_checkpoint(clean=workers.is_main)
    if checkpoint_path is None:
        raise RunFolderError(f"{folder.path} has no checkpoint to resume from")
    checkpoint = load_checkpoint(checkpoint_path)
    return _execute(folder, rec, backend=backend, device=device, progress=progress,
                    compile=compile, keep=keep_checkpoints, checkpoint=checkpoint, record=record,
                    threads=threads, default_threads=record.get("threads"), workers=workers,
                    tensorboard=bool(record.get("tensorboard", False)) if tensorboard is None
                    else tensorboard)


def _settings_of(rec: Recipe) -> dict[str, Any]:
    data_options = dict(rec.dataset_options)
    for key in ("folder", "folder_b"):
        if isinstance(data_options.get(key), (str, os.PathLike)):
            # A resumed run may start from another working directory.
            data_options[key] = os.path.abspath(data_options[key])
    return {"recipe": rec.name, "description": rec.description,
            "architecture": rec.architecture,
            "architecture_options": dict(rec.architecture_options),
            "dataset": rec.dataset, "dataset_options": data_options,
            "config": rec.config.to_dict()}


def _recipe_from(settings: Mapping[str, Any]) -> Recipe:
    try:
        return Recipe(
            name=settings["recipe"], description=settings.get("description", ""),
            architecture=settings["architecture"], dataset=settings["dataset"],
            config=TrainConfig.from_dict(dict(settings["config"])),
            architecture_options=dict(settings.get("architecture_options") or {}),
            dataset_options=dict(settings.get("dataset_options") or {}),
        )
    except (KeyError, TypeError) as e:
        raise RunFolderError(f"run.json settings must name {e}; the run cannot be resumed") \
            from None


def _execute(folder: RunFolder, rec: Recipe, *, backend: str, device: str, progress: bool,
             compile: bool, keep: int, checkpoint: Checkpoint | None,
             record: Mapping[str, Any] | None = None, threads: Any = None,
             default_threads: Any = None, workers: Workers | None = None,
             epochs: Epochs | None = None, tensorboard: bool = False) -> RunResult:
    workers = workers or Workers()
    main = workers.is_main
    if not main:  # the other workers write nothing
        folder = _ReadOnlyFolder(folder.path)
    out = folder.path
    asked = threads is not None
    if not asked:
        threads = default_threads or os.environ.get(THREADS_ENV, "auto")
        if isinstance(threads, str) and threads.isdigit():
            threads = int(threads)
    count = resolve_threads(threads)
    with folder.lock():
        data = load_dataset(rec.dataset, rec.dataset_options)
        pair = build_architecture(rec.architecture, tuple(data.shape),
                                  with_data_classes(rec.architecture_options, data))
        # Before the trainer builds anything: TensorFlow takes threads only before its
        # first op.
        native = get_backend(backend)
        if hasattr(native, "set_threads"):
            try:
                native.set_threads(count)
            except GancoreError as e:
                if asked:
                    raise
                # A default cannot move a framework that this process already runs.
                warnings.warn(f"{e}; training on those", stacklevel=3)
        epochs = epochs or Epochs()
        if epochs:
            rec = attrs.evolve(rec, config=epochs.apply(rec.config, data,
                                                        getattr(pair, "packing", 1)))
        cfg = rec.config
        means = None
        if rec.dataset in ("ring", "grid"):
            means = getattr(GaussianMixture2D, rec.dataset)().means
        callbacks: list[Any] = [ProgressBar()] if progress and main else []
        checkpoints = CheckpointEvery(out, every=cfg.checkpoint_every, keep=keep)
        if main:
            # The probe adds to the logged metrics before the logs write them.
            callbacks += [CriticProbe(), MetricsLog(out),
                          SampleGrid(out, every=cfg.sample_every, means=means)]
            if tensorboard:
                callbacks.append(TensorBoardLog(out / "tensorboard"))
            callbacks.append(checkpoints)
        train_data: Any = load_domains(rec, data) if cfg.algorithm == "cyclegan" else data
        trainer = make_trainer(pair, train_data, cfg, backend=backend, device=device,
                               callbacks=callbacks, compile=compile, workers=workers)
        if checkpoint is not None:
            trainer.restore(checkpoint)
            if cfg.steps <= trainer.step:
                if (record or {}).get("status") == "finished" or cfg.steps < trainer.step:
                    raise InvalidArgumentError(
                        f"steps must be > {trainer.step}, the step of {checkpoint.path}, to "
                        f"resume (the run is finished at {cfg.steps}); received {cfg.steps}"
                    )
                # Stopped after its last checkpoint, before its samples and plots: make them.
                checkpoints.saved_step = trainer.step
                for cb in callbacks:
                    cb.on_train_begin(trainer, 0)
                for cb in reversed(callbacks):
                    cb.on_train_end(trainer)
                status = {**record, "settings": _settings_of(rec)} if record else {}
                metrics = dict(trainer.history[-1]) if trainer.history else {}
                return RunResult(trainer, out, metrics,
                                 _finish(folder, status, trainer, time.perf_counter(),
                                         "finished", metrics))
        seconds_before = float((record or {}).get("seconds", 0.0))
        status: dict[str, Any] = {"settings": _settings_of(rec), "recipe": rec.name,
                                  "backend": backend, "threads": count, "status": "running",
                                  "steps": trainer.step, "seconds": seconds_before,
                                  "workers": workers.world_size,
                                  "sync_batch_norm": workers.sync_batch_norm,
                                  "tensorboard": bool(tensorboard)}
        if epochs:
            status["epochs"] = {**attrs.asdict(epochs), "steps_per_epoch": steps_per_epoch(
                len(data), cfg, getattr(pair, "packing", 1))}
        elif record and "epochs" in record:
            status["epochs"] = record["epochs"]
        folder.write_settings(status)
        start = time.perf_counter()
        try:
            metrics = trainer.fit(progress=False)  # its callbacks say
        except TrainingStopped as e:
            _finish(folder, status, trainer, start, "stopped")
            _leave_workers(trainer)  # every worker stops after the same step
            raise TrainingStopped(
                f"{e}; checkpoint {out / 'checkpoint'} (step {trainer.step}); resume with: "
                f"gancore train --resume {out}", step=e.step, signal=e.signal) from None
        except NonFiniteError as e:
            _finish(folder, status, trainer, start, "diverged")
            good = checkpoints.saved_step
            kept = f"the last good checkpoint is {out / 'checkpoint'}" + (
                f" (step {good})" if good is not None else "")
            raise NonFiniteError(f"{e}; {kept}") from None
        if cfg.algorithm == "sgan" and main:
            metrics = {**metrics, **_sgan_accuracy(trainer, rec, data)}
        seconds = _finish(folder, status, trainer, start, "finished", metrics)
        _leave_workers(trainer)
    return RunResult(trainer, out, metrics, seconds)


def _leave_workers(trainer: Any) -> None:
    """A data-parallel worker leaves its process group when its job ends: a torch process
    that exits inside one can abort in gloo's threads at interpreter exit (SIGABRT,
    "terminate called without an active exception"). A later job joins a new one."""
    leave = getattr(trainer.backend, "leave_workers", None)
    if trainer.workers.distributed and leave is not None:
        leave()


def _sgan_accuracy(trainer: Any, rec: Recipe, data: Any) -> dict[str, float]:
    """The SGAN critic's classification accuracy: on the test split of an MNIST-format
    dataset trained on its training split (``test_accuracy``), else on the training data
    itself (``train_accuracy``: no unseen data to score it on)."""
    options = dict(rec.dataset_options)
    if rec.dataset in ("mnist", "fashion_mnist") and options.get("split") == "train":
        test = load_dataset(rec.dataset, {**options, "split": "test", "stream": False})
        return {"test_accuracy": trainer.accuracy(test)}
    if not isinstance(data, Dataset):
        return {}
    return {"train_accuracy": trainer.accuracy(data)}


def _finish(folder: RunFolder, status: dict[str, Any], trainer: Any, start: float,
            outcome: str, metrics: Mapping[str, float] | None = None) -> float:
    seconds = time.perf_counter() - start
    status.update(status=outcome, steps=trainer.step,
                  seconds=round(status["seconds"] + seconds, 2))
    if metrics is not None:
        status["metrics"] = dict(metrics)
    folder.write_settings(status)
    return seconds


class _ReadOnlyFolder(RunFolder):
    """A run folder as a worker other than 0 sees it: read, never written or locked."""

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def write_settings(self, record: Mapping[str, Any]) -> None:
        pass
