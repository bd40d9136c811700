"""Data-parallel training on torch.distributed: the process group, gradient averaging,
synchronised batch normalisation, broadcasts and agreement between workers.

Collectives go over NCCL on CUDA and gloo on the CPU, in the process group torchrun (or
``gancore train --workers``) describes through ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK`` and
``WORLD_SIZE``.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist

from gancore import GancoreError

_local = threading.local()
# The device of this worker's collectives' tensors (CPU for gloo, its GPU for NCCL).
_device = "cpu"


def init_workers(workers: Any, device: str) -> str:
    """Join the job's process group (once per process); returns the device this worker
    trains on: ``cuda:<local_rank>`` where torch sees GPUs and `device` is ``auto`` or
    ``cuda``, else `device`."""
    if device in ("auto", "cuda", "gpu") and torch.cuda.is_available():
        if torch.cuda.device_count() <= workers.local_rank:
            raise GancoreError(
                f"worker {workers.rank} has local rank {workers.local_rank}, but this host "
                f"has {torch.cuda.device_count()} GPUs: start at most one worker per GPU"
            )
        device = f"cuda:{workers.local_rank}"
        torch.cuda.set_device(device)
    elif device == "auto":
        device = "cpu"
    global _device
    _device = device
    if not dist.is_initialized():
        engine = "nccl" if device.startswith("cuda") else "gloo"
        try:
            dist.init_process_group(engine, rank=workers.rank, world_size=workers.world_size,
                                    timeout=datetime.timedelta(seconds=workers.timeout))
        except (RuntimeError, ValueError) as e:
            raise GancoreError(
                f"worker {workers.rank} of {workers.world_size} could not join the job's "
                f"process group ({engine}): {e}"
            ) from None
    if dist.get_world_size() != workers.world_size or dist.get_rank() != workers.rank:
        raise GancoreError(
            f"the process group is rank {dist.get_rank()} of {dist.get_world_size()}; "
            f"received workers rank {workers.rank} of {workers.world_size}"
        )
    return device


def _flat_mean(tensors: Sequence[torch.Tensor], world: int) -> list[torch.Tensor]:
    """One all-reduce for all of `tensors` (one message, not one per tensor), divided by
    the number of workers."""
    flat = torch.cat([t.reshape(-1).to(torch.float32) for t in tensors])
    dist.all_reduce(flat)
    flat.div_(world)
    out, start = [], 0
    for t in tensors:
        out.append(flat[start : start + t.numel()].view(t.shape).to(t.dtype))
        start += t.numel()
    return out


def average(params: Sequence[torch.nn.Parameter], metrics: Mapping[str, Any],
            world: int) -> dict[str, Any]:
    """Average the gradients of `params` (in place) and the scalar metrics over the
    workers, in one all-reduce; returns the metrics with the averaged values. A parameter
    without a gradient (the objective did not reach it) counts as a zero gradient."""
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
    names = [k for k, v in metrics.items() if not k.startswith("_") and v.numel() == 1]
    reduced = _flat_mean([*grads, *(metrics[k].detach().reshape(1) for k in names)], world)
    for p, g in zip(params, reduced, strict=False):
        if p.grad is None:
            p.grad = g
        else:
            p.grad.copy_(g)
    out = dict(metrics)
    for k, v in zip(names, reduced[len(grads):], strict=True):
        out[k] = v.reshape(metrics[k].shape)
    return out


@contextlib.contextmanager
def syncing(workers: Any) -> Iterator[None]:
    """Inside, training-mode batch normalisation uses the statistics of the global batch
    (when the job asks for synchronised batch norm). Only the updates enter it: every worker
    runs them, so every worker joins each batch-norm all-reduce."""
    before = getattr(_local, "workers", None)
    _local.workers = workers if workers is not None and workers.sync_batch_norm else None
    try:
        yield
    finally:
        _local.workers = before


def sync_workers() -> Any:
    """The job whose batch norm is being synchronised here, or None."""
    return getattr(_local, "workers", None)


def global_moments(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor,
                                                                      int]:
    """Mean and biased variance over `dims` of the rows of every worker (differentiable:
    the all-reduces' backward passes all-reduce the gradients), and the global count."""
    all_reduce = _AllReduceSum.apply
    world = dist.get_world_size()
    count = 1
    for d in dims:
        count *= x.shape[d]
    total = count * world
    mean = all_reduce(x.sum(dims)) / total
    shape = [1] * x.dim()
    shape[1] = -1
    centred = x - mean.reshape(shape)
    var = all_reduce((centred * centred).sum(dims)) / total
    return mean, var, total


def global_row_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean over the rows (dim 0) of every worker's `x` (the same number of rows on
    each), differentiable like `global_moments`."""
    return _AllReduceSum.apply(x.sum(0)) / (x.shape[0] * dist.get_world_size())


class _AllReduceSum(torch.autograd.Function):
    """The sum over the workers, differentiable: every worker's loss reaches every worker's
    input through it, so its backward pass sums the incoming gradients over the workers."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        # Itself again (the sum is linear and its own adjoint), so that a gradient penalty's
        # double backward through synchronised batch norm is right too.
        return _AllReduceSum.apply(grad.contiguous())


def broadcast(tensors: Sequence[torch.Tensor]) -> None:
    """Rank 0's values into every worker's `tensors`, in place."""
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data if isinstance(t, torch.nn.Parameter) else t, src=0)


def any_worker(flag: bool) -> bool:
    """Whether `flag` is true on any worker (every worker must call it)."""
    t = torch.tensor([1.0 if flag else 0.0], device=_device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_gather_rows(x: torch.Tensor) -> torch.Tensor:
    """The rows of every worker, in rank order (every worker's `x` has the same shape)."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def leave() -> None:
    """Leave the process group (at the end of a job)."""
    if dist.is_initialized():
        dist.destroy_process_group()
