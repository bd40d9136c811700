"""Device selection for the PyTorch backend."""

from __future__ import annotations

import torch

from gancore import InvalidArgumentError


def resolve_device(device: str = "auto") -> torch.device:
    """`auto` picks CUDA when available; `cpu` and `cuda[:N]` are taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InvalidArgumentError(
                f"device must be 'auto' or 'cpu' here (no CUDA device is available to torch); "
                f"received {device!r}"
            )
        return torch.device(device)
    raise InvalidArgumentError(f"device must be 'auto', 'cpu' or 'cuda[:N]'; received {device!r}")
