"""Optimizers and compiled update steps on TensorFlow.

The optimizers are written here with PyTorch's update rules (rather than Keras'), so that a
training step gives the same new parameters on both backends: Keras' Adam, for one, adds its
epsilon to the uncorrected second moment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from gancore import InvalidArgumentError
from gancore_tensorflow import _distributed, _nn


class _Optimizer:
    def __init__(self, config: Any, params: Sequence[tf.Variable], slots: int) -> None:
        self.config = config
        self.params = list(params)
        self.lr = tf.Variable(config.lr, trainable=False, dtype=tf.float32, name="lr")
        self.step = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="step")
        self.slots = [
            [tf.Variable(tf.zeros_like(p), trainable=False) for p in self.params]
            for _ in range(slots)
        ]

    @staticmethod
    def dense(grads: Sequence[Any]) -> list[tf.Tensor | None]:
        """Gradients as dense tensors (an embedding's gradient comes as IndexedSlices)."""
        return [None if g is None else tf.convert_to_tensor(g) for g in grads]


class Adam(_Optimizer):
    """Adam (Kingma & Ba 2015) with torch.optim.Adam's arithmetic, one fused kernel per
    parameter.

    torch divides by sqrt(v / (1 - beta2^t)) + eps; TensorFlow's fused kernel divides by
    sqrt(v) + eps' and folds sqrt(1 - beta2^t) into its step size. The two are the same
    update when eps' = eps * sqrt(1 - beta2^t), which is passed each step. The fused
    kernel reads each parameter, gradient and moment once, where the same update written
    op by op makes a dozen passes over each of them.
    """

    def __init__(self, config: Any, params: Sequence[tf.Variable]) -> None:
        super().__init__(config, params, slots=2)

    def apply(self, grads: Sequence[tf.Tensor | None]) -> None:
        b1, b2 = tf.constant(self.config.beta1), tf.constant(self.config.beta2)
        self.step.assign_add(1.0)
        b1_power, b2_power = b1**self.step, b2**self.step
        eps = self.config.eps * tf.sqrt(1.0 - b2_power)
        for p, g, m, v in zip(self.params, self.dense(grads), *self.slots, strict=True):
            if g is None:
                continue
            tf.raw_ops.ResourceApplyAdam(
                var=p.handle, m=m.handle, v=v.handle, beta1_power=b1_power,
                beta2_power=b2_power, lr=self.lr, beta1=b1, beta2=b2, epsilon=eps, grad=g,
            )


class RMSprop(_Optimizer):
    """RMSprop (Tieleman & Hinton 2012) with torch.optim.RMSprop's arithmetic."""

    def __init__(self, config: Any, params: Sequence[tf.Variable]) -> None:
        super().__init__(config, params, slots=1)

    def apply(self, grads: Sequence[tf.Tensor | None]) -> None:
        rho, eps = self.config.rho, self.config.eps
        self.step.assign_add(1.0)
        for p, g, s in zip(self.params, self.dense(grads), self.slots[0], strict=True):
            if g is None:
                continue
            s.assign(rho * s + (1.0 - rho) * g * g)
            p.assign_sub(self.lr * g / (tf.sqrt(s) + eps))


class SGD(_Optimizer):
    """SGD with momentum, with torch.optim.SGD's arithmetic."""

    def __init__(self, config: Any, params: Sequence[tf.Variable]) -> None:
        super().__init__(config, params, slots=1)

    def apply(self, grads: Sequence[tf.Tensor | None]) -> None:
        mu = self.config.momentum
        first = tf.equal(self.step, 0.0)
        self.step.assign_add(1.0)
        for p, g, buf in zip(self.params, self.dense(grads), self.slots[0], strict=True):
            if g is None:
                continue
            if mu:
                buf.assign(tf.where(first, g, mu * buf + g))
                g = buf
            p.assign_sub(self.lr * g)


def make_optimizer(config: Any, params: Sequence[tf.Variable]) -> _Optimizer:
    """The optimizer for a gancore `OptimizerConfig`."""
    kinds = {"adam": Adam, "rmsprop": RMSprop, "sgd": SGD}
    if config.name not in kinds:
        raise InvalidArgumentError(
            f"optimizer must be one of 'adam', 'rmsprop', 'sgd'; received {config.name!r}"
        )
    return kinds[config.name](config, params)


def set_learning_rate(optimizer: _Optimizer, lr: float) -> None:
    optimizer.lr.assign(lr)


# gancore's neutral optimizer layout names the slots as torch does.
_SLOTS = {"adam": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",),
          "sgd": ("momentum_buffer",)}


def optimizer_state(optimizer: _Optimizer) -> dict[str, list[np.ndarray]]:
    """``step`` (the optimizer's one count, for each parameter) and the slots of each
    parameter in native layouts. SGD's ``step`` is 1 once it has started, as torch tells
    (its update only asks whether the momentum buffer exists)."""
    step = float(optimizer.step.numpy())
    if optimizer.config.name == "sgd":
        step = min(step, 1.0)
    out: dict[str, list[np.ndarray]] = {"step": [np.asarray(step, np.float64)
                                                 for _ in optimizer.params]}
    for name, values in zip(_SLOTS[optimizer.config.name], optimizer.slots, strict=True):
        out[name] = [v.numpy().copy() for v in values]
    return out


def set_optimizer_state(optimizer: _Optimizer, state: Mapping[str, Sequence[Any]]) -> None:
    """Load an `optimizer_state` (one count for all parameters: the largest given)."""
    steps = [float(s) for s in state["step"]]
    optimizer.step.assign(max(steps, default=0.0))
    for name, values in zip(_SLOTS[optimizer.config.name], optimizer.slots, strict=True):
        for var, value in zip(values, state[name], strict=True):
            var.assign(np.asarray(value, np.float32))


Objective = Callable[[Mapping[str, Any]], tuple[tf.Tensor, Mapping[str, tf.Tensor]]]


def _workers(workers: Any, compile: bool) -> Any:
    if workers is None or not workers.distributed:
        return None
    if compile:
        raise InvalidArgumentError(
            "compile must be False for a data-parallel job on TensorFlow (its XLA steps "
            "cannot hold the strategy's collectives); received compile=True"
        )
    return workers


class Update:
    """One optimizer step on `objective`, compiled with `tf.function` (XLA with `compile`).
    In a data-parallel job (`workers` of more than one) it runs in the strategy's replica
    context and averages the gradients and scalar metrics over the workers."""

    def __init__(self, objective: Objective, optimizer: _Optimizer,
                 post: Callable[[], None] | None = None, compile: bool = False,
                 workers: Any = None) -> None:
        self.objective = objective
        self.optimizer = optimizer
        self.post = post
        self.workers = _workers(workers, compile)
        # The objective has no tensor-dependent Python control flow: AutoGraph is not needed.
        # Traced for the exact input shapes (a training's batches all have one): with
        # reduce_retracing's unknown batch size, TensorFlow picks slower kernels (a WGAN-GP
        # critic update took 62 ms instead of 46).
        self._step = tf.function(_in_replica(_traced(self._run, compile), self.workers),
                                 jit_compile=compile or None, autograph=False,
                                 reduce_retracing=False)

    def _run(self, inputs: Mapping[str, Any]) -> Mapping[str, tf.Tensor]:
        params = self.optimizer.params
        # Only the trained network's variables are watched: the other network's forward
        # pass (the fakes of a critic step) records nothing.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(params)
            loss, metrics = self.objective(inputs)
        grads = tape.gradient(loss, params)
        if self.workers is not None:
            grads, metrics = _distributed.average(params, grads, metrics)
        self.optimizer.apply(grads)
        if self.post is not None:
            self.post()
        return metrics

    def __call__(self, inputs: Mapping[str, Any]) -> Mapping[str, tf.Tensor]:
        with _distributed.syncing(self.workers):
            return self._step(dict(inputs))


def _traced(body: Any, compile: bool) -> Any:
    """`body`, traced for XLA when `compile` (the networks' `tracing_for_xla`)."""
    if not compile:
        return body

    def run(inputs: Mapping[str, Any]) -> Any:
        with _nn.tracing_for_xla():
            return body(inputs)

    return run


def _in_replica(body: Any, workers: Any) -> Any:
    """`body` itself in one process; in a job, `body` run in the strategy's replica context."""
    if workers is None:
        return body

    def run(inputs: Mapping[str, Any]) -> Any:
        return _distributed.run(body, inputs)

    return run


class JointUpdate:
    """A critic update, then a generator update on what the critic's objective carried over
    (its fakes), in one `tf.function`: one tape records the generator's forward pass once,
    for the second update. `first(inputs) -> (loss, metrics, carry)`; `second(inputs, carry)
    -> (loss, metrics)`."""

    def __init__(self, first: Any, first_optimizer: _Optimizer, second: Any,
                 second_optimizer: _Optimizer, post: Callable[[], None] | None = None,
                 compile: bool = False, workers: Any = None) -> None:
        self.first, self.second = first, second
        self.optimizers = first_optimizer, second_optimizer
        self.post = post
        self.workers = _workers(workers, compile)
        self._step = tf.function(_in_replica(_traced(self._run, compile), self.workers),
                                 jit_compile=compile or None, autograph=False,
                                 reduce_retracing=False)

    def _run(self, inputs: Mapping[str, Any]) -> Mapping[str, tf.Tensor]:
        first_opt, second_opt = self.optimizers
        with tf.GradientTape(watch_accessed_variables=False) as second_tape:
            second_tape.watch(second_opt.params)
            with tf.GradientTape(watch_accessed_variables=False) as first_tape:
                first_tape.watch(first_opt.params)
                loss, metrics, carry = self.first(inputs)
            with second_tape.stop_recording():
                grads = first_tape.gradient(loss, first_opt.params)
                if self.workers is not None:
                    grads, metrics = _distributed.average(first_opt.params, grads, metrics)
                first_opt.apply(grads)
                if self.post is not None:
                    self.post()
            second_loss, second_metrics = self.second(inputs, carry)
        grads = second_tape.gradient(second_loss, second_opt.params)
        if self.workers is not None:
            grads, second_metrics = _distributed.average(second_opt.params, grads,
                                                         second_metrics)
        second_opt.apply(grads)
        return {**metrics, **second_metrics}

    def __call__(self, inputs: Mapping[str, Any]) -> Mapping[str, tf.Tensor]:
        with _distributed.syncing(self.workers):
            return self._step(dict(inputs))


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Nothing to do: the update's tape watches only the trained network's variables."""
    yield


def ema_update(target: Sequence[tf.Variable], source: Sequence[tf.Variable],
               decay: float) -> None:
    """target = decay * target + (1 - decay) * source, in place."""
    for t, s in zip(target, source, strict=True):
        t.assign(decay * t + (1.0 - decay) * s)


def copy_values(target: Sequence[tf.Variable], source: Sequence[tf.Variable]) -> None:
    for t, s in zip(target, source, strict=True):
        t.assign(s)
