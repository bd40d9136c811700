"""What `gancore bench` measures: workloads, execution modes, and the jobs they expand to.

Framework-free: the parent process plans jobs from this table and never imports torch or
TensorFlow; each job runs in a child process (`gancore.bench._child`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from gancore._errors import InvalidArgumentError

#: Execution modes per backend: for training steps, and for the losses (which can also run
#: op by op in TensorFlow's eager mode). The first mode is each backend's default path.
TRAIN_MODES: dict[str, tuple[str, ...]] = {
    "torch": ("eager", "compile"),
    "tensorflow": ("function", "xla"),
    "jax": ("jit",),
}
LOSS_MODES: dict[str, tuple[str, ...]] = {
    "torch": ("eager", "compile"),
    "tensorflow": ("function", "eager", "xla"),
    "jax": ("jit", "eager"),
}
MODES = ("eager", "compile", "function", "xla", "jit")

#: What each mode means, for the report.
MODE_NOTES = {
    "eager": "op by op (torch's default; TensorFlow eager execution, losses only)",
    "compile": "compiled: gancore's make_update(compile=True), torch.compile",
    "function": "compiled: tf.function without XLA (gancore's default TensorFlow path)",
    "xla": "compiled: gancore's make_update(compile=True), tf.function(jit_compile=True)",
    "jit": "compiled: jax.jit (every JAX update; JAX's eager mode: losses only)",
}


@attrs.frozen
class Workload:
    """One benchmarked workload: a full training step, or the forward and backward pass of
    every loss. `batches` are the full run's batch sizes, `quick_batches` those of
    `--quick`."""

    name: str
    description: str
    batches: tuple[int, ...]
    quick_batches: tuple[int, ...]

    @property
    def is_losses(self) -> bool:
        """Whether this is the losses workload (one job per loss)."""
        return self.name == "losses"


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("losses", "forward + backward of every loss in gancore.losses",
                 (64, 1024), (64,)),
        Workload("dcgan", "DCGAN 28x28 (GANs in Action ch. 4), non-saturating loss, Adam 2e-4 "
                 "beta1 0.5", (64,), (16,)),
        Workload("wgan_gp", "WGAN-GP on the DCGAN 28x28 (layer-norm critic, penalty 10, one "
                 "critic step per step)", (64,), (16,)),
        Workload("cdcgan", "conditional DCGAN 28x28, 10 classes", (64,), (16,)),
        Workload("cyclegan", "CycleGAN 32x32x3 (U-Net gf 32 / PatchGAN df 64, depth 4), "
                 "least squares + cycle 10 + identity 5", (4,), (1,)),
        Workload("mixture", "PacGAN's 2-D mixture MLPs (pacgan_mlp), non-saturating loss, Adam "
                 "1e-4 beta1 0.8", (100,), (100,)),
    )
}


#: How each backend's hand-written loop runs, as a user writes it: PyTorch op by op
#: (`loss.backward()`, `optimizer.step()`), TensorFlow with each step in `tf.function`, JAX
#: with the whole iteration in one `jax.jit` step.
BASELINE_STYLE = {"torch": "eager", "tensorflow": "tf.function", "jax": "jax.jit"}

#: The backends whose hand-written loop is also measured without its compilation, as the
#: eager loop the compiled paths are compared with. PyTorch's loop is eager already; a JAX
#: loop is written for `jax.jit` and nobody trains one op by op (each new op shape compiles
#: on its first call: a DCGAN's first eager step takes longer than its whole jitted run).
EAGER_TWINS = frozenset({"tensorflow"})

#: The compiled modes whose hand-written loop is also measured compiled the same way, as
#: the framework's docs show it: with `torch.compile`, ``model = torch.compile(model)`` for
#: both networks; with XLA, each step in ``tf.function(jit_compile=True)``. By (backend,
#: mode): the keyword that the baseline factories take for it. gancore's compiled step is
#: compared with that loop (the same compiler on both sides) as well as with the backend's
#: default hand-written loop.
COMPILED_TWINS: dict[tuple[str, str], str] = {
    ("torch", "compile"): "compiled",
    ("tensorflow", "xla"): "jit_compile",
}

#: The hand-written loop measured beside gancore's trainer, as "module:factory" in
#: gancore.bench.baselines, by (backend, workload); the others have none. Where the loop
#: compiles its steps (TensorFlow), the same loop without `tf.function` is measured too: the
#: hand-written eager loop that the compiled paths are compared with.
BASELINES: dict[tuple[str, str], str] = {
    ("torch", "dcgan"): "torch_dcgan:dcgan_loop",
    ("torch", "wgan_gp"): "torch_dcgan:wgan_gp_loop",
    ("torch", "mixture"): "torch_pacgan:mixture_loop",
    ("tensorflow", "dcgan"): "tf_dcgan:dcgan_loop",
    ("tensorflow", "wgan_gp"): "tf_dcgan:wgan_gp_loop",
    ("tensorflow", "mixture"): "tf_pacgan:mixture_loop",
    ("jax", "dcgan"): "jax_dcgan:dcgan_loop",
    ("jax", "wgan_gp"): "jax_dcgan:wgan_gp_loop",
    ("jax", "mixture"): "jax_pacgan:mixture_loop",
}


#: The hand-written loops that train the generator on the critic step's fakes (the PyTorch
#: DCGAN example's loop does); gancore runs these workloads with `reuse_fakes=True`, so that
#: both sides compute the same step. The others draw new noise for the generator, as
#: gancore does by default.
BASELINE_REUSES_FAKES = frozenset({("torch", "dcgan"), ("torch", "mixture")})


@attrs.frozen
class Job:
    """One row of the results: a workload (or one loss) on one backend, mode and batch."""

    id: int
    backend: str
    workload: str
    mode: str
    batch: int
    loss: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-able values."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        """The job `to_dict` wrote (the parent sends jobs to a child as JSON)."""
        return cls(**data)

    @property
    def label(self) -> str:
        """A short description for progress messages."""
        what = self.loss or self.workload
        return f"{self.backend} {what} {self.mode} batch {self.batch}"


def check_names(kind: str, given: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    """`given` names (None: all of `allowed`), checked against `allowed`, in `allowed` order."""
    if given is None:
        return tuple(allowed)
    names = [n for item in given for n in str(item).split(",") if n]
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise InvalidArgumentError(
            f"{kind} must be among {', '.join(allowed)}; received {', '.join(unknown)}"
        )
    return tuple(n for n in allowed if n in names)


def plan_jobs(backends: tuple[str, ...], workloads: tuple[str, ...],
              modes: tuple[str, ...] | None, losses: tuple[str, ...], quick: bool) -> list[Job]:
    """Every job of the run, by backend (one child process each), then mode.

    `modes` filters each backend's modes; None means all of them, or with `quick` only each
    backend's default (first) one, for the training steps and for the losses.
    """
    jobs: list[Job] = []
    for backend in backends:
        for mode in MODES:
            for name in workloads:
                w = WORKLOADS[name]
                allowed = (LOSS_MODES if w.is_losses else TRAIN_MODES).get(backend, ())
                wanted = allowed[:1] if quick else allowed
                if mode not in (wanted if modes is None else modes) or mode not in allowed:
                    continue
                for batch in w.quick_batches if quick else w.batches:
                    for loss in losses if w.is_losses else (None,):
                        jobs.append(Job(len(jobs), backend, name, mode, batch, loss))
    return jobs
