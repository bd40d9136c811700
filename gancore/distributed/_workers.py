"""`Workers`: which worker of how many this process is, read from the environment the
frameworks' launchers set (torchrun's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``,
TensorFlow's ``TF_CONFIG``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import attrs

from gancore._errors import InvalidArgumentError

__all__ = ["Workers", "from_environment", "shard_rows"]

#: Seconds a worker waits for the others in one collective before the job fails (a peer that
#: died mid-step must not hang the rest for torch's default 30 minutes).
TIMEOUT_ENV = "GANCORE_WORKER_TIMEOUT"
DEFAULT_TIMEOUT = 300.0


def _nonnegative(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgumentError(f"{attr.name} must be an int >= 0; received {value!r}")


@attrs.frozen
class Workers:
    """This process's place in a data-parallel job.

    Every worker runs the same program on its own shard of each global batch: `rank` in
    ``[0, world_size)``, `local_rank` its index on its host (its GPU). One worker
    (`world_size` 1) is the ordinary one-process run. `sync_batch_norm` makes batch
    normalisation use the global batch's statistics (an all-reduce per layer) instead of
    each worker's own. `timeout` bounds how long a worker waits for the others.
    """

    rank: int = attrs.field(default=0, validator=_nonnegative)
    world_size: int = attrs.field(default=1, validator=_nonnegative)
    local_rank: int = attrs.field(default=0, validator=_nonnegative)
    sync_batch_norm: bool = False
    timeout: float = DEFAULT_TIMEOUT
    #: where the job comes from: "single", "torchrun", "tf_config" or "gancore" (--workers)
    launcher: str = "single"

    def __attrs_post_init__(self) -> None:
        if self.world_size < 1 or self.rank >= self.world_size:
            raise InvalidArgumentError(
                f"rank must be in [0, world_size); received rank {self.rank} of world_size "
                f"{self.world_size}"
            )
        if not self.timeout > 0:
            raise InvalidArgumentError(f"timeout must be > 0 seconds; received {self.timeout}")

    @property
    def distributed(self) -> bool:
        """More than one worker."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """The worker that writes the run's files (rank 0)."""
        return self.rank == 0

    def local_batch(self, global_batch: int, what: str = "batch_size") -> int:
        """Each worker's share of a global batch; it must divide evenly."""
        if global_batch % self.world_size:
            raise InvalidArgumentError(
                f"{what} must be divisible by the number of workers ({self.world_size}) so that "
                f"each takes an equal share of the global batch; received {global_batch}"
            )
        return global_batch // self.world_size

    def shard(self, rows: Any, what: str = "batch_size") -> Any:
        """This worker's contiguous rows of a global batch (the array itself for one worker)."""
        return shard_rows(rows, self, what)


def shard_rows(rows: Any, workers: Workers, what: str = "batch_size") -> Any:
    if not workers.distributed:
        return rows
    n = workers.local_batch(len(rows), what)
    return rows[workers.rank * n : (workers.rank + 1) * n]


def _int_env(env: Mapping[str, str], name: str) -> int:
    text = env[name]
    try:
        return int(text)
    except ValueError:
        raise InvalidArgumentError(f"${name} must be an int; received {text!r}") from None


def _timeout(env: Mapping[str, str]) -> float:
    text = env.get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidArgumentError(f"${TIMEOUT_ENV} must be a number of seconds > 0; "
                                   f"received {text!r}")
    return value


def tf_config_cluster(text: str) -> tuple[list[str], int]:
    """The worker addresses and this task's index from a ``TF_CONFIG`` value."""
    try:
        config = json.loads(text)
        workers = list(config["cluster"]["worker"])
        task = config["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            '$TF_CONFIG must be JSON like {"cluster": {"worker": ["host:port", ...]}, '
            f'"task": {{"type": "worker", "index": 0}}}}; received {text[:200]!r}'
        ) from None
    if kind != "worker" or not 0 <= index < len(workers) or set(config["cluster"]) - {"worker"}:
        raise InvalidArgumentError(
            "$TF_CONFIG must describe workers only (no chief, ps or evaluator) and a task "
            f"index among them; received task {task!r} in a cluster of "
            f"{sorted(config['cluster'])}"
        )
    return workers, index


def from_environment(framework: str, *, sync_batch_norm: bool = False,
                     env: Mapping[str, str] | None = None) -> Workers:
    """This process's `Workers`: torchrun's variables for torch, ``TF_CONFIG`` for
    TensorFlow, else one worker. A framework's variables are ignored by the other
    framework (and then a warning-free one-process run follows)."""
    env = os.environ if env is None else env
    timeout = _timeout(env)
    launcher = env.get("GANCORE_LAUNCHER")
    if framework == "torch" and "WORLD_SIZE" in env and "RANK" in env:
        world = _int_env(env, "WORLD_SIZE")
        rank = _int_env(env, "RANK")
        local = _int_env(env, "LOCAL_RANK") if "LOCAL_RANK" in env else 0
        return Workers(rank, world, local, sync_batch_norm, timeout,
                       launcher or "torchrun")
    if framework == "tensorflow" and env.get("TF_CONFIG"):
        addresses, index = tf_config_cluster(env["TF_CONFIG"])
        local = _int_env(env, "LOCAL_RANK") if "LOCAL_RANK" in env else 0
        return Workers(index, len(addresses), local, sync_batch_norm, timeout,
                       launcher or "tf_config")
    return Workers(sync_batch_norm=sync_batch_norm, timeout=timeout)
