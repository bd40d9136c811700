"""The PyTorch backend of gancore.

Importing this package does not import torch: gancore lists backends from this class's
attributes, and torch is imported when the backend is instantiated.
"""

from __future__ import annotations

from gancore_torch._backend import TorchBackend

__all__ = ["TorchBackend"]
