"""`torch_mlp`: a generator and critic written by hand as plain `torch.nn.Module`s.

Such a `NativeArchitecture` trains on the backends it has builders for (here torch only);
on any other backend gancore raises `BackendUnsupportedError`. torch is imported inside the
builder, so listing and loading this plugin never imports it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gancore.architectures import NativeArchitecture
from gancore_example._checks import check_options, check_positive_int, check_sample_shape

__all__ = ["torch_mlp"]

#: The entry-point name: gancore rebuilds a native architecture from a checkpoint through
#: the plugin of this name, so the architecture's `name` must be it.
NAME = "torch_mlp"


def _torch_modules(sample_shape: tuple[int, ...], latent_dim: int, hidden: int,
                   device: Any) -> tuple[Any, Any]:
    """(generator, critic) on `device`, in torch's native layout: NCHW images, (batch, d)
    vectors."""
    import torch
    from torch import nn

    features = math.prod(sample_shape)
    images = len(sample_shape) == 3

    class Generator(nn.Module):
        """z (batch, latent_dim) -> samples (batch, c, h, w) in [-1, 1], or (batch, d)."""

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, features),
            )

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            out = self.body(z)
            if not images:
                return out
            h, w, c = sample_shape
            return torch.tanh(out).view(-1, c, h, w)

    class Critic(nn.Module):
        """samples (NCHW images or (batch, d) vectors) -> (batch, 1) logits."""

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Linear(features, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, 1),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x.flatten(1))

    return Generator().to(device), Critic().to(device)


def torch_mlp(
    sample_shape: Sequence[int],
    *,
    latent_dim: int = 16,
    num_classes: int | None = None,
    hidden: int = 64,
    **options: Any,
) -> NativeArchitecture:
    """A small unconditional fully connected GAN written directly in PyTorch.

    The same layers as `tiny_mlp` (two hidden layers of `hidden` units with LeakyReLU 0.2,
    a tanh for images, a (batch, 1) logit critic), but as hand-written `torch.nn.Module`s
    with torch's own initialisation: it trains on the torch backend only.
    """
    shape = check_sample_shape(NAME, sample_shape)
    latent = check_positive_int(NAME, "latent_dim", latent_dim)
    units = check_positive_int(NAME, "hidden", hidden)
    check_options(NAME, num_classes, options)
    return NativeArchitecture(
        name=NAME,
        builders={"torch": lambda device: _torch_modules(shape, latent, units, device)},
        sample_shape=shape,
        latent_dim=latent,
    )
