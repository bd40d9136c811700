"""Optimizers and compiled update steps on PyTorch."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch

from gancore import InvalidArgumentError

Objective = Callable[[Mapping[str, Any]], tuple[torch.Tensor, Mapping[str, torch.Tensor]]]


def make_optimizer(config: Any, params: Sequence[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The torch optimizer for a gancore `OptimizerConfig`."""
    params = list(params)
    # One multi-tensor update for all parameters (torch picks it by default only on CUDA):
    # about 10 % of a small network's step on the CPU.
    if config.name == "adam":
        return torch.optim.Adam(
            params, lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps,
            foreach=True,
        )
    if config.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, alpha=config.rho, eps=config.eps, foreach=True
        )
    if config.name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, foreach=True)
    raise InvalidArgumentError(
        f"optimizer must be one of 'adam', 'rmsprop', 'sgd'; received {config.name!r}"
    )


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class Update:
    """One optimizer step on `objective`: zero grads, forward, backward, step, `post`.

    With `compile=True` the objective's forward and backward run through `torch.compile`.
    """

    def __init__(self, objective: Objective, optimizer: torch.optim.Optimizer,
                 post: Callable[[], None] | None = None, compile: bool = False) -> None:
        self.objective = torch.compile(objective) if compile else objective
        self.optimizer = optimizer
        self.post = post

    def __call__(self, inputs: Mapping[str, Any]) -> Mapping[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = self.objective(inputs)
        loss.backward()
        self.optimizer.step()
        if self.post is not None:
            self.post()
        return metrics


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Work done inside records no graph (e.g. the fakes of a critic step)."""
    with torch.no_grad():
        yield


def ema_update(target: Sequence[torch.Tensor], source: Sequence[torch.Tensor],
               decay: float) -> None:
    """target = decay * target + (1 - decay) * source, in place."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target), list(source), 1.0 - decay)


def copy_values(target: Sequence[torch.Tensor], source: Sequence[torch.Tensor]) -> None:
    with torch.no_grad():
        for t, s in zip(target, source, strict=True):
            t.copy_(s)
