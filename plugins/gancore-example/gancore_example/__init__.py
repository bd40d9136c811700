"""gancore-example: a third-party gancore plugin, as a template for your own.

It registers, through the entry points of its pyproject.toml:

- architectures ``tiny_mlp`` (portable `gancore.nn` specs, every backend) and
  ``torch_mlp`` (hand-written `torch.nn.Module`s, the torch backend only);
- the loss ``least_squares_abc`` (least squares with Mao et al.'s a = -1, b = 1, c = 0);
- the dataset ``swiss_roll`` (2-D points).

Importing this package imports gancore and numpy only, never a deep-learning framework.
"""

from __future__ import annotations

from gancore_example._datasets import swiss_roll
from gancore_example._losses import LEAST_SQUARES_ABC, LeastSquaresABC
from gancore_example._tiny_mlp import tiny_mlp
from gancore_example._torch_mlp import torch_mlp

__all__ = ["LEAST_SQUARES_ABC", "LeastSquaresABC", "swiss_roll", "tiny_mlp", "torch_mlp"]
