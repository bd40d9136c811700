"""A plugin's own torch module behind the interface of gancore's networks."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from gancore import InvalidArgumentError
from gancore.nn import CanonicalLayouts


class NativeNetwork(torch.nn.Module, CanonicalLayouts):
    """Wraps a `torch.nn.Module`: `training` switches train/eval mode; state is its
    `state_dict` as numpy arrays, in torch's own names and layouts (the canonical ones of
    `CanonicalLayouts`, with identity permutations), so such checkpoints load on torch
    only, and into the module with `load_state_dict`."""

    def __init__(self, module: torch.nn.Module) -> None:
        if not isinstance(module, torch.nn.Module):
            raise InvalidArgumentError(
                f"a native torch architecture must build torch.nn.Module objects; received "
                f"{type(module).__name__}"
            )
        super().__init__()
        self.module = module
        self._trainable = [n for n, p in module.named_parameters() if p.requires_grad]
        self._perms = {n: tuple(range(p.dim())) for n, p in module.named_parameters()}

    def forward(self, *inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        self.module.train(training)
        return self.module(*inputs)

    def copy(self) -> NativeNetwork:
        """An independent copy (`copy.deepcopy` of the module): the EMA generator."""
        return NativeNetwork(copy.deepcopy(self.module))

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.module.parameters() if p.requires_grad]

    def get_state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.module.state_dict().items()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        own = self.module.state_dict()
        missing = sorted(set(own) - set(state))
        if missing:
            raise InvalidArgumentError(
                f"state must hold every entry of the module; missing {', '.join(missing)}"
            )
        self.module.load_state_dict(
            {k: torch.as_tensor(np.asarray(state[k])).to(own[k].device, own[k].dtype)
             for k in own}
        )
