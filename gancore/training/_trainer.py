"""The training loop, owned by the core; each backend compiles the steps natively.

All randomness is drawn here in numpy from the config's seed (noise, interpolation weights
of the gradient penalty, flipped labels, data order) and passed to the compiled steps as
inputs, so a seeded run is reproducible and a training step gives the same numbers on every
backend.
"""

from __future__ import annotations

import functools
import signal as signal_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from gancore import _registry
from gancore._backend import backend as get_backend
from gancore._errors import (
    GancoreError,
    InvalidArgumentError,
    NonFiniteError,
    PluginError,
    TrainingStopped,
)
from gancore.architectures import ArchitecturePair, NativeArchitecture
from gancore.data import Dataset, batches_for, is_data_source, iterate_batches
from gancore.data._random import generator_state, set_generator_state
from gancore.distributed import Workers
from gancore.losses import (
    LOSS_FAMILIES,
    class_logits_to_score,
    cycle_consistency_loss,
    gradient_penalty,
    identity_loss,
    label_flip_mask,
    least_squares_critic_loss,
    least_squares_generator_loss,
    nonsaturating_generator_loss,
    r1_penalty,
    semi_supervised_critic_loss,
)
from gancore.losses import clip_weights as _clip_weights
from gancore.nn import NetworkSpec, init_state, node_index
from gancore.training import _state
from gancore.training._config import TrainConfig
from gancore.training._replay import ReplayPool
from gancore.training._signals import stop_requests

__all__ = ["CycleGANTrainer", "GANTrainer", "SGANTrainer", "make_trainer", "resolve_loss"]

#: The prefix of the generator update's inputs among a fused step's (`GANTrainer`).
_FUSED = "generator:"

Array = Any
Metrics = Mapping[str, Array]


def resolve_loss(name: str) -> Any:
    """A loss family by name: gancore's own, or a plugin of the `gancore.losses` group. A
    plugin's loss is tried once on small numpy scores first: one that raises, or returns
    something other than one number, is a `PluginError` naming the plugin, not a crash in
    the middle of a training step."""
    if name in LOSS_FAMILIES:
        return LOSS_FAMILIES[name]
    loss = _registry.load_plugin("losses", name)
    if not (callable(getattr(loss, "critic_loss", None))
            and callable(getattr(loss, "generator_loss", None))):
        raise InvalidArgumentError(
            f"loss {name!r} must have critic_loss(real, fake) and generator_loss(fake); "
            f"received {type(loss).__name__}"
        )
    scores = np.array([[0.5], [-1.0]], np.float32), np.array([[-0.25], [2.0]], np.float32)
    for call, args in (("critic_loss", scores), ("generator_loss", scores[1:])):
        try:
            value = np.asarray(getattr(loss, call)(*args))
        except Exception as e:
            raise PluginError(
                f"loss {name!r} ({_registry.origin('losses', name)}) fails on numpy scores: "
                f"{call} raised {type(e).__name__}: {e}"
            ) from e
        if value.size != 1 or not np.issubdtype(value.dtype, np.number):
            raise PluginError(
                f"loss {name!r} ({_registry.origin('losses', name)}): {call} must return one "
                f"number; received {value.dtype} of shape {value.shape}"
            )
    return loss


def _reject_gan_options(trainer: str, config: TrainConfig, keep: tuple[str, ...] = ()) -> None:
    """The penalties and the reuse of fakes belong to GANTrainer's critic step; other
    algorithms must not drop them silently (those they support are in `keep`)."""
    off = {"gradient_penalty": 0, "r1_penalty": 0, "reuse_fakes": False, "diffaugment": None,
           "replay": 0, "feature_matching": None}
    for name, default in off.items():
        value = None if name in keep else getattr(config, name, default)
        if value:
            raise InvalidArgumentError(
                f"{name} must be {default} for {trainer} (its steps have no such option); "
                f"received {value!r}"
            )


class _Trainer:
    """What every algorithm shares: backend, seeds, the loop, callbacks, sampling."""

    algorithm = ""

    def __init__(self, architecture: ArchitecturePair, config: TrainConfig, *,
                 backend: str | Any = "torch", device: str = "auto",
                 callbacks: Iterable[Any] = (), compile: bool = False,
                 workers: Workers | None = None) -> None:
        if not isinstance(architecture, (ArchitecturePair, NativeArchitecture)):
            raise InvalidArgumentError(
                f"architecture must be an ArchitecturePair or a NativeArchitecture; received "
                f"{type(architecture).__name__}"
            )
        if not isinstance(config, TrainConfig):
            raise InvalidArgumentError(
                f"config must be a TrainConfig; received {type(config).__name__}"
            )
        self.architecture = architecture
        self.config = config
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        if not hasattr(self.backend, "make_update"):
            raise GancoreError(
                f"backend {self.backend.name!r} cannot train (it has no autodiff); "
                f"use 'torch' or 'tensorflow'"
            )
        if workers is not None and not isinstance(workers, Workers):
            raise InvalidArgumentError(
                f"workers must be a gancore.distributed.Workers or None; received "
                f"{type(workers).__name__}"
            )
        self.workers = workers or Workers()
        if self.workers.distributed:
            if not hasattr(self.backend, "init_workers"):
                raise GancoreError(
                    f"backend {self.backend.name!r} cannot train on several workers (it has "
                    f"no init_workers)"
                )
            self.workers.local_batch(config.batch_size)
            device = self.backend.init_workers(self.workers, device)
        self.device = device
        self.ops = self.backend.ops
        self.compile = compile
        self.callbacks = list(callbacks)
        seeds = np.random.SeedSequence(config.seed).generate_state(8)
        self._seeds = [int(s) for s in seeds]
        # Every worker draws the same global batch's randomness from this stream and keeps
        # its own rows (`_local`): the run does not depend on the number of workers.
        self.rng = np.random.default_rng(self._seeds[0])
        self.backend.seed(config.seed)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._lr_factor = 1.0
        # name -> (optimizer, base learning rate, {checkpoint name: network})
        self._optimizers: dict[str, tuple[Any, float, dict[str, Any]]] = {}
        self._fingerprints: list[str] | None = None

    # --- building blocks ------------------------------------------------------------------

    def _build(self, spec: NetworkSpec, seed: int, state: Mapping[str, np.ndarray] | None = None
               ) -> Any:
        return self.backend.build_network(spec, state or init_state(spec, seed), self.device)

    def _optimizer(self, name: str, config: Any, nets: Mapping[str, Any]) -> Any:
        """The optimizer `name` over `nets` (by their checkpoint names, which key its state)."""
        params = [p for net in nets.values() for p in net.trainable_parameters()]
        opt = self.backend.make_optimizer(config, params)
        self._optimizers[name] = (opt, config.lr, dict(nets))
        return opt

    def native(self, x: Any) -> Array:
        """A numpy array as an input of the compiled steps (layout converted)."""
        return self.backend.to_native(x, self.device)

    def _local(self, rows: np.ndarray) -> Array:
        """This worker's rows of a global batch's array, as a step input."""
        return self.native(self.workers.shard(rows))

    def _global_rows(self, x: Array) -> np.ndarray:
        """Every worker's rows of a step output, in rank order, as numpy."""
        if self.workers.distributed:
            x = self.backend.all_gather(x, self.workers)
        return self.backend.to_numpy(x)

    def _global_labels(self, labels: Array) -> np.ndarray:
        """Every worker's rows of a step input of class labels, in rank order, as numpy
        int64 (gathered as float32, exact for class ids: a framework's gather may take
        floats only)."""
        local = np.asarray(self.backend.to_numpy(labels))
        if not self.workers.distributed:
            return local.astype(np.int64)
        gathered = self._global_rows(self.native(local.astype(np.float32)))
        return np.rint(gathered).astype(np.int64)

    def _make_update(self, objective: Any, optimizer: Any, post: Any = None) -> Any:
        """A backend update; in a data-parallel job it averages over the workers."""
        extra = {"workers": self.workers} if self.workers.distributed else {}
        return self.backend.make_update(objective, optimizer, post=post,
                                        compile=self.compile, **extra)

    def _sync_workers(self) -> None:
        """Start every worker from rank 0's networks (the same seed builds the same ones;
        a native module's initialisation may differ)."""
        if self.workers.distributed:
            for net in self._own_networks():
                self.backend.broadcast(net, self.workers)
            if self.workers.rank:
                # Dropout masks: each worker its own stream, rank 0 the one-process stream.
                seed = np.random.SeedSequence([self.config.seed, self.workers.rank])
                self.backend.seed(int(seed.generate_state(1)[0] % 2**31))

    def _noise(self, n: int, latent_dim: int) -> np.ndarray:
        from gancore.training._sampling import make_noise

        return make_noise(n, latent_dim, self.rng, self.config.noise)

    def _diffaugment(self, policy: str | None, data: Any) -> None:
        """Set the DiffAugment of ``config.diffaugment`` (`_augment`, None when off),
        checked against `data`'s samples, and the backend's image layout inside the steps."""
        self._augment: Any = None
        if policy is None:
            return
        shape = tuple(data.shape)
        if len(shape) != 3:
            raise InvalidArgumentError(
                f"diffaugment needs image samples of shape (height, width, channels); "
                f"received {data.name!r} samples of shape {shape}"
            )
        from gancore.augment import DiffAugment

        probe = self.native(np.zeros((1, 2, 3, 1), np.float32))
        self._channels_first = tuple(self.ops.shape(probe)) == (1, 1, 2, 3)
        self._augment_shape = shape
        self._augment = DiffAugment(policy=tuple(p.strip() for p in policy.split(",")))

    def _augment_inputs(self, which: str, n: int) -> dict[str, Array]:
        """DiffAugment's parameters for `n` global samples (``aug_<which>_<name>``), drawn
        from the loop's stream and sharded like the batch; none when augmentation is off."""
        if self._augment is None:
            return {}
        params = self._augment.draw(self.rng, n, self._augment_shape)
        return {f"aug_{which}_{k}": self._local(v) for k, v in params.items()}

    def _augmented(self, x: Array, inputs: Mapping[str, Array], which: str) -> Array:
        """`x` augmented with the parameters ``aug_<which>_*`` of `inputs` (as is when off)."""
        if self._augment is None:
            return x
        prefix = f"aug_{which}_"
        params = {k[len(prefix):]: v for k, v in inputs.items() if k.startswith(prefix)}
        return self._augment.apply(x, params, channels_first=self._channels_first)

    def _set_learning_rates(self) -> None:
        factor = self.config.learning_rate_factor(self.step)
        if factor != self._lr_factor:
            for opt, lr, _ in self._optimizers.values():
                self.backend.set_learning_rate(opt, lr * factor)
            self._lr_factor = factor

    def _to_floats(self, metrics: Metrics) -> dict[str, float]:
        return {k: float(self.ops.to_numpy(v)) for k, v in metrics.items()
                if not k.startswith("_")}

    # --- the loop -------------------------------------------------------------------------

    def train_step(self) -> Metrics:
        """One generator update and its critic updates; returns native metrics."""
        raise NotImplementedError

    def fit(self, steps: int | None = None, *, handle_signals: bool = True,
            progress: bool | None = None) -> dict[str, float]:
        """Train until step ``config.steps`` (or for `steps` more steps); returns the last
        logged metrics. A restored trainer (`restore`) continues where its run stopped.

        Callbacks see every step; metrics are read back every ``log_every`` steps and at the
        end, so the loop never waits on the device in between, and a nan or inf among them
        stops training with a `NonFiniteError` naming the step. With `handle_signals`,
        SIGINT and SIGTERM finish the current step, let the callbacks save (a checkpoint
        callback writes one) and raise `TrainingStopped`. ``on_train_end`` runs in the
        reverse order of the callbacks (the checkpoint, last in a run's list, is written
        before anything else can fail).

        `progress`: None (the default) shows a progress bar when the trainer was built
        without callbacks (on worker 0 of a data-parallel job), True shows one beside its
        callbacks (unless one of them is a `ProgressBar`), False shows none of its own.
        """
        if progress or (progress is None and not self.callbacks and self.workers.is_main):
            from gancore.training._callbacks import ProgressBar

            if not any(isinstance(cb, ProgressBar) for cb in self.callbacks):
                bar = ProgressBar()
                self.callbacks.insert(0, bar)
                try:
                    return self.fit(steps, handle_signals=handle_signals, progress=False)
                finally:
                    self.callbacks.remove(bar)
        target = self._target(steps)
        last = dict(self.history[-1]) if self.history else {}
        try:
            with stop_requests(handle_signals) as stop:
                for cb in self.callbacks:
                    cb.on_train_begin(self, target - self.step)
                while self.step < target:
                    self._set_learning_rates()
                    metrics = self.train_step()
                    self.step += 1
                    logged = None
                    if self.step % self.config.log_every == 0 or self.step == target:
                        logged = {"step": float(self.step), **self._to_floats(metrics)}
                        _check_finite_metrics(logged, self.step)
                        self.history.append(logged)
                        last = logged
                    for cb in self.callbacks:
                        cb.on_step_end(self, self.step, logged)
                    stopping = stop.signal is not None
                    if self.workers.distributed:  # all stop after the same step
                        stopping = self.backend.any_worker(stopping, self.workers)
                    if stopping and self.step < target:
                        signal = stop.signal or signal_module.SIGTERM
                        for cb in self.callbacks:
                            cb.on_stop(self, signal)
                        by = stop.name if stop.signal is not None else "another worker's stop"
                        raise TrainingStopped(
                            f"training stopped by {by} at step {self.step} of {target}",
                            step=self.step, signal=signal)
                for cb in reversed(self.callbacks):
                    cb.on_train_end(self)
        except BaseException as error:
            for cb in self.callbacks:
                cb.on_train_error(self, error)
            raise
        return last

    def _target(self, steps: int | None) -> int:
        if steps is None:
            if self.config.steps <= self.step:
                raise InvalidArgumentError(
                    f"the run is at step {self.step} of its {self.config.steps} steps: raise "
                    f"config.steps (--steps) to train further; received steps=None"
                )
            return self.config.steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise InvalidArgumentError(f"steps must be an int >= 1; received {steps!r}")
        return self.step + steps

    # --- state: checkpoints and resume ------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The loop's own state: step, logged history and the noise generator."""
        return {"step": self.step, "history": [dict(h) for h in self.history],
                "rng": generator_state(self.rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.step = int(state["step"])
        self.history = [dict(h) for h in state["history"]]
        set_generator_state(self.rng, state["rng"])

    def optimizers(self) -> dict[str, tuple[Any, dict[str, Any]]]:
        """Each optimizer by name, with the networks it updates by their checkpoint names."""
        return {name: (opt, nets) for name, (opt, _, nets) in self._optimizers.items()}

    def stateful_parts(self) -> dict[str, Any]:
        """The loop's other parts with state (data iterators, pools), by name."""
        return {}

    def datasets(self) -> list[Dataset]:
        """The data the run trains on."""
        return []

    def data_fingerprints(self) -> list[str]:
        """A hash of each of `datasets()` (computed once)."""
        if self._fingerprints is None:
            self._fingerprints = [_state.data_fingerprint(d) for d in self.datasets()]
        return self._fingerprints

    def restore(self, checkpoint: Any) -> None:
        """Continue a run from a checkpoint (a `Checkpoint`, its folder or a run folder):
        every network, the optimizers, random streams, data position, step and history. The
        trainer must be built from the same architecture, data and config; a setting that
        would change the run raises a `CheckpointError` naming it (``steps``, ``log_every``,
        ``sample_every`` and ``checkpoint_every`` may change). A checkpoint of another
        backend continues within the backends' parity tolerance."""
        from gancore.training._checkpoint import Checkpoint, load_checkpoint

        ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        state = ckpt.training_state()
        _state.check_resumable(ckpt.meta, self, str(ckpt.path))
        self.load_state(ckpt.arrays)
        _state.restore(self, state)
        self._lr_factor = float("nan")  # set the learning rates of the restored step
        self._sync_workers()

    def networks(self) -> dict[str, Any]:
        """The native networks by their checkpoint names."""
        raise NotImplementedError

    def _own_networks(self) -> list[Any]:
        """The networks the trainer holds (`networks()` may derive some, like the EMA
        generator with fresh statistics)."""
        return list(self.networks().values())

    def specs(self) -> dict[str, NetworkSpec]:
        """The portable spec of each network in `networks()`."""
        raise NotImplementedError

    def save(self, path: str | Any) -> Any:
        """Write a checkpoint folder (atomically); returns its path."""
        from gancore.training._checkpoint import save_checkpoint

        return save_checkpoint(path, self)

    def load_state(self, arrays: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Load network states by checkpoint name (from `load_checkpoint(...).arrays`)."""
        nets = self.networks()
        for name, state in arrays.items():
            if name not in nets:
                raise InvalidArgumentError(
                    f"checkpoint network must be one of {', '.join(nets)}; received {name!r}"
                )
            nets[name].set_state(dict(state))


class GANTrainer(_Trainer):
    """Standard, non-saturating, label-flipping, WGAN, WGAN-GP and conditional GANs.

    The loss family comes from ``config.loss``; ``config.gradient_penalty > 0`` adds the
    WGAN-GP penalty, ``config.r1_penalty > 0`` the R1 penalty on real samples (Mescheder et
    al. 2018), ``config.clip_value`` clips the critic's weights after each update
    (the original WGAN), ``n_critic`` critic updates precede each generator update. A
    conditional architecture trains on the dataset's labels: the fakes of a critic step use
    the real batch's labels, those of a generator step uniformly drawn ones; with experience
    replay (``config.replay``) a past fake in a critic batch is judged with the label it was
    made for (the WGAN-GP penalty's interpolates with the real batch's labels).
    """

    algorithm = "gan"
    kinds: tuple[str, ...] = ("gan", "conditional")

    def __init__(self, architecture: ArchitecturePair, data: Dataset,
                 config: TrainConfig | None = None, **kwargs: Any) -> None:
        config = config or TrainConfig(algorithm=self.algorithm)
        super().__init__(architecture, config, **kwargs)
        if architecture.kind not in self.kinds:
            raise InvalidArgumentError(
                f"architecture.kind must be one of {', '.join(map(repr, self.kinds))} for "
                f"{type(self).__name__}; received {architecture.kind!r}"
            )
        self.data = data
        self.conditional = architecture.kind == "conditional"
        self.num_classes = architecture.num_classes
        self.latent_dim = int(architecture.latent_dim or 0)
        self._check_data(data)
        self.loss = resolve_loss(config.loss)
        if (config.flip_fraction or config.smoothing) and not getattr(self.loss, "targets", False):
            raise InvalidArgumentError(
                f"flip_fraction and smoothing need a loss with targets (minimax, "
                f"nonsaturating, least_squares); received loss {config.loss!r}"
            )
        self.native_architecture = isinstance(architecture, NativeArchitecture)
        if self.native_architecture:
            device = self.backend.resolve_device(self.device)
            native = architecture.build(self.backend.name, device)  # type: ignore[attr-defined]
            self.G, self.D = (self.backend.wrap_native(m) for m in native)
        else:
            self.G = self._build(architecture.generator, self._seeds[1])
            self.D = self._build(architecture.critic, self._seeds[2])
        self._check_feature_matching(config.feature_matching)
        self.G_ema, self._ema_statistics_fresh = None, False
        if config.ema_decay is not None and self.native_architecture:
            self.G_ema = self.G.copy()  # the backend's copy of the module
        elif config.ema_decay is not None:
            self.G_ema = self._build(architecture.generator, 0, self.G.get_state())
        self.opt_g = self._optimizer("generator", config.generator_optimizer,
                                     {"generator": self.G})
        self.opt_d = self._optimizer("critic", config.critic_optimizer, {"critic": self.D})
        post = self._clip if config.clip_value is not None else None
        if config.r1_final is not None and config.r1_penalty == 0:
            raise InvalidArgumentError(
                f"r1_final needs an R1 penalty to decay (r1_penalty > 0); received "
                f"r1_final {config.r1_final} with r1_penalty 0"
            )
        # Lazy R1: the penalised update (gamma * interval) runs on every interval-th critic
        # update, a second compiled update without the penalty on the others.
        objective, self._d_update_lazy, self._last_r1 = self._critic_objective, None, None
        if config.r1_penalty > 0 and config.r1_interval > 1:
            k = config.r1_interval

            def objective(inputs: Mapping[str, Array]) -> tuple[Array, Metrics]:
                return self._critic_objective(inputs, k * config.r1_penalty)

            self._d_update_lazy = self._make_update(
                lambda inputs: self._critic_objective(inputs, 0.0), self.opt_d, post)
        self._d_update = self._make_update(objective, self.opt_d, post)
        self._g_update = self._make_update(self._generator_objective, self.opt_g)
        # reuse_fakes: the last critic update of a step and the generator update run as one,
        # the generator's forward pass kept from the first for the second. Without it, the
        # two run as one call where the backend says one is faster (`fuses_steps`: JAX,
        # one compiled program per step as JAX loops are written): the same updates in the
        # same order on the same inputs, the generator's drawn before the critic updates,
        # as they are when nothing draws between the two (experience replay does).
        self._joint: dict[bool, Any] = {}
        self._fused = (not config.reuse_fakes and config.replay == 0
                       and bool(getattr(self.backend, "fuses_steps", False))
                       and hasattr(self.backend, "make_joint_update"))
        if config.reuse_fakes and not hasattr(self.backend, "make_joint_update"):
            raise GancoreError(
                f"backend {self.backend.name!r} cannot reuse the critic's fakes (it has "
                f"no make_joint_update); set reuse_fakes=False"
            )
        if config.reuse_fakes or self._fused:
            gammas = {False: None if config.r1_interval == 1 else
                      config.r1_interval * config.r1_penalty}
            if self._d_update_lazy is not None:
                gammas[True] = 0.0
            extra = {"workers": self.workers} if self.workers.distributed else {}
            first, second = (
                (self._critic_objective_fused, self._generator_objective_fused)
                if self._fused else
                (functools.partial(self._critic_objective, keep_fakes=True),
                 self._generator_objective_on))
            for off, gamma in gammas.items():
                self._joint[off] = self.backend.make_joint_update(
                    functools.partial(first, r1_weight=gamma), self.opt_d, second, self.opt_g,
                    post=post, compile=self.compile, **extra)
        # Each worker reads only its rows of the global batch.
        self._batches = batches_for(
            data, config.batch_size * architecture.packing, seed=self._seeds[3],
            hflip=config.hflip, shard=(self.workers.rank, self.workers.world_size),
        )
        self._diffaugment(config.diffaugment, data)
        # A conditional pool keeps each fake's label: a past fake is judged with its own.
        self._replay = ReplayPool(config.replay, config.replay_fraction,
                                  self.num_classes if self.conditional else None) \
            if config.replay else None
        from gancore.training._sampling import make_noise

        self.fixed_noise = make_noise(config.grid_size, self.latent_dim, self._seeds[4],
                                      config.noise)
        self.fixed_labels = (
            np.arange(config.grid_size) % (self.num_classes or 1) if self.conditional else None
        )
        self._sync_workers()

    def _check_data(self, data: Dataset) -> None:
        if not is_data_source(data):
            raise InvalidArgumentError(f"data must be a Dataset, a StreamingDataset or an "
                                       f"IterableSource; received {type(data).__name__}")
        if isinstance(self.architecture, NativeArchitecture):
            if tuple(data.shape) != self.architecture.sample_shape:
                raise InvalidArgumentError(
                    f"data samples must have the architecture's sample shape "
                    f"{self.architecture.sample_shape}; received {data.name!r} samples of "
                    f"shape {tuple(data.shape)}"
                )
            self._check_labels(data)
            return
        sample_shape = tuple(self.architecture.generator.output_shape)
        if tuple(data.shape) != sample_shape:
            raise InvalidArgumentError(
                f"data samples must have the generator's output shape {sample_shape}; "
                f"received {data.name!r} samples of shape {tuple(data.shape)}"
            )
        critic_shape = tuple(self.architecture.critic.inputs[0].shape)
        m = self.architecture.packing
        packed = (sample_shape[0] * m, *sample_shape[1:])
        if critic_shape != packed:
            raise InvalidArgumentError(
                f"the critic's input shape must be the sample shape packed {m} time(s), "
                f"{packed}; received {critic_shape}"
            )
        if self.architecture.packing > 1 and (len(sample_shape) != 1 or self.conditional):
            raise InvalidArgumentError(
                f"packing > 1 needs unconditional 1-D samples; received samples of shape "
                f"{sample_shape}{' with labels' if self.conditional else ''}"
            )
        self._check_labels(data)

    def _check_labels(self, data: Dataset) -> None:
        if self.conditional and (data.labels is None or data.num_classes != self.num_classes):
            raise InvalidArgumentError(
                f"a conditional architecture needs labelled data with {self.num_classes} "
                f"classes; received {data.name!r} with num_classes={data.num_classes}"
            )

    def _check_feature_matching(self, node: str | None) -> None:
        """``config.feature_matching`` must name a node of a portable critic."""
        if node is None:
            return
        if self.native_architecture:
            raise InvalidArgumentError(
                f"feature_matching must be None for a NativeArchitecture (its critic has no "
                f"named nodes); received {node!r}")
        try:
            node_index(self.architecture.critic, node)
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"feature_matching: {e}") from None

    def _clip(self) -> None:
        _clip_weights(self.D.trainable_parameters(), float(self.config.clip_value or 0.0))

    def _pack(self, x: Array) -> Array:
        m = self.architecture.packing
        if m == 1:
            return x
        return self.ops.reshape(x, (-1, self.ops.shape(x)[-1] * m))

    def _critic_objective(self, inputs: Mapping[str, Array], r1_weight: float | None = None,
                          keep_fakes: bool = False) -> Any:
        """The critic's loss on one batch; ``r1_weight`` overrides the R1 penalty's gamma
        (0: no penalty, the off-steps of a lazy R1). With `keep_fakes` the fakes are made
        with the generator's graph and returned third, for `_generator_objective_on`."""
        ops, cfg = self.ops, self.config
        gamma = cfg.r1_penalty if r1_weight is None else r1_weight
        cond = (inputs["labels"],) if self.conditional else ()
        if keep_fakes:
            made = self.G(inputs["z"], *cond, training=True)
        else:
            with self.backend.no_grad():
                made = self.G(inputs["z"], *cond, training=True)
        # The penalties see what the critic sees: the augmented samples (DiffAugment).
        real = self._pack(self._augmented(inputs["x"], inputs, "real"))
        fake = ops.stop_gradient(made)
        if "replay_mask" in inputs:  # experience replay: past fakes where the mask is 1
            mask = inputs["replay_mask"]
            fake = fake * (1.0 - mask) + inputs["replayed"] * mask
        fake = self._pack(self._augmented(fake, inputs, "fake"))

        def critic(v: Array) -> Array:
            return self.D(v, *cond, training=True)

        r1 = None
        if gamma > 0:
            # One pass of the critic over the real batch serves its loss and the penalty.
            r1, d_real = r1_penalty(critic, real, gamma, return_scores=True)
            if "r1_scale" in inputs:
                r1 = r1 * inputs["r1_scale"][0]
        else:
            d_real = critic(real)
        # A replayed conditional fake is judged with the label it was made for.
        fake_cond = (inputs["fake_labels"],) if "fake_labels" in inputs else cond
        d_fake = self.D(fake, *fake_cond, training=True)
        options: dict[str, Any] = {}
        if cfg.smoothing:
            options["smoothing"] = cfg.smoothing
        if "flip_mask" in inputs:
            options["flip_mask"] = inputs["flip_mask"]
        loss = self.loss.critic_loss(d_real, d_fake, **options)
        metrics = {"d_loss": loss, "d_real": ops.mean(d_real), "d_fake": ops.mean(d_fake)}
        if cfg.gradient_penalty > 0:
            penalty = gradient_penalty(
                critic, real, fake, cfg.gradient_penalty,
                eps=inputs["eps"], one_sided=cfg.one_sided_penalty,
            )
            loss = loss + penalty
            metrics["gp"] = penalty
        if r1 is not None:
            loss = loss + r1
            # Logged at the config's gamma, whatever a lazy step weighs it by.
            metrics["r1"] = r1 if gamma == cfg.r1_penalty else r1 * (cfg.r1_penalty / gamma)
        if self._replay is not None:
            metrics["_fake"] = made  # the fresh fakes, for the pool
        metrics = {k: ops.stop_gradient(v) for k, v in metrics.items()}
        return (loss, metrics, {"fake": made}) if keep_fakes else (loss, metrics)

    def _critic_objective_fused(self, inputs: Mapping[str, Array],
                                r1_weight: float | None = None) -> Any:
        """The critic's objective in a fused step: nothing carried to the generator's
        (`r1_weight` None: the trainer's own objective, as SGAN's, which has no R1)."""
        loss, metrics = (self._critic_objective(inputs) if r1_weight is None
                         else self._critic_objective(inputs, r1_weight))
        return loss, metrics, {}

    def _generator_objective_fused(self, inputs: Mapping[str, Array],
                                   carry: Mapping[str, Array]) -> tuple[Array, Metrics]:
        """The generator's objective in a fused step, on its own inputs (`_FUSED` keys)."""
        return self._generator_objective(
            {k[len(_FUSED):]: v for k, v in inputs.items() if k.startswith(_FUSED)})

    def _generator_objective(self, inputs: Mapping[str, Array]) -> tuple[Array, Metrics]:
        cond = (inputs["labels"],) if self.conditional else ()
        return self._generator_objective_on(
            inputs, {"fake": self.G(inputs["z"], *cond, training=True)})

    def _generator_objective_on(self, inputs: Mapping[str, Array], carry: Mapping[str, Array]
                                ) -> tuple[Array, Metrics]:
        """The generator's loss on fakes made from `inputs` (their labels, if conditional),
        augmented as `inputs` say (the critic's fakes' augmentation with ``reuse_fakes``)."""
        cond = (inputs["labels"],) if self.conditional else ()
        fake = self._pack(self._augmented(carry["fake"], inputs, "fake"))
        if self.config.feature_matching is not None:
            # The reals' labels: the critic batch's (`real_labels`), or with reuse_fakes
            # the critic inputs' own, which the fakes share.
            real_cond = (inputs.get("real_labels", inputs.get("labels")),) if cond else ()
            loss = self._feature_matching_loss(inputs, (fake, *cond), real_cond)
        else:
            loss = self.loss.generator_loss(self.D(fake, *cond, training=True))
        return loss, {"g_loss": self.ops.stop_gradient(loss)}

    def _feature_matching_loss(self, inputs: Mapping[str, Array], fake_inputs: tuple,
                               real_cond: tuple = ()) -> Array:
        """Feature matching (Salimans et al. 2016): the squared distance between the batch
        means of the critic node ``config.feature_matching`` on the step's real batch
        (``x``, augmented as the critic saw it) and on the fakes, summed over features."""
        ops, node = self.ops, self.config.feature_matching
        real = self._pack(self._augmented(inputs["x"], inputs, "real"))
        with self.backend.no_grad():
            f_real = self.D(real, *real_cond, training=True, output=node)
        f_fake = self.D(*fake_inputs, training=True, output=node)
        gap = self._batch_mean(ops.stop_gradient(f_real)) - self._batch_mean(f_fake)
        return ops.sum(gap * gap)

    def _batch_mean(self, x: Array) -> Array:
        """The mean over the global batch's rows: on several workers, of every worker's
        rows (the loss of a batch mean is not an average of the workers' losses)."""
        if self.workers.distributed:
            return self.backend.global_mean(x, self.workers)
        return self.ops.mean(x, axis=0)

    def _step_reals(self, inputs: Mapping[str, Array]) -> dict[str, Array]:
        """What feature matching takes from the last critic update's inputs into the
        generator update: its real batch, the reals' augmentation and labels."""
        if self.config.feature_matching is None:
            return {}
        reals = {k: v for k, v in inputs.items() if k == "x" or k.startswith("aug_real_")}
        if self.conditional:
            reals["real_labels"] = inputs["labels"]
        return reals

    def critic_inputs(self) -> dict[str, Array]:
        """The next critic step's inputs: a real batch and its noise and randomness."""
        cfg = self.config
        batch = next(self._batches)  # this worker's rows
        n = cfg.batch_size * self.architecture.packing
        inputs = {"x": self.native(batch.images),
                  "z": self._local(self._noise(n, self.latent_dim))}
        if self.conditional:
            inputs["labels"] = self.native(batch.labels)
        critic_batch = n // self.architecture.packing
        if cfg.gradient_penalty > 0:
            inputs["eps"] = self._local(self.rng.random(critic_batch).astype(np.float32))
        if cfg.flip_fraction:
            mask = label_flip_mask(critic_batch, cfg.flip_fraction, self.rng)
            inputs["flip_mask"] = self._local(mask.astype(np.float32))
        if cfg.r1_final is not None:
            # The scheduled gamma enters as an input: a compiled step is traced once.
            inputs["r1_scale"] = self.native(np.full(1, cfg.r1_factor(self.step), np.float32))
        if self._replay is not None:
            inputs.update(self._replay_inputs(n, batch.labels if self.conditional else None))
        return {**inputs, **self._augment_inputs("real", n), **self._augment_inputs("fake", n)}

    def _replay_inputs(self, n: int, labels: np.ndarray | None = None) -> dict[str, Array]:
        """Experience replay's inputs for `n` global fakes: the stored fakes chosen
        (``replayed``) and where they replace fresh ones (``replay_mask``); with this
        worker's fresh `labels` (a conditional GAN), the labels the critic judges the fakes
        with (``fake_labels``): the fresh ones, and a replayed fake's own stored label."""
        assert self._replay is not None
        replayed, mask, stored = self._replay.draw_with_labels(n, tuple(self.data.shape),
                                                               self.rng)
        inputs = {"replayed": self._local(replayed), "replay_mask": self._local(mask)}
        if labels is not None and stored is not None:
            mine = self.workers.shard(mask.reshape(n) > 0)
            inputs["fake_labels"] = self.native(
                np.where(mine, self.workers.shard(stored), labels).astype(labels.dtype))
        return inputs

    def generator_inputs(self) -> dict[str, Array]:
        """The next generator step's inputs: noise (and labels drawn uniformly)."""
        n = self.config.batch_size * self.architecture.packing
        inputs = {"z": self._local(self._noise(n, self.latent_dim))}
        if self.conditional:
            inputs["labels"] = self._local(self.rng.integers(0, self.num_classes, n))
        return {**inputs, **self._augment_inputs("fake", n)}

    def train_step(self) -> Metrics:
        cfg = self.config
        for i in range(cfg.n_critic):
            # Counted from the step, so a resumed run keeps the lazy R1's phase.
            update = self.step * cfg.n_critic + i
            off = bool(self._d_update_lazy is not None and update % cfg.r1_interval)
            inputs = self.critic_inputs()
            if self._joint and i == cfg.n_critic - 1:  # with the generator update
                if self._fused:  # the generator's inputs, drawn as the next ones
                    g_inputs = {**self.generator_inputs(), **self._step_reals(inputs)}
                    inputs = {**inputs, **{_FUSED + k: v for k, v in g_inputs.items()}}
                d_metrics = {**self._joint[off](inputs)}
            else:
                d_metrics = {**(self._d_update_lazy if off else self._d_update)(inputs)}
            if self._replay is not None:  # the pool sees the global batch's fakes
                made_for = self._global_labels(inputs["labels"]) if self.conditional else None
                self._replay.add(self._global_rows(d_metrics.pop("_fake")), self.rng, made_for)
            if not off:
                self._last_r1 = d_metrics.get("r1")
            elif self._last_r1 is not None:
                d_metrics["r1"] = self._last_r1
        g_metrics = {} if self._joint else self._g_update(
            {**self.generator_inputs(), **self._step_reals(inputs)})
        if self.G_ema is not None:
            self.backend.ema_update(self.G_ema.trainable_parameters(),
                                    self.G.trainable_parameters(), self.config.ema_decay)
            self._ema_statistics_fresh = False
        return {**d_metrics, **g_metrics}

    def sampling_generator(self) -> Any:
        """The generator used for samples: the EMA copy when there is one, else the
        generator. The EMA copy's batch-norm statistics are its own standing statistics
        (`standing_statistics`, recomputed once after each change of its weights): no
        training batch went through the averaged weights, so neither its running buffers
        nor the live generator's describe them. A native generator's EMA copy takes the
        live generator's buffers instead."""
        if self.G_ema is None:
            return self.G
        if not self._ema_statistics_fresh and self.native_architecture:
            # A native module's buffers are unknown to gancore: the EMA copy takes the
            # generator's, as StyleGAN2-ADA's copies them.
            trained = set(self.G_ema.trainable_names())
            self.G_ema.set_state({**self.G_ema.get_state(), **{
                k: v for k, v in self.G.get_state().items() if k not in trained}})
            self._ema_statistics_fresh = True
        elif not self._ema_statistics_fresh:
            from gancore.training._sampling import standing_statistics

            standing_statistics(self.backend, self.G_ema, self.architecture,
                                seed=self._seeds[7], device=self.device,
                                noise_kind=self.config.noise)
            self._ema_statistics_fresh = True
        return self.G_ema

    def sample(self, n: int, labels: Any = None, seed: int | None = None,
               noise: np.ndarray | None = None) -> np.ndarray:
        """`n` samples as numpy (NHWC images in [-1, 1]), generated in inference mode.

        ``labels``: one int for all, or ``n`` ints (conditional models; default: cycling
        through the classes). ``seed`` fixes the noise; ``noise`` gives it explicitly.
        """
        from gancore.training._sampling import generate

        return generate(self.backend, self.sampling_generator(), self.architecture, n,
                        labels=labels, seed=seed, noise=noise, device=self.device,
                        noise_kind=self.config.noise)

    def load_state(self, arrays: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        super().load_state(arrays)
        self._ema_statistics_fresh = False

    def state_dict(self) -> dict[str, Any]:
        # A lazy R1 run logs the last penalised update's r1 on the updates between.
        last = None if self._last_r1 is None else np.asarray(
            self.ops.to_numpy(self._last_r1), np.float32)
        return {**super().state_dict(), "last_r1": last}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        # A checkpoint's EMA buffers are the standing statistics of its EMA weights.
        self._ema_statistics_fresh = True
        last = state.get("last_r1")
        self._last_r1 = None if last is None else self.native(np.asarray(last, np.float32))

    def stateful_parts(self) -> dict[str, Any]:
        parts = {"batches": self._batches}
        return {**parts, "replay": self._replay} if self._replay is not None else parts

    def datasets(self) -> list[Dataset]:
        return [self.data]

    def _own_networks(self) -> list[Any]:
        return [n for n in (self.G, self.D, self.G_ema) if n is not None]

    def networks(self) -> dict[str, Any]:
        nets = {"generator": self.G, "critic": self.D}
        if self.G_ema is not None:
            nets["generator_ema"] = self.sampling_generator()
        return nets

    def specs(self) -> dict[str, NetworkSpec]:
        if self.native_architecture:
            return {}
        specs = {"generator": self.architecture.generator, "critic": self.architecture.critic}
        if self.G_ema is not None:
            specs["generator_ema"] = self.architecture.generator
        return specs


class SGANTrainer(GANTrainer):
    """The semi-supervised GAN (Salimans et al. 2016; Odena 2016; GANs in Action ch. 7).

    The critic is a K-class classifier; its real/fake logit is the logsumexp of its class
    logits. It learns the classes from ``config.num_labeled`` labelled samples (balanced
    over the classes, fixed by the seed) and real/fake from all the data.
    """

    algorithm = "sgan"
    kinds = ("semi_supervised",)

    def __init__(self, architecture: ArchitecturePair, data: Dataset,
                 config: TrainConfig | None = None, **kwargs: Any) -> None:
        config = config or TrainConfig(algorithm=self.algorithm)
        _reject_gan_options(type(self).__name__, config,
                            keep=("feature_matching", "diffaugment", "replay"))
        labelled = is_data_source(data) and data.labels is not None
        if not labelled or data.num_classes != architecture.num_classes:
            raise InvalidArgumentError(
                f"the semi-supervised GAN needs labelled data with {architecture.num_classes} "
                f"classes; received {data.name!r} with num_classes={data.num_classes}"
            )
        super().__init__(architecture, data, config, **kwargs)
        self.labeled_indices = _balanced_indices(data, config.num_labeled, self._seeds[5])
        self.labeled = data.subset(self.labeled_indices)
        self._labeled_batches = iterate_batches(
            self.labeled, min(config.batch_size, len(self.labeled)), seed=self._seeds[6]
        )

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "labeled_indices": self.labeled_indices.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        # The run's labelled subset, whatever this version would pick for the seed.
        self.labeled_indices = np.asarray(state["labeled_indices"], np.int64)
        self.labeled = self.data.subset(self.labeled_indices)
        self._labeled_batches.dataset = self.labeled

    def stateful_parts(self) -> dict[str, Any]:
        return {**super().stateful_parts(), "labeled_batches": self._labeled_batches}

    def _critic_objective(self, inputs: Mapping[str, Array]) -> tuple[Array, Metrics]:
        ops = self.ops
        with self.backend.no_grad():
            fake = self.G(inputs["z"], training=True)
        made = ops.stop_gradient(fake)
        fake = made
        if "replay_mask" in inputs:  # experience replay: past fakes where the mask is 1
            mask = inputs["replay_mask"]
            fake = fake * (1.0 - mask) + inputs["replayed"] * mask
        fake = self._augmented(fake, inputs, "fake")
        real = class_logits_to_score(self.D(self._augmented(inputs["x"], inputs, "real"),
                                            training=True))
        fake_score = class_logits_to_score(self.D(fake, training=True))
        labeled_logits = self.D(self._augmented(inputs["x_labeled"], inputs, "labeled"),
                                training=True)
        loss = semi_supervised_critic_loss(
            labeled_logits, inputs["y_labeled"], real, fake_score,
            supervised_weight=self.config.supervised_weight,
        )
        metrics = {"d_loss": loss, "d_real": ops.mean(real), "d_fake": ops.mean(fake_score)}
        if self._replay is not None:
            metrics["_fake"] = made  # the fresh fakes, for the pool
        return loss, {k: ops.stop_gradient(v) for k, v in metrics.items()}

    def _generator_objective(self, inputs: Mapping[str, Array]) -> tuple[Array, Metrics]:
        # The critic judges the fakes augmented as in its own update (DiffAugment).
        fake = self._augmented(self.G(inputs["z"], training=True), inputs, "fake")
        if self.config.feature_matching is not None:  # Salimans et al.'s SGAN generator
            loss = self._feature_matching_loss(inputs, (fake,))
        else:
            loss = nonsaturating_generator_loss(class_logits_to_score(self.D(fake,
                                                                             training=True)))
        return loss, {"g_loss": self.ops.stop_gradient(loss)}

    def critic_inputs(self) -> dict[str, Array]:
        batch = next(self._batches)  # this worker's rows
        labeled = next(self._labeled_batches)
        n = self.config.batch_size
        inputs = {
            "x": self.native(batch.images),
            "z": self._local(self._noise(n, self.latent_dim)),
            "x_labeled": self.native(self.workers.shard(labeled.images, "the labelled batch")),
            "y_labeled": self.native(self.workers.shard(labeled.labels, "the labelled batch")),
        }
        if self._replay is not None:
            inputs.update(self._replay_inputs(n))
        return {**inputs, **self._augment_inputs("real", n), **self._augment_inputs("fake", n),
                **self._augment_inputs("labeled", len(labeled.images))}

    def classify(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """The critic's predicted class for each image (inference mode)."""
        out = []
        with self.backend.no_grad():
            for start in range(0, len(images), batch_size):
                logits = self.D(self.native(np.asarray(images[start:start + batch_size],
                                                       np.float32)), training=False)
                out.append(np.argmax(self.ops.to_numpy(logits), axis=-1))
        return np.concatenate(out)

    def accuracy(self, data: Dataset) -> float:
        """The critic's classification accuracy on a labelled dataset."""
        if data.labels is None:
            raise InvalidArgumentError(f"data must be labelled; received {data.name!r}")
        return float(np.mean(self.classify(data.images) == data.labels))


def _balanced_indices(data: Dataset, count: int, seed: int) -> np.ndarray:
    assert data.labels is not None and data.num_classes is not None
    if count < data.num_classes or count > len(data):
        raise InvalidArgumentError(
            f"num_labeled must be between the number of classes ({data.num_classes}) and the "
            f"dataset size ({len(data)}); received {count}"
        )
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(data.labels == k)) for k in range(data.num_classes)]
    picked = [idx[: count // data.num_classes + (k < count % data.num_classes)]
              for k, idx in enumerate(per_class)]
    return np.sort(np.concatenate(picked))


class ImagePool:
    """A pool of past fakes for the critics (Shrivastava et al. 2017; CycleGAN uses 50).

    Each queried image enters the pool; once it is full, half of the time a random stored
    image is returned in its place (and replaced by it).
    """

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self.images: list[np.ndarray] = []

    def query(self, images: np.ndarray) -> np.ndarray:
        if self.size == 0:
            return images
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() < 0.5:
                i = int(self.rng.integers(self.size))
                out.append(self.images[i])
                self.images[i] = image
            else:
                out.append(image)
        return np.stack(out)

    def state_dict(self) -> dict[str, Any]:
        """The stored images (one array) and the random stream."""
        images = np.stack(self.images) if self.images else np.zeros((0,), np.float32)
        return {"images": images, "rng": generator_state(self.rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        images = np.asarray(state["images"], np.float32)
        if len(images) > self.size:
            raise InvalidArgumentError(
                f"the pool's state must hold at most {self.size} images; received {len(images)}"
            )
        self.images = [np.array(image) for image in images] if images.ndim > 1 else []
        set_generator_state(self.rng, state["rng"])


class CycleGANTrainer(_Trainer):
    """CycleGAN (Zhu et al. 2017): generators A→B and B→A, a critic per domain,
    least-squares adversarial losses, cycle consistency and identity losses, and a pool of
    past fakes for each critic. Each step updates both generators, then both critics.

    The pools are CycleGAN's image pools of ``config.pool_size`` fakes (`ImagePool`), or,
    with ``config.replay > 0``, experience replay's pools (`ReplayPool`: ``replay`` fakes,
    each fake of a critic batch replaced by a past one with probability
    ``replay_fraction``), which replace them; ``pool_size`` must then be 0 or its default.
    ``config.diffaugment`` augments the real and fake images each critic judges, in the
    critics' update and in the generators' (the cycle and identity losses see the fakes as
    they are)."""

    algorithm = "cyclegan"

    def __init__(self, architecture: ArchitecturePair, domain_a: Dataset, domain_b: Dataset,
                 config: TrainConfig | None = None, **kwargs: Any) -> None:
        config = config or TrainConfig(algorithm="cyclegan", loss="least_squares")
        _reject_gan_options(type(self).__name__, config, keep=("diffaugment", "replay"))
        default_pool = attrs.fields(TrainConfig).pool_size.default
        if config.replay and config.pool_size not in (0, default_pool):
            raise InvalidArgumentError(
                f"pool_size must be 0 or its default {default_pool} with replay > 0 (replay's "
                f"pools of past fakes replace CycleGAN's image pools); received pool_size "
                f"{config.pool_size} with replay {config.replay}"
            )
        super().__init__(architecture, config, **kwargs)
        if architecture.kind != "cyclegan":
            raise InvalidArgumentError(
                f"architecture.kind must be 'cyclegan' for CycleGANTrainer; received "
                f"{architecture.kind!r}"
            )
        shape = tuple(architecture.generator.inputs[0].shape)
        for name, data in (("domain_a", domain_a), ("domain_b", domain_b)):
            if not isinstance(data, Dataset) or tuple(data.shape) != shape:
                got = tuple(data.shape) if isinstance(data, Dataset) else type(data).__name__
                raise InvalidArgumentError(
                    f"{name} must be a Dataset of images of shape {shape}; received {got}"
                )
        self.domain_a, self.domain_b = domain_a, domain_b
        self.G_ab = self._build(architecture.generator, self._seeds[1])
        self.G_ba = self._build(architecture.generator, self._seeds[2])
        self.D_a = self._build(architecture.critic, self._seeds[3])
        self.D_b = self._build(architecture.critic, self._seeds[4])
        self.opt_g = self._optimizer("generator", config.generator_optimizer,
                                     {"generator": self.G_ab, "generator_ba": self.G_ba})
        self.opt_d = self._optimizer("critic", config.critic_optimizer,
                                     {"critic_a": self.D_a, "critic": self.D_b})
        self._g_update = self._make_update(self._generator_objective, self.opt_g)
        self._d_update = self._make_update(self._critic_objective, self.opt_d)
        self._batches_a = iterate_batches(domain_a, config.batch_size, seed=self._seeds[5],
                                          hflip=config.hflip)
        self._batches_b = iterate_batches(domain_b, config.batch_size, seed=self._seeds[6],
                                          hflip=config.hflip)
        # Each critic's past fakes: CycleGAN's image pools, or with replay > 0 their
        # generalisation, replay pools drawn from the loop's stream (`ReplayPool`).
        self.pool_a: ImagePool | ReplayPool
        self.pool_b: ImagePool | ReplayPool
        if config.replay:
            self.pool_a = ReplayPool(config.replay, config.replay_fraction)
            self.pool_b = ReplayPool(config.replay, config.replay_fraction)
        else:
            self.pool_a = ImagePool(config.pool_size, np.random.default_rng(self._seeds[7]))
            self.pool_b = ImagePool(config.pool_size,
                                    np.random.default_rng(self._seeds[7] + 1))
        self._diffaugment(config.diffaugment, domain_a)
        self.fixed_a = domain_a.images[: min(8, len(domain_a))]
        self._sync_workers()

    def _generator_objective(self, inputs: Mapping[str, Array]) -> tuple[Array, Metrics]:
        ops, cfg = self.ops, self.config
        a, b = inputs["a"], inputs["b"]
        fake_b = self.G_ab(a, training=True)
        fake_a = self.G_ba(b, training=True)
        # The critics judge the fakes augmented (DiffAugment); the cycle does not.
        adversarial = least_squares_generator_loss(
            self.D_b(self._augmented(fake_b, inputs, "fake_b"), training=True), scale=1.0
        ) + least_squares_generator_loss(
            self.D_a(self._augmented(fake_a, inputs, "fake_a"), training=True), scale=1.0)
        cycle = cycle_consistency_loss(a, self.G_ba(fake_b, training=True), cfg.cycle_weight) + (
            cycle_consistency_loss(b, self.G_ab(fake_a, training=True), cfg.cycle_weight)
        )
        loss = adversarial + cycle
        metrics = {"g_adversarial": adversarial, "g_cycle": cycle}
        if cfg.identity_weight > 0:
            identity = identity_loss(b, self.G_ab(b, training=True), cfg.identity_weight) + (
                identity_loss(a, self.G_ba(a, training=True), cfg.identity_weight)
            )
            loss = loss + identity
            metrics["g_identity"] = identity
        metrics["g_loss"] = loss
        out = {k: ops.stop_gradient(v) for k, v in metrics.items()}
        out["_fake_a"], out["_fake_b"] = ops.stop_gradient(fake_a), ops.stop_gradient(fake_b)
        return loss, out

    def _critic_objective(self, inputs: Mapping[str, Array]) -> tuple[Array, Metrics]:
        ops = self.ops
        def judge(critic: Any, which: str, key: str) -> Array:
            return critic(self._augmented(inputs[key], inputs, which), training=True)

        real_a = judge(self.D_a, "real_a", "a")
        real_b = judge(self.D_b, "real_b", "b")
        fake_a = judge(self.D_a, "fake_a", "fake_a")
        fake_b = judge(self.D_b, "fake_b", "fake_b")
        loss = least_squares_critic_loss(real_a, fake_a) + least_squares_critic_loss(
            real_b, fake_b
        )
        metrics = {"d_loss": loss, "d_real": (ops.mean(real_a) + ops.mean(real_b)) * 0.5,
                   "d_fake": (ops.mean(fake_a) + ops.mean(fake_b)) * 0.5}
        return loss, {k: ops.stop_gradient(v) for k, v in metrics.items()}

    def train_step(self) -> Metrics:
        n = self.config.batch_size
        a = self._local(next(self._batches_a).images)
        b = self._local(next(self._batches_b).images)
        g_metrics = self._g_update({"a": a, "b": b, **self._augment_inputs("fake_a", n),
                                    **self._augment_inputs("fake_b", n)})
        # The pools see the global batch's fakes, as in one process.
        fake_a = self._past_fakes(self.pool_a, self._global_rows(g_metrics["_fake_a"]))
        fake_b = self._past_fakes(self.pool_b, self._global_rows(g_metrics["_fake_b"]))
        d_inputs = {"a": a, "b": b, "fake_a": self._local(fake_a), "fake_b": self._local(fake_b)}
        for which in ("real_a", "real_b", "fake_a", "fake_b"):
            d_inputs.update(self._augment_inputs(which, n))
        d_metrics = self._d_update(d_inputs)
        return {**g_metrics, **d_metrics}

    def _past_fakes(self, pool: ImagePool | ReplayPool, fresh: np.ndarray) -> np.ndarray:
        """The fakes a critic judges: the step's global `fresh` fakes through its image
        pool, or with some replaced by the replay pool's (which then takes the fresh in)."""
        if isinstance(pool, ImagePool):
            return pool.query(fresh)
        replayed, mask = pool.draw(len(fresh), tuple(fresh.shape[1:]), self.rng)
        pool.add(fresh, self.rng)
        return np.where(mask > 0, replayed, fresh)

    def translate(self, images: np.ndarray, direction: str = "ab",
                  batch_size: int = 64) -> np.ndarray:
        """Map NHWC images from domain A to B (``direction='ab'``) or B to A (``'ba'``)."""
        if direction not in ("ab", "ba"):
            raise InvalidArgumentError(f"direction must be 'ab' or 'ba'; received {direction!r}")
        net = self.G_ab if direction == "ab" else self.G_ba
        from gancore.training._sampling import translate

        return translate(self.backend, net, images, batch_size=batch_size, device=self.device)

    def sample(self, n: int, labels: Any = None, seed: int | None = None,
               noise: np.ndarray | None = None) -> np.ndarray:
        """Translations A→B of `n` images of domain A, drawn with `seed`, beside their inputs:
        returns ``(2n, H, W, C)``, input then output for each image."""
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(self.domain_a), size=n, replace=n > len(self.domain_a))
        inputs = self.domain_a.images[idx]
        outputs = self.translate(inputs)
        return np.stack([inputs, outputs], axis=1).reshape(-1, *inputs.shape[1:])

    def networks(self) -> dict[str, Any]:
        return {"generator": self.G_ab, "generator_ba": self.G_ba, "critic_a": self.D_a,
                "critic": self.D_b}

    def stateful_parts(self) -> dict[str, Any]:
        # Replay pools under their own names: an image pool's state also holds its stream.
        pools = ("replay_a", "replay_b") if self.config.replay else ("pool_a", "pool_b")
        return {"batches_a": self._batches_a, "batches_b": self._batches_b,
                pools[0]: self.pool_a, pools[1]: self.pool_b}

    def datasets(self) -> list[Dataset]:
        return [self.domain_a, self.domain_b]

    def specs(self) -> dict[str, NetworkSpec]:
        arch = self.architecture
        return {"generator": arch.generator, "generator_ba": arch.generator,
                "critic_a": arch.critic, "critic": arch.critic}


def _check_finite_metrics(metrics: Mapping[str, float], step: int) -> None:
    for key, value in metrics.items():
        if not np.isfinite(value):
            raise NonFiniteError(
                f"training diverged: {key} is {value} at step {step} (metrics are checked "
                f"every log_every steps); no checkpoint was written from this state"
            )


def make_trainer(architecture: ArchitecturePair, data: Dataset | Sequence[Dataset],
                 config: TrainConfig, **kwargs: Any) -> _Trainer:
    """The trainer for ``config.algorithm``; CycleGAN takes ``data = (domain_a, domain_b)``."""
    if config.algorithm == "cyclegan":
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise InvalidArgumentError(
                f"CycleGAN data must be a pair (domain_a, domain_b); received "
                f"{type(data).__name__}"
            )
        return CycleGANTrainer(architecture, data[0], data[1], config, **kwargs)
    if not is_data_source(data):
        raise InvalidArgumentError(f"data must be a Dataset, a StreamingDataset or an "
                                   f"IterableSource; received {type(data).__name__}")
    factory: Callable[..., _Trainer] = SGANTrainer if config.algorithm == "sgan" else GANTrainer
    return factory(architecture, data, config, **kwargs)
