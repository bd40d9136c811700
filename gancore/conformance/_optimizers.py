"""PyTorch's optimizer arithmetic in float32 numpy: what every backend's optimizers are
held to (torch.optim's Adam, RMSprop and SGD with one parameter group, no weight decay).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["reference_updates"]


def reference_updates(config: Any, start: np.ndarray, grads: Sequence[np.ndarray],
                      lrs: Sequence[float] | None = None) -> np.ndarray:
    """The parameter after one update per gradient, from `start`, under `config` (a
    `gancore.training.OptimizerConfig`); `lrs` gives each step's learning rate."""
    f32 = np.float32
    p = np.array(start, f32)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, f32)
        lr = config.lr if lrs is None else lrs[t - 1]
        if config.name == "adam":
            m = m + f32(1 - config.beta1) * (g - m)  # torch's lerp_
            v = v * f32(config.beta2) + f32(1 - config.beta2) * (g * g)
            # The bias corrections are Python floats (float64) in torch.
            step_size = f32(lr / (1 - config.beta1**t))
            denom = np.sqrt(v) / f32(math.sqrt(1 - config.beta2**t)) + f32(config.eps)
            p = p - step_size * (m / denom)
        elif config.name == "rmsprop":
            v = v * f32(config.rho) + f32(1 - config.rho) * (g * g)
            p = p - f32(lr) * (g / (np.sqrt(v) + f32(config.eps)))
        else:
            if config.momentum:
                m = g if t == 1 else m * f32(config.momentum) + g
                g = m
            p = p - f32(lr) * g
    return p
