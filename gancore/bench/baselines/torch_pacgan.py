"""PacGAN's 2-D mixture networks (Lin et al. 2018; fjxmlzn/PacGAN) in the plain PyTorch loop.

Generator: 2-D noise -> [Dense 400 (no bias) -> BatchNorm (momentum 0.05, eps 1e-4) ->
ReLU] x 4 -> Dense 2. Critic: [Dense 1000 -> maxout of 5 pieces (200 units)] x 3 -> Dense 1.
Non-saturating loss, Adam 1e-4 beta1 0.8, batch 100: small networks, where the framework's
per-step overhead is most of the step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gancore.bench.baselines.torch_dcgan import GANLoop

LATENT_DIM = 2


class Maxout(nn.Module):
    """The max over `pieces` consecutive features (Goodfellow et al. 2013)."""

    def __init__(self, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(1, (-1, self.pieces)).amax(2)


def generator(dim: int = 2, hidden: int = 400, layers: int = 4) -> nn.Sequential:
    """Noise -> a point."""
    body: list[nn.Module] = []
    width = LATENT_DIM
    for _ in range(layers):
        body += [nn.Linear(width, hidden, bias=False),
                 nn.BatchNorm1d(hidden, eps=1e-4, momentum=0.05), nn.ReLU()]
        width = hidden
    return nn.Sequential(*body, nn.Linear(width, dim))


def critic(dim: int = 2, hidden: int = 200, layers: int = 3, pieces: int = 5) -> nn.Sequential:
    """A point -> one logit."""
    body: list[nn.Module] = []
    width = dim
    for _ in range(layers):
        body += [nn.Linear(width, hidden * pieces), Maxout(pieces)]
        width = hidden
    return nn.Sequential(*body, nn.Linear(width, 1))


def mixture_loop(points: np.ndarray, batch_size: int = 100, seed: int = 0,
                 compiled: bool = False) -> GANLoop:
    """The non-saturating GAN loop on `points` of shape (N, 2) (`compiled`: through
    `torch.compile`)."""
    return GANLoop(generator(points.shape[1]), critic(points.shape[1]),
                   np.ascontiguousarray(points, dtype=np.float32), batch_size, LATENT_DIM,
                   lr=1e-4, beta1=0.8, seed=seed, compiled=compiled)
