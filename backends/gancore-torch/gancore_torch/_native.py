"""A plugin's own torch module behind the interface of gancore's networks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from gancore import InvalidArgumentError


class NativeNetwork(torch.nn.Module):
    """Wraps a `torch.nn.Module`: `training` switches train/eval mode; state is its
    `state_dict` as numpy arrays (torch's own names and layouts, not gancore's canonical
    ones, so such checkpoints load on torch only)."""

    def __init__(self, module: torch.nn.Module) -> None:
        if not isinstance(module, torch.nn.Module):
            raise InvalidArgumentError(
                f"a native torch architecture must build torch.nn.Module objects; received "
                f"{type(module).__name__}"
            )
        super().__init__()
        self.module = module

    def forward(self, *inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        self.module.train(training)
        return self.module(*inputs)

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
