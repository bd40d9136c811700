"""The training-step workloads: gancore's trainer and, where there is one, the hand-written
loop, built on the same synthetic data.

The data are random (uniform images in [-1, 1], PacGAN's grid mixture for the points):
the speed of a step does not depend on what the images show, and no download is needed.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.architectures import ArchitecturePair, cyclegan, dcgan, pacgan_mlp
from gancore.bench._catalog import (
    BASELINE_REUSES_FAKES,
    BASELINES,
    COMPILED_TWINS,
    EAGER_TWINS,
    Job,
)
from gancore.bench._flops import step_flops
from gancore.data import Dataset, load_mixture
from gancore.training import OptimizerConfig, TrainConfig, make_trainer

Run = Callable[[int], Any]

#: Samples in each synthetic dataset, in batches: a few epochs' reshuffles happen in a run.
_BATCHES_OF_DATA = 16


@attrs.frozen
class Setup:
    """What one training job needs: the architecture, config and data for gancore, the
    hand-written loop's factory, that of its eager twin and that of the loop compiled as
    the job's mode compiles (each None where there is none), and the FLOPs of one step."""

    architecture: ArchitecturePair
    config: TrainConfig
    data: Any
    baseline: Callable[[], Any] | None
    eager_baseline: Callable[[], Any] | None
    flops: float
    compiled_baseline: Callable[[], Any] | None = None


def _images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, (n, *shape)).astype(np.float32)


Factories = tuple[Callable[[], Any] | None, Callable[[], Any] | None, Callable[[], Any] | None]


def _baselines(job: Job, data: np.ndarray) -> Factories:
    """The factories of the hand-written loop, of the same loop run eagerly where that loop
    compiles its steps, and of the same loop compiled as `job`'s mode compiles where the
    mode has such a twin (`COMPILED_TWINS`)."""
    target = BASELINES.get((job.backend, job.workload))
    if target is None:
        return None, None, None
    module, factory = target.split(":")
    build = getattr(importlib.import_module(f"gancore.bench.baselines.{module}"), factory)
    twin = job.backend in EAGER_TWINS
    eager = functools.partial(build, data, job.batch, eager=True) if twin else None
    keyword = COMPILED_TWINS.get((job.backend, job.mode))
    compiled = functools.partial(build, data, job.batch, **{keyword: True}) if keyword else None
    return functools.partial(build, data, job.batch), eager, compiled


def setup(job: Job, seed: int = 0) -> Setup:
    """The architecture, config, data and baselines of `job`'s workload."""
    rng = np.random.default_rng(seed)
    n = _BATCHES_OF_DATA * job.batch
    config = TrainConfig(batch_size=job.batch, seed=seed)
    data: Any
    baselines: Factories = (None, None, None)
    if job.workload in ("dcgan", "wgan_gp", "cdcgan"):
        images = _images(rng, n, (28, 28, 1))
        if job.workload == "wgan_gp":
            arch = dcgan((28, 28, 1), norm="layer")
            config = attrs.evolve(config, loss="wasserstein", gradient_penalty=10.0)
            data = Dataset(name="random", images=images)
        elif job.workload == "cdcgan":
            arch = dcgan((28, 28, 1), num_classes=10)
            data = Dataset(name="random", images=images, labels=rng.integers(0, 10, n),
                           num_classes=10)
        else:
            arch = dcgan((28, 28, 1))
            data = Dataset(name="random", images=images)
        baselines = _baselines(job, images)
    elif job.workload == "cyclegan":
        arch = cyclegan((32, 32, 3))
        config = attrs.evolve(config, algorithm="cyclegan", loss="least_squares")
        data = tuple(Dataset(name=f"random_{d}", images=_images(rng, n, (32, 32, 3)))
                     for d in "ab")
    elif job.workload == "mixture":
        arch = pacgan_mlp((2,))
        adam = OptimizerConfig.adam(1e-4, beta1=0.8)
        config = attrs.evolve(config, generator_optimizer=adam, critic_optimizer=adam)
        data = load_mixture("grid", n=n, seed=seed)
        baselines = _baselines(job, np.asarray(data.images))
    else:
        raise InvalidArgumentError(f"unknown training workload {job.workload!r}")
    if (job.backend, job.workload) in BASELINE_REUSES_FAKES:
        config = attrs.evolve(config, reuse_fakes=True)
    baseline, eager, compiled = baselines
    flops = step_flops(job.workload, arch.generator, arch.critic, job.batch,
                       reuse_fakes=config.reuse_fakes)
    return Setup(arch, config, data, baseline, eager, flops, compiled)


def gancore_run(job: Job, s: Setup) -> Run:
    """gancore's trainer for `job`, as `run(steps)` (`GANTrainer.fit`, as users call it)."""
    trainer = make_trainer(s.architecture, s.data, s.config, backend=job.backend, device="cpu",
                           compile=job.mode in ("compile", "xla", "jit"))
    return trainer.fit


def baseline_builders(s: Setup) -> dict[str, Callable[[], Run]]:
    """What builds each hand-written loop of `s` as `run(steps)`, by side name: `baseline`
    and, where there are, `eager_baseline` and `compiled_baseline`; empty when the workload
    has none."""
    factories = {"baseline": s.baseline, "eager_baseline": s.eager_baseline,
                 "compiled_baseline": s.compiled_baseline}
    return {side: functools.partial(_train_of, make)
            for side, make in factories.items() if make is not None}


def _train_of(make: Callable[[], Any]) -> Run:
    train: Run = make().train
    return train
