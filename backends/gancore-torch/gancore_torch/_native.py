"""A plugin's own torch module behind the interface of gancore's networks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    def trainable_names(self) -> list[str]:
        """The module's names of `trainable_parameters()`, in that order."""
        return [n for n, p in self.module.named_parameters() if p.requires_grad]

    def to_canonical(self, values: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Arrays shaped like `trainable_parameters()` by the parameters' names (a native
        module's layout is its own)."""
        return {n: np.asarray(v) for n, v in zip(self.trainable_names(), values, strict=True)}

    def from_canonical(self, arrays: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The inverse of `to_canonical`."""
        return [np.asarray(arrays[n]) for n in self.trainable_names()]

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
