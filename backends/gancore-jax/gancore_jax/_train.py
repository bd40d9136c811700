"""Optimizers and `jax.jit`-compiled update steps.

An update is one pure function of every array it touches: the states of the networks the
objective calls (found by one abstract trace of it, `jax.eval_shape`, before the first
compile), the optimizer's slots, its step's scalars, the inputs and the random key. It
returns their new values, which the Python objects then hold until the next call.

The optimizers follow PyTorch's arithmetic, operation for operation, so that a step gives
the same parameters as on the other backends: the bias corrections are computed in float64
on the host, as torch computes them, and enter the compiled step as float32 scalars.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gancore import InvalidArgumentError
from gancore_jax import _random
from gancore_jax._nn import JaxParameter
from gancore_jax._state import Overlay, overlay

Arrays = list[jax.Array]

# gancore's neutral optimizer layout names the slots as torch does.
_SLOTS = {"adam": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",),
          "sgd": ("momentum_buffer",)}


class Optimizer:
    """Adam, RMSprop or SGD (with momentum) with torch.optim's update rules.

    `params` are `JaxParameter`s; the slots are arrays aligned with them; `steps` counts
    the updates made (on the host: the bias corrections are computed from it there).
    """

    def __init__(self, config: Any, params: Sequence[JaxParameter]) -> None:
        if config.name not in _SLOTS:
            raise InvalidArgumentError(
                f"optimizer must be one of 'adam', 'rmsprop', 'sgd'; received {config.name!r}"
            )
        for p in params:
            if not isinstance(p, JaxParameter):
                raise InvalidArgumentError(
                    f"params must be a JAX network's trainable_parameters(); received "
                    f"{type(p).__name__}"
                )
        self.config = config
        self.params = list(params)
        self.lr = float(config.lr)
        self.steps = 0
        self.slots: dict[str, Arrays] = {name: [jnp.zeros_like(p.value) for p in self.params]
                                         for name in _SLOTS[config.name]}
        self._eager = jax.jit(self.update)

    def scalars(self) -> dict[str, np.ndarray]:
        """This step's hyper-parameters as float32 scalars (inputs of the compiled step)."""
        cfg, t = self.config, self.steps + 1
        out = {"lr": self.lr, "first": float(self.steps == 0)}
        if cfg.name == "adam":
            # torch: step_size = lr / (1 - beta1^t), denominator sqrt(v) / sqrt(1 - beta2^t).
            out["step_size"] = self.lr / (1.0 - cfg.beta1**t)
            out["correction2_sqrt"] = math.sqrt(1.0 - cfg.beta2**t)
        return {k: np.float32(v) for k, v in out.items()}

    def update(self, values: Arrays, grads: Arrays, slots: Mapping[str, Arrays],
               scalars: Mapping[str, Any]) -> tuple[Arrays, dict[str, Arrays]]:
        """The new values and slots (pure: traced inside the compiled step)."""
        cfg = self.config
        new_values, new_slots = [], {name: [] for name in slots}
        for i, (p, g) in enumerate(zip(values, grads, strict=True)):
            if cfg.name == "adam":
                m, v = slots["exp_avg"][i], slots["exp_avg_sq"][i]
                m = m + (1.0 - cfg.beta1) * (g - m)  # torch's lerp_
                v = v * cfg.beta2 + (1.0 - cfg.beta2) * (g * g)
                denom = jnp.sqrt(v) / scalars["correction2_sqrt"] + cfg.eps
                p = p - scalars["step_size"] * (m / denom)
                new_slots["exp_avg"].append(m)
                new_slots["exp_avg_sq"].append(v)
            elif cfg.name == "rmsprop":
                s = slots["square_avg"][i] * cfg.rho + (1.0 - cfg.rho) * (g * g)
                p = p - scalars["lr"] * (g / (jnp.sqrt(s) + cfg.eps))
                new_slots["square_avg"].append(s)
            else:
                buf = slots["momentum_buffer"][i]
                if cfg.momentum:
                    buf = jnp.where(scalars["first"] > 0, g, buf * cfg.momentum + g)
                    g = buf
                p = p - scalars["lr"] * g
                new_slots["momentum_buffer"].append(buf)
            new_values.append(p)
        return new_values, new_slots

    def apply(self, grads: Sequence[Any]) -> None:
        """One eager update of the parameters with these gradients."""
        values = [p.value for p in self.params]
        new, self.slots = self._eager(values, [jnp.asarray(g) for g in grads], self.slots,
                                      self.scalars())
        for p, value in zip(self.params, new, strict=True):
            p.value = value
        self.steps += 1


def make_optimizer(config: Any, params: Sequence[JaxParameter]) -> Optimizer:
    """The optimizer for a gancore `OptimizerConfig`."""
    return Optimizer(config, params)


def set_learning_rate(optimizer: Optimizer, lr: float) -> None:
    optimizer.lr = float(lr)


def optimizer_state(optimizer: Optimizer) -> dict[str, list[np.ndarray]]:
    """``step`` per parameter and the slots (canonical layouts are JAX's own). SGD's
    ``step`` is 1 once it has started, as torch tells."""
    step = float(optimizer.steps)
    if optimizer.config.name == "sgd":
        step = min(step, 1.0)
    out = {"step": [np.asarray(step, np.float64) for _ in optimizer.params]}
    for name, values in optimizer.slots.items():
        out[name] = [np.array(v, np.float32) for v in values]
    return out


def set_optimizer_state(optimizer: Optimizer, state: Mapping[str, Sequence[Any]]) -> None:
    """Load an `optimizer_state` (one count for all parameters: the largest given)."""
    optimizer.steps = int(max((float(s) for s in state["step"]), default=0.0))
    for name in optimizer.slots:
        optimizer.slots[name] = [jnp.asarray(np.asarray(v, np.float32))
                                 for v in state[name]]


class _Compiled:
    """What the updates share: the networks an objective calls and their states."""

    nets: list[Any] | None = None

    def _discover(self, optimizers: Sequence[Optimizer],
                  probe: Callable[[Mapping[str, Any]], None], inputs: Mapping[str, Any]) -> None:
        found = Overlay({}, _random.key(), discover=True)
        for opt in optimizers:
            for p in opt.params:
                found.arrays(p.network)

        def run(inputs: Mapping[str, Any]) -> int:
            with overlay(found):
                probe(inputs)
            return 0

        jax.eval_shape(run, inputs)
        self.nets = list(found.used.values())

    def _values(self, states: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
        assert self.nets is not None
        return {id(net): dict(s) for net, s in zip(self.nets, states, strict=True)}

    def _states(self, values: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
        assert self.nets is not None
        return [dict(values[id(net)]) for net in self.nets]

    def _store(self, states: Sequence[Mapping[str, Any]]) -> None:
        assert self.nets is not None
        for net, state in zip(self.nets, states, strict=True):
            net._state = dict(state)

    @staticmethod
    def _key(states: Sequence[Mapping[str, Any]]) -> Any:
        """The random key, placed where the networks' arrays are. `jax.jit` compiles once per
        placement of its arguments: a key from `seed` or `set_state` is not placed, the one
        a compiled step returns is, so without this an update compiled twice (its first
        call and its second)."""
        leaves = jax.tree_util.tree_leaves(states)
        key = _random.key()
        return jax.device_put(key, leaves[0].sharding) if leaves else key


def _read(values: Mapping[int, Mapping[str, Any]], params: Sequence[JaxParameter]) -> Arrays:
    return [values[id(p.network)][p.name] for p in params]


def _write(values: dict[int, dict[str, Any]], params: Sequence[JaxParameter],
           new: Sequence[Any]) -> None:
    for p, v in zip(params, new, strict=True):
        values[id(p.network)][p.name] = v


def _run_post(post: Callable[[], None] | None, values: dict[int, dict[str, Any]], key: Any
              ) -> dict[int, dict[str, Any]]:
    if post is None:
        return values
    after = Overlay(values, key)
    with overlay(after):
        post()
    return after.values


class Update(_Compiled):
    """One optimizer step on `objective(inputs) -> (loss, metrics)`, compiled by `jax.jit`
    (every update is compiled; `compile` changes nothing)."""

    def __init__(self, objective: Callable[..., Any], optimizer: Optimizer,
                 post: Callable[[], None] | None = None, compile: bool = False) -> None:
        self.objective = objective
        self.optimizer = optimizer
        self.post = post
        self._step = jax.jit(self._run)

    def _probe(self, inputs: Mapping[str, Any]) -> None:
        self.objective(inputs)
        if self.post is not None:
            self.post()

    def _run(self, states: list[dict[str, Any]], slots: Any, scalars: Any,
             inputs: Mapping[str, Any], key: Any) -> Any:
        params = self.optimizer.params

        def loss(trained: Arrays) -> Any:
            values = self._values(states)
            _write(values, params, trained)
            active = Overlay(values, key)
            with overlay(active):
                value, metrics = self.objective(inputs)
            return value, (metrics, active.values, active.key)

        trained = _read(self._values(states), params)
        grads, (metrics, values, new_key) = jax.grad(loss, has_aux=True)(trained)
        new, slots = self.optimizer.update(trained, grads, slots, scalars)
        _write(values, params, new)
        values = _run_post(self.post, values, new_key)
        return self._states(values), slots, metrics, new_key

    def __call__(self, inputs: Mapping[str, Any]) -> Mapping[str, jax.Array]:
        opt = self.optimizer
        if self.nets is None:
            self._discover([opt], self._probe, inputs)
        assert self.nets is not None
        states = [net.arrays_outside() for net in self.nets]
        new_states, opt.slots, metrics, key = self._step(
            states, opt.slots, opt.scalars(), dict(inputs), self._key(states))
        self._store(new_states)
        _random.set_key(key)
        opt.steps += 1
        return metrics


class JointUpdate(_Compiled):
    """A critic update, then a generator update on what the critic's objective carried over
    (its fakes), in one compiled function: `first(inputs) -> (loss, metrics, carry)`,
    `second(inputs, carry) -> (loss, metrics)`. The generator's forward pass runs once: the
    carried fakes' pullback (`jax.vjp`) takes the second loss's gradient back through it.
    With an empty `carry` (a fused step: the generator update makes its own fakes) the two
    updates are only compiled together."""

    def __init__(self, first: Callable[..., Any], first_optimizer: Optimizer,
                 second: Callable[..., Any], second_optimizer: Optimizer,
                 post: Callable[[], None] | None = None, compile: bool = False) -> None:
        self.first, self.second = first, second
        self.optimizers = first_optimizer, second_optimizer
        self.post = post
        self._step = jax.jit(self._run)

    def _probe(self, inputs: Mapping[str, Any]) -> None:
        _, _, carry = self.first(inputs)
        if self.post is not None:
            self.post()
        self.second(inputs, carry)

    def _run(self, states: list[dict[str, Any]], slots: Any, scalars: Any,
             inputs: Mapping[str, Any], key: Any) -> Any:
        first_opt, second_opt = self.optimizers

        def first(a: Arrays, b: Arrays) -> Any:
            values = self._values(states)
            _write(values, first_opt.params, a)
            _write(values, second_opt.params, b)
            active = Overlay(values, key)
            with overlay(active):
                loss, metrics, carry = self.first(inputs)
            return (loss, carry), (metrics, active.values, active.key)

        start = self._values(states)
        a, b = _read(start, first_opt.params), _read(start, second_opt.params)
        (loss, carry), pullback, (metrics, values, key_after) = jax.vjp(first, a, b,
                                                                        has_aux=True)
        no_carry = jax.tree.map(jnp.zeros_like, carry)
        grads_a, _ = pullback((jnp.ones_like(loss), no_carry))
        new_a, slots_a = first_opt.update(a, grads_a, slots[0], scalars[0])
        _write(values, first_opt.params, new_a)
        values = _run_post(self.post, values, key_after)

        def second(fakes: Any, b_now: Arrays) -> Any:
            inner = {uid: dict(v) for uid, v in values.items()}
            _write(inner, second_opt.params, b_now)
            active = Overlay(inner, key_after)
            with overlay(active):
                loss, second_metrics = self.second(inputs, fakes)
            return loss, (second_metrics, active.values, active.key)

        b_now = _read(values, second_opt.params)
        (grad_fakes, grads_direct), (second_metrics, values, new_key) = jax.grad(
            second, argnums=(0, 1), has_aux=True)(carry, b_now)
        if jax.tree_util.tree_leaves(carry):
            _, through_fakes = pullback((jnp.zeros_like(loss), grad_fakes))
            grads_b = [d + f for d, f in zip(grads_direct, through_fakes, strict=True)]
        else:  # a fused step: nothing carried, no pullback through the first objective
            grads_b = list(grads_direct)
        new_b, slots_b = second_opt.update(b_now, grads_b, slots[1], scalars[1])
        _write(values, second_opt.params, new_b)
        return self._states(values), (slots_a, slots_b), {**metrics, **second_metrics}, new_key

    def __call__(self, inputs: Mapping[str, Any]) -> Mapping[str, jax.Array]:
        if self.nets is None:
            self._discover(self.optimizers, self._probe, inputs)
        assert self.nets is not None
        first_opt, second_opt = self.optimizers
        states = [net.arrays_outside() for net in self.nets]
        new_states, (first_opt.slots, second_opt.slots), metrics, key = self._step(
            states, (first_opt.slots, second_opt.slots),
            (first_opt.scalars(), second_opt.scalars()), dict(inputs), self._key(states))
        self._store(new_states)
        _random.set_key(key)
        first_opt.steps += 1
        second_opt.steps += 1
        return metrics


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Nothing to do: an update differentiates only with respect to its optimizer's
    parameters."""
    yield


@jax.jit
def _lerp(target: Arrays, source: Arrays, weight: Any) -> Arrays:
    return [t + weight * (s - t) for t, s in zip(target, source, strict=True)]


def ema_update(target: Sequence[JaxParameter], source: Sequence[JaxParameter],
               decay: float) -> None:
    """target = decay * target + (1 - decay) * source (torch's lerp), in place."""
    new = _lerp([t.value for t in target], [s.value for s in source],
                np.float32(1.0 - decay))
    for t, value in zip(target, new, strict=True):
        t.value = value


def copy_values(target: Sequence[JaxParameter], source: Sequence[JaxParameter]) -> None:
    for t, s in zip(target, source, strict=True):
        t.value = s.value
