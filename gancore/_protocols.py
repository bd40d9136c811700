"""The interfaces of gancore, as `typing.Protocol`s.

Anything with the right methods is a generator, critic, loss, trainer or backend: plugins
need not inherit from gancore classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from gancore._ops import ArrayOps

__all__ = ["Backend", "Critic", "Generator", "Loss", "Trainer"]

Array = Any


@runtime_checkable
class Generator(Protocol):
    """Maps latent noise `z` (and optional integer labels) to samples."""

    def __call__(self, z: Array, labels: Array | None = None, /) -> Array: ...


@runtime_checkable
class Critic(Protocol):
    """Maps samples (and optional labels) to scores: one per sample, or a patch map."""

    def __call__(self, x: Array, labels: Array | None = None, /) -> Array: ...


@runtime_checkable
class Loss(Protocol):
    """The critic's and the generator's objectives for one step of one GAN family."""

    def critic_loss(self, real: Array, fake: Array) -> Array:
        """The critic's loss from its scores on real and on generated samples."""

    def generator_loss(self, fake: Array) -> Array:
        """The generator's loss from the critic's scores on generated samples."""


@runtime_checkable
class Trainer(Protocol):
    """Runs the alternating critic / generator updates."""

    def fit(self, steps: int) -> Mapping[str, float]:
        """Train for `steps` generator steps; returns the last logged metrics."""


@runtime_checkable
class Backend(Protocol):
    """What a deep-learning framework must provide to gancore: every member the core
    calls (the trainer, sampler, checkpoints, bench), and nothing else.

    A backend is a class registered under the ``gancore.backends`` entry-point group; the
    core instantiates it once (`gancore.backend(name)`), which is when it may import its
    framework. ``gancore.conformance`` is the test suite that checks all of this.

    Conventions at the boundary, for every member below:

    - **Arrays.** The core hands numpy arrays to `to_native` and reads results back with
      `to_numpy`. Floats cross as float32, integer labels as the framework's integer type;
      images cross as NHWC numpy in [-1, 1], and a backend whose networks want another
      layout (torch's NCHW) converts in `to_native` / `to_numpy` and nowhere else.
    - **Devices.** `device` arguments are the user's strings: ``"auto"`` (a GPU when the
      framework sees one, else the CPU), ``"cpu"``, or a framework-specific name such as
      ``"cuda:0"``; anything else is an `InvalidArgumentError` naming what is allowed.
    - **Randomness.** All of a training's randomness (noise, penalty weights, flipped
      labels, data order) is drawn by the core in numpy and passed to the steps as inputs.
      The only stream a backend owns is what happens inside its networks (dropout masks):
      seeded by `seed`, saved and restored by `random_state` / `set_random_state`.
    - **Networks.** `build_network` returns an object with ``net(*inputs, training=bool)``
      (inputs in ``spec.inputs`` order, native arrays; ``training`` selects batch
      statistics and dropout and is never taken from framework state), and
      ``trainable_parameters()``, ``get_state()`` / ``set_state(state)`` (every parameter
      and buffer as float32 numpy in the canonical names and layouts of `gancore.nn`),
      ``trainable_names()``, ``to_canonical(values)`` and ``from_canonical(arrays)``
      (`gancore.nn.CanonicalLayouts` gives the last three). Its outputs match
      `gancore.nn.forward_numpy` within float32 rounding, in inference and training mode.
      ``net(*inputs, training=bool, output=name)`` returns the node `name`'s output instead
      (running the nodes up to it only, `gancore.nn.node_index`; feature matching reads
      the critic's features so), an unknown name an `InvalidArgumentError` listing them.
    - **Updates.** An objective is a Python function the core writes once: it calls the
      networks and gancore's losses (which dispatch on the array type through `ops`) and
      returns ``(loss, metrics)``; metrics are native scalars the core reads only every
      ``log_every`` steps (keys starting with ``_`` carry arrays, such as CycleGAN's
      fakes). A backend compiles it however its framework compiles (torch autograd with
      optional `torch.compile`, `tf.function`, `jax.jit` over the networks' arrays) but
      must update exactly the optimizer's parameters with the gradient of ``loss``; every
      other network the objective calls is read, not trained, though its training-mode
      buffers are updated as an eager call would update them.
    - **Bit-stability.** The same inputs, state and random state give bit-identical
      results on one backend, machine and thread count (a resumed run ends where the
      uninterrupted one ends); across backends, results agree within the parity
      tolerance (a training step: rtol 2e-4, atol 2e-5).

    The core's numpy reference backend is not a `Backend`: it has `name`, `framework`,
    `array_modules`, `ops` and `describe` only, evaluates losses and metrics, and samples
    checkpoints through `gancore.training.NumpyNetwork`; the trainer refuses it.
    """

    name: ClassVar[str]
    framework: ClassVar[str]
    #: Top-level module names whose arrays belong to this backend (matched via sys.modules).
    array_modules: ClassVar[tuple[str, ...]]
    #: The losses' array operations on this backend's arrays (eager and traced).
    ops: ArrayOps

    @classmethod
    def describe(cls) -> Any:
        """A `BackendInfo` from package metadata, without importing the framework."""

    def resolve_device(self, device: str = "auto") -> Any:
        """The framework's device object for a device string (see the conventions)."""

    # --- arrays and networks ------------------------------------------------------------

    def to_native(self, x: Any, device: str = "auto") -> Any:
        """A numpy array as a native array on `device` (float32, or integer labels; images
        in the networks' layout)."""

    def to_numpy(self, x: Any) -> Any:
        """A native array as numpy, images back in NHWC."""

    def build_network(self, spec: Any, state: Mapping[str, Any], device: str = "auto") -> Any:
        """The native network for a portable `gancore.nn.NetworkSpec`, loaded with `state`
        (canonical names and layouts). A layer kind it cannot build raises
        `BackendUnsupportedError` naming it (and a backend may list such kinds in an
        optional ``unsupported_layers()``, which the conformance suite skips)."""

    def wrap_native(self, module: Any) -> Any:
        """A user's own framework module (a `NativeArchitecture`'s) behind the network
        interface, or `BackendUnsupportedError` where the backend has none; a module of
        the wrong kind is an `InvalidArgumentError` naming the kind it takes. The network's
        state (``get_state``) is the module's own, in the framework's names and layouts
        (``trainable_names``, ``to_canonical`` and ``from_canonical`` use them too), and
        ``copy()`` returns an independent wrapped copy of the module (the EMA generator)."""

    # --- training -----------------------------------------------------------------------

    def seed(self, seed: int) -> None:
        """Seed the backend's own random stream (dropout masks)."""

    def make_optimizer(self, config: Any, params: Any) -> Any:
        """An optimizer for an `OptimizerConfig` over ``trainable_parameters()`` of one or
        more networks, with PyTorch's arithmetic (``torch.optim`` Adam, RMSprop, SGD with
        momentum; `gancore.conformance.reference_updates` is the numpy statement)."""

    def set_learning_rate(self, optimizer: Any, lr: float) -> None:
        """Use `lr` from the next update on (schedules; must not recompile a step)."""

    def make_update(self, objective: Any, optimizer: Any, *, post: Any = None,
                    compile: bool = False) -> Any:
        """A callable ``update(inputs) -> metrics``: one step of `optimizer` on the gradient
        of ``objective(inputs)[0]``, then ``post()`` (weight clipping) if given. `inputs`
        is a dict of native arrays with the same shapes at every call of one update.
        `compile` asks for the framework's optional compiler (torch.compile, XLA). A
        `DistributedBackend` also takes ``workers=`` (passed only in a job of several)."""

    def make_joint_update(self, first: Any, first_optimizer: Any, second: Any,
                          second_optimizer: Any, *, post: Any = None,
                          compile: bool = False) -> Any:
        """One critic update then one generator update (``reuse_fakes``): ``first(inputs)
        -> (loss, metrics, carry)``, ``second(inputs, carry) -> (loss, metrics)``, where
        `carry` holds the fakes with the generator's graph; the call returns both metrics.
        The second loss's gradient reaches the generator through the carried fakes and is
        taken after the first update (the critic it sees is the updated one). Optional: a
        backend without it trains without ``reuse_fakes``.

        A backend whose class sets ``fuses_steps = True`` (optional, False when absent)
        also gets a fused step: ``first`` carries ``{}``, ``second`` makes its own fakes
        from its own inputs, and the two updates run as one call, the same updates as two
        `make_update` calls (for a framework where one compiled program per step is
        faster than two: JAX, TensorFlow)."""

    def no_grad(self) -> Any:
        """A context manager in which network calls record nothing for autodiff."""

    def ema_update(self, target: Any, source: Any, decay: float) -> None:
        """``target = target + (1 - decay) * (source - target)`` for aligned sequences of
        trainable parameters (torch's lerp), in place, outside any update."""

    def copy_values(self, target: Any, source: Any) -> None:
        """Copy aligned sequences of trainable parameters, in place."""

    def set_threads(self, threads: int) -> None:
        """Run the framework's ops on `threads` threads (a `GancoreError` where that can no
        longer change)."""

    # --- what checkpoints and resume need -----------------------------------------------

    def optimizer_state(self, optimizer: Any) -> Mapping[str, list[Any]]:
        """The optimizer's state as lists aligned with its parameters, in native layouts:
        ``step`` (per parameter; SGD: 1 once its momentum buffer exists) and the slots,
        named as torch names them (Adam ``exp_avg``, ``exp_avg_sq``; RMSprop
        ``square_avg``; SGD ``momentum_buffer``), zeros before the first update. The core
        converts them to the canonical layouts with each network's ``to_canonical``."""

    def set_optimizer_state(self, optimizer: Any, state: Mapping[str, list[Any]]) -> None:
        """Load an `optimizer_state` (native layouts): the next update is the one the saving
        optimizer would have made."""

    def random_state(self) -> Mapping[str, Any]:
        """The framework's own random streams (dropout masks) as numpy arrays."""

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Restore a `random_state` of this backend."""


@runtime_checkable
class DistributedBackend(Backend, Protocol):
    """A `Backend` that trains data-parallel (optional; see docs/distributed.md). The core
    checks for these members only in a job of several workers (a
    `gancore.distributed.Workers` with ``world_size > 1``), and then also passes
    ``workers=`` to `make_update` and `make_joint_update`: such an update averages the
    gradients of the trained parameters over the workers before the optimizer steps (a
    parameter without a gradient counts as zero), averages the scalar metrics in the same
    collective (keys starting with ``_`` stay local), and, when ``workers.sync_batch_norm``,
    makes training-mode batch normalisation inside the update use the global batch's
    statistics (differentiably; never outside updates, which not every worker runs). Every
    worker calls every member below at the same point of the program. A backend may also
    have ``leave_workers()`` (optional): `train` and `resume` call it when a worker's job
    ends or stops."""

    def init_workers(self, workers: Any, device: str = "auto") -> str:
        """Join the job (once per process; later calls check it is the same job) and return
        the device this worker trains on (its ``local_rank``'s GPU where there are GPUs)."""

    def broadcast(self, network: Any, workers: Any) -> None:
        """Worker 0's parameters and buffers of `network` into every worker's copy."""

    def any_worker(self, flag: bool, workers: Any) -> bool:
        """Whether `flag` is true on any worker (the workers agree to stop together)."""

    def all_gather(self, x: Any, workers: Any) -> Any:
        """Every worker's rows of the native array `x` (the same shape on each),
        concatenated in rank order, as a native array."""

    def global_mean(self, x: Any, workers: Any) -> Any:
        """The mean over axis 0 of every worker's rows of `x` (the same shape on each),
        called inside an update: differentiable, its backward pass summing each worker's
        gradient over the workers (as synchronised batch norm's statistics), so that a loss
        of a global batch mean (feature matching) has one process's gradient once the
        update averages the gradients."""
