"""`ArrayOps` on torch tensors, and the fused native losses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gancore_torch import _nn


def _bce(logits: torch.Tensor, target: Any, weights: Any, reduction: str) -> torch.Tensor:
    full = target.expand_as(logits) if torch.is_tensor(target) else torch.full_like(logits, target)
    return F.binary_cross_entropy_with_logits(logits, full, weight=weights, reduction=reduction)


def _minimax_critic(ops: Any, *, real: torch.Tensor, fake: torch.Tensor, real_target: Any,
                    real_weights: Any, fake_weights: Any, reduction: str,
                    real_shape: tuple, fake_shape: tuple) -> Any:
    if reduction == "none" and real_shape != fake_shape:
        return NotImplemented  # the generic loss raises the shape error
    return _bce(real, real_target, real_weights, reduction) + _bce(
        fake, 0.0, fake_weights, reduction
    )


def _nonsaturating_generator(ops: Any, *, fake: torch.Tensor, weights: Any,
                             reduction: str) -> torch.Tensor:
    return _bce(fake, 1.0, weights, reduction)


class TorchOps:
    """`ArrayOps` for torch tensors (any device)."""

    name = "torch"
    #: Registered for dispatch when the backend loads (see gancore.backend).
    array_types = (torch.Tensor, torch.nn.Parameter)

    def __init__(self) -> None:
        # binary_cross_entropy_with_logits is one fused, stable kernel for these losses.
        self.loss_overrides = {
            "minimax_critic_loss": _minimax_critic,
            "nonsaturating_generator_loss": _nonsaturating_generator,
        }

    def is_array(self, x: Any) -> bool:
        return isinstance(x, torch.Tensor)

    def asarray(self, x: Any, like: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            return x.to(device=like.device, dtype=like.dtype)
        return torch.as_tensor(np.asarray(x), dtype=like.dtype, device=like.device)

    def to_numpy(self, x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()

    def shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)

    def dtype_name(self, x: torch.Tensor) -> str:
        return str(x.dtype).removeprefix("torch.")

    def softplus(self, x: torch.Tensor) -> torch.Tensor:
        # F.softplus switches to the identity above its threshold, so it never overflows.
        return F.softplus(x)

    def abs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(x)

    def sqrt(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x)

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)

    def sum(self, x: torch.Tensor, axis: int | Sequence[int] | None = None) -> torch.Tensor:
        return x.sum() if axis is None else x.sum(dim=axis)

    def mean(self, x: torch.Tensor, axis: int | Sequence[int] | None = None) -> torch.Tensor:
        return x.mean() if axis is None else x.mean(dim=axis)

    def reshape(self, x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        return x.reshape(tuple(shape))

    def log_softmax(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        return F.log_softmax(x, dim=axis)

    def logsumexp(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        return torch.logsumexp(x, dim=axis)

    def one_hot(self, labels: Any, depth: int, like: torch.Tensor) -> torch.Tensor:
        labels = torch.as_tensor(labels, device=like.device).long()
        return F.one_hot(labels, depth).to(like.dtype)

    def stop_gradient(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach()

    # torch.compile's AOT autograd cannot differentiate twice: under torch.compile this
    # part (the critic on x_hat and its input gradient) runs eagerly, the rest compiled.
    @torch._dynamo.disable
    def input_gradient(
        self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.detach().requires_grad_(True)
        with torch.enable_grad(), _nn.differentiated_twice():
            out = fn(x)
            # create_graph keeps the gradient differentiable: the penalty trains the critic.
            (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        return out, grad

    def uniform(
        self, shape: Sequence[int], like: torch.Tensor, generator: Any = None
    ) -> torch.Tensor:
        if isinstance(generator, torch.Generator):
            values = torch.rand(tuple(shape), generator=generator, device=generator.device)
            return values.to(device=like.device, dtype=like.dtype)
        return torch.rand(tuple(shape), device=like.device, dtype=like.dtype)

    def clip_(self, params: Sequence[torch.Tensor], low: float, high: float) -> None:
        with torch.no_grad():
            for p in params:
                p.clamp_(low, high)
