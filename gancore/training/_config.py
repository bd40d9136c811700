"""Training configuration: attrs values with validators, built from dicts / TOML by name."""

from __future__ import annotations

from typing import Any

import attrs

from gancore._errors import InvalidArgumentError

__all__ = ["ALGORITHMS", "MAX_SEED", "OptimizerConfig", "TrainConfig"]

ALGORITHMS = ("gan", "sgan", "cyclegan")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "linear")
NOISES = ("normal", "uniform")


def _positive(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise InvalidArgumentError(f"'{attribute.name}' must be > 0: {value!r}")


def _non_negative(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise InvalidArgumentError(f"'{attribute.name}' must be >= 0: {value!r}")


def _unit(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise InvalidArgumentError(f"'{attribute.name}' must be in [0, 1): {value!r}")


def _fraction(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
        raise InvalidArgumentError(f"'{attribute.name}' must be in (0, 1]: {value!r}")


def _positive_int(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(f"'{attribute.name}' must be an int >= 1: {value!r}")


def _non_negative_int(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgumentError(f"'{attribute.name}' must be an int >= 0: {value!r}")


#: Largest seed: torch, TensorFlow and numpy all take seeds of 64 bits.
MAX_SEED = 2**64 - 1


def _seed(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEED:
        raise InvalidArgumentError(
            f"'{attribute.name}' must be an int in [0, 2**64 - 1]: {value!r}"
        )


def _name(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"'{attribute.name}' must be a non-empty str: {value!r}")


def _one_of(options: tuple[str, ...]) -> Any:
    def check(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in options:
            allowed = ", ".join(repr(o) for o in options)
            raise InvalidArgumentError(f"'{attribute.name}' must be one of {allowed}: {value!r}")

    return check


def _augment_policy(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    from gancore.augment import POLICIES

    parts = value.split(",") if isinstance(value, str) else None
    if value is not None and (not parts or any(p.strip() not in POLICIES for p in parts)
                              or len({p.strip() for p in parts}) != len(parts)):
        allowed = ", ".join(repr(p) for p in POLICIES)
        raise InvalidArgumentError(
            f"'{attribute.name}' must be None or distinct comma-separated names among "
            f"{allowed}: {value!r}"
        )


def _from_dict(cls: type, data: dict[str, Any], what: str) -> Any:
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{what} must be a table of settings; received {data!r}")
    names = {f.name for f in attrs.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidArgumentError(
            f"{what} keys must be among {', '.join(sorted(names))}; received {', '.join(unknown)}"
        )
    return cls(**data)


@attrs.frozen
class OptimizerConfig:
    """One network's optimizer. Arithmetic is PyTorch's on every backend.

    ``rho`` is RMSprop's smoothing constant (torch's ``alpha``).
    """

    name: str = attrs.field(default="adam", validator=_one_of(OPTIMIZERS))
    lr: float = attrs.field(default=2e-4, validator=_positive)
    beta1: float = attrs.field(default=0.5, validator=_unit)
    beta2: float = attrs.field(default=0.999, validator=_unit)
    eps: float = attrs.field(default=1e-8, validator=_positive)
    rho: float = attrs.field(default=0.99, validator=_unit)
    momentum: float = attrs.field(default=0.0, validator=_unit)

    @classmethod
    def adam(cls, lr: float = 2e-4, beta1: float = 0.5, beta2: float = 0.999) -> OptimizerConfig:
        """Adam, by default with the DCGAN settings (Radford et al. 2016)."""
        return cls("adam", lr=lr, beta1=beta1, beta2=beta2)

    @classmethod
    def rmsprop(cls, lr: float = 5e-5) -> OptimizerConfig:
        """RMSprop, by default with the original WGAN's learning rate (Arjovsky et al. 2017)."""
        return cls("rmsprop", lr=lr)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerConfig:
        """From a dict such as a TOML table; unknown keys are an error."""
        return _from_dict(cls, data, "optimizer")

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _optimizer(value: Any) -> OptimizerConfig:
    return OptimizerConfig.from_dict(value) if isinstance(value, dict) else value


def _is_optimizer(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, OptimizerConfig):
        raise InvalidArgumentError(
            f"'{attribute.name}' must be an OptimizerConfig or a table of its settings: "
            f"{value!r}"
        )


@attrs.frozen
class TrainConfig:
    """Everything about a training run except the networks and the data.

    ``steps`` counts generator updates; each is preceded by ``n_critic`` critic updates.
    ``loss`` names a loss family (``minimax``, ``nonsaturating``, ``wasserstein``, ``hinge``,
    ``least_squares`` or a loss plugin). Label flipping (``flip_fraction``), smoothing, the
    WGAN-GP gradient penalty, the R1 penalty (``r1_penalty``: its gamma, on real samples),
    weight clipping and the generator's EMA are off unless set. ``r1_interval = k > 1``
    applies the R1 penalty lazily (Karras et al. 2020, StyleGAN2): on every k-th critic
    update only, weighted by ``k * r1_penalty``, which saves most of its double backward.
    ``r1_final`` moves the R1 gamma from ``r1_penalty`` towards it as the linear
    learning-rate decay goes (from ``decay_start`` on): a smooth critic that balances the
    modes early, a sharper one that places them precisely late. ``ema_decay`` keeps an
    exponential moving average of the generator's weights, which samples and checkpoints
    use; its BatchNorm statistics are its own standing statistics (`standing_statistics`),
    recomputed whenever it is sampled after its weights moved. ``reuse_fakes`` lets the
    generator update train on the fakes of the last critic update (their noise and labels),
    as the PyTorch DCGAN example does, instead of drawing new noise: the same gradients as
    redrawing that noise, one generator forward pass fewer per step (the generator's
    batch-norm buffers then see each batch once). ``hflip`` mirrors each real image with
    probability 1/2 as the data is read. ``diffaugment`` (a policy such as
    ``"color,translation,cutout"``; Zhao et al. 2020) augments real and fake samples alike in
    the critic and generator updates, the penalties included (they see the augmented reals),
    with parameters drawn in numpy: every backend augments alike (every algorithm: SGAN's
    labelled batch too, both CycleGAN critics). ``replay > 0`` keeps a pool of that many past
    fakes (experience replay, every algorithm): in each critic update a fake is replaced by a
    stored one with probability ``replay_fraction``; a conditional GAN's past fake is judged
    with the label it was made for. CycleGAN's image pools of ``pool_size`` past fakes (50,
    0 = off) are replay's special case: ``replay > 0`` replaces them (``pool_size`` must then
    be 0 or 50).
    ``feature_matching`` (the name of a critic node) replaces the generator's adversarial
    loss by feature matching (Salimans et al. 2016): ``|| mean f(real) - mean f(fake) ||^2``
    over the batch, f that node's output, the reals those of the step's last critic update.
    """

    algorithm: str = attrs.field(default="gan", validator=_one_of(ALGORITHMS))
    loss: str = attrs.field(default="nonsaturating", validator=_name)
    steps: int = attrs.field(default=2000, validator=_positive_int)
    batch_size: int = attrs.field(default=64, validator=_positive_int)
    n_critic: int = attrs.field(default=1, validator=_positive_int)
    seed: int = attrs.field(default=0, validator=_seed)
    generator_optimizer: OptimizerConfig = attrs.field(
        factory=OptimizerConfig, converter=_optimizer, validator=_is_optimizer
    )
    critic_optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig, converter=_optimizer,
                                                    validator=_is_optimizer)
    gradient_penalty: float = attrs.field(default=0.0, validator=_non_negative)
    one_sided_penalty: bool = False
    r1_penalty: float = attrs.field(default=0.0, validator=_non_negative)
    r1_interval: int = attrs.field(default=1, validator=_positive_int)
    r1_final: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_non_negative)
    )
    clip_value: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive)
    )
    flip_fraction: float = attrs.field(default=0.0, validator=_unit)
    smoothing: float = attrs.field(default=0.0, validator=_unit)
    ema_decay: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_unit)
    )
    reuse_fakes: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    #: the generator's input: standard "normal" noise, or "uniform" in [-1, 1] (Raschka ch. 17)
    noise: str = attrs.field(default="normal", validator=_one_of(NOISES))
    hflip: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    diffaugment: str | None = attrs.field(default=None, validator=_augment_policy)
    replay: int = attrs.field(default=0, validator=_non_negative_int)
    replay_fraction: float = attrs.field(default=0.5, validator=_fraction)
    feature_matching: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_name)
    )
    lr_schedule: str = attrs.field(default="constant", validator=_one_of(SCHEDULES))
    decay_start: float = attrs.field(default=0.5, validator=_unit)
    cycle_weight: float = attrs.field(default=10.0, validator=_non_negative)
    identity_weight: float = attrs.field(default=5.0, validator=_non_negative)
    pool_size: int = attrs.field(default=50, validator=_non_negative_int)
    num_labeled: int = attrs.field(default=100, validator=_positive_int)
    supervised_weight: float = attrs.field(default=1.0, validator=_non_negative)
    log_every: int = attrs.field(default=50, validator=_positive_int)
    sample_every: int = attrs.field(default=0, validator=_non_negative_int)
    checkpoint_every: int = attrs.field(default=0, validator=_non_negative_int)
    grid_size: int = attrs.field(default=64, validator=_positive_int)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """From a dict such as a TOML table; unknown keys are an error."""
        return _from_dict(cls, data, "training config")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the optimizers as nested tables)."""
        return attrs.asdict(self)

    def r1_factor(self, step: int) -> float:
        """The R1 gamma at generator step `step` (0-based) over ``r1_penalty``: with
        ``r1_final``, gamma = r1_final + (r1_penalty - r1_final) * f, where f is the linear
        learning-rate decay's factor (1 before ``decay_start``, then linearly towards 0 at
        the end, whatever ``lr_schedule`` says); 1 without ``r1_final``."""
        if self.r1_final is None or self.r1_penalty == 0:
            return 1.0
        f = self._linear_decay(step)
        return (self.r1_final + (self.r1_penalty - self.r1_final) * f) / self.r1_penalty

    def learning_rate_factor(self, step: int) -> float:
        """The schedule's multiplier at generator step `step` (0-based)."""
        return 1.0 if self.lr_schedule == "constant" else self._linear_decay(step)

    def _linear_decay(self, step: int) -> float:
        """1 before ``decay_start``, then linearly towards 0 at ``steps``."""
        start = int(self.decay_start * self.steps)
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, self.steps - start))
