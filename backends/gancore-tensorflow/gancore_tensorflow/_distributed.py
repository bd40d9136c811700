"""Data-parallel training on tf.distribute: a `MultiWorkerMirroredStrategy` over the
workers ``TF_CONFIG`` describes, one replica per worker (its GPU, or its CPU).

gancore keeps its own variables (each worker holds a copy; averaged gradients keep the
copies equal) and uses the strategy for what it is for: running the updates in a replica
context whose collectives (`ReplicaContext.all_reduce`, `all_gather`) span the workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import tensorflow as tf

from gancore import GancoreError

_syncing: Any = None
_strategy: Any = None
_workers: Any = None
_functions: dict[str, Any] = {}


def init_workers(workers: Any, device: str) -> str:
    """Create the job's strategy (once per process, before TensorFlow runs its first op);
    returns this worker's device: its ``local_rank``'s GPU where TensorFlow sees GPUs (the
    only one it then shows this process), else the CPU."""
    global _strategy, _workers
    if _strategy is not None:
        if (_workers.rank, _workers.world_size) != (workers.rank, workers.world_size):
            raise GancoreError(
                f"this process is worker {_workers.rank} of {_workers.world_size}; received "
                f"workers rank {workers.rank} of {workers.world_size}"
            )
        return _device(device)
    gpus = tf.config.list_physical_devices("GPU")
    try:
        if gpus and device in ("auto", "gpu", "cuda"):
            if len(gpus) <= workers.local_rank:
                raise GancoreError(
                    f"worker {workers.rank} has local rank {workers.local_rank}, but this host "
                    f"has {len(gpus)} GPUs: start at most one worker per GPU"
                )
            tf.config.set_visible_devices(gpus[workers.local_rank], "GPU")
        elif gpus:
            tf.config.set_visible_devices([], "GPU")
        implementation = (tf.distribute.experimental.CommunicationImplementation.NCCL
                          if gpus and device != "cpu" else
                          tf.distribute.experimental.CommunicationImplementation.RING)
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=implementation, timeout_seconds=workers.timeout)
        _strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except (RuntimeError, ValueError) as e:
        raise GancoreError(
            f"worker {workers.rank} of {workers.world_size} could not join the job (the "
            f"strategy must be created before TensorFlow runs its first op): {e}"
        ) from None
    if _strategy.num_replicas_in_sync != workers.world_size:
        raise GancoreError(
            f"the job has {_strategy.num_replicas_in_sync} replicas; received "
            f"{workers.world_size} workers (TF_CONFIG must list every worker once)"
        )
    _workers = workers
    return _device(device)


def _device(device: str) -> str:
    if device == "cpu" or not tf.config.list_logical_devices("GPU"):
        return "cpu"
    return "gpu:0"


def strategy() -> Any:
    """The job's strategy, or None in one process."""
    return _strategy


def run(fn: Any, *args: Any) -> Any:
    """`fn(*args)` in the strategy's replica context, its results as plain tensors (this
    worker's one replica)."""
    out = _strategy.run(fn, args=args)
    return tf.nest.map_structure(lambda v: _strategy.experimental_local_results(v)[0], out)


def average(params: Sequence[tf.Variable], grads: Sequence[Any], metrics: Mapping[str, Any]
            ) -> tuple[list[tf.Tensor], dict[str, Any]]:
    """The gradients (a parameter without one counts as zero) and the scalar metrics,
    averaged over the workers in one batched all-reduce (inside a replica context)."""
    ctx = tf.distribute.get_replica_context()
    dense = [tf.zeros_like(p) if g is None else tf.convert_to_tensor(g)
             for p, g in zip(params, grads, strict=True)]
    names = [k for k, v in metrics.items() if not k.startswith("_") and v.shape.rank == 0]
    reduced = ctx.all_reduce(tf.distribute.ReduceOp.MEAN,
                             [*dense, *(metrics[k] for k in names)])
    out = dict(metrics)
    out.update(zip(names, reduced[len(dense):], strict=True))
    return list(reduced[: len(dense)]), out


@contextlib.contextmanager
def syncing(workers: Any) -> Iterator[None]:
    """Inside (while an update is traced), training-mode batch norm uses the global batch's
    statistics when the job asks for synchronised batch norm. Process-wide, not per thread:
    the strategy may trace the replica's function on a thread of its own."""
    global _syncing
    before = _syncing
    _syncing = workers if workers is not None and workers.sync_batch_norm else None
    try:
        yield
    finally:
        _syncing = before


def sync_workers() -> Any:
    return _syncing


def global_moments(x: tf.Tensor, axes: list[int]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Mean and biased variance over `axes` of every worker's rows (differentiable), and
    the global count, inside a replica context."""
    ctx = tf.distribute.get_replica_context()
    total = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                           tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), tf.float32))
    mean = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(x, axes)) / total
    centred = x - mean
    var = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                         tf.reduce_sum(centred * centred, axes)) / total
    return mean, var, total


def global_row_mean(x: tf.Tensor) -> tf.Tensor:
    """The mean over the rows (axis 0) of every worker's `x` (the same number of rows on
    each), differentiable, inside a replica context."""
    ctx = tf.distribute.get_replica_context()
    rows = tf.cast(tf.shape(x)[0] * ctx.num_replicas_in_sync, x.dtype)
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(x, 0)) / rows


def _function(name: str, replica: Any) -> Any:
    """A `tf.function` that runs `replica` in the replica context (cached by `name`)."""
    if name not in _functions:
        _functions[name] = tf.function(lambda *args: run(replica, *args), autograph=False)
    return _functions[name]


def broadcast(variables: Sequence[tf.Variable]) -> None:
    """Worker 0's values into every worker's `variables`."""
    if not variables:
        return

    def replica(values: list[tf.Tensor]) -> list[tf.Tensor]:
        ctx = tf.distribute.get_replica_context()
        mine = tf.cast(tf.equal(_workers.rank, 0), tf.float32)
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, [v * mine for v in values])

    values = tf.function(lambda vs: run(replica, vs), autograph=False)(
        [tf.convert_to_tensor(v) for v in variables])
    for var, value in zip(variables, values, strict=True):
        var.assign(value)


def any_worker(flag: bool) -> bool:
    """Whether `flag` is true on any worker."""
    def replica(x: tf.Tensor) -> tf.Tensor:
        # (A value computed in the replica: the strategy places the collective by it; an
        # argument passed straight through has no device to reduce on.)
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM,
                                                              x * 1.0)

    return bool(_function("any", replica)(tf.constant(1.0 if flag else 0.0)).numpy() > 0)


def all_gather(x: tf.Tensor) -> tf.Tensor:
    """Every worker's rows of `x`, in rank order."""
    def replica(v: tf.Tensor) -> tf.Tensor:
        return tf.distribute.get_replica_context().all_gather(v * 1.0, axis=0)

    return _function("gather", replica)(x)
