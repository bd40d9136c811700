"""The TensorFlow backend of gancore.

Importing this package does not import TensorFlow: gancore lists backends from this class's
attributes, and TensorFlow is imported when the backend is instantiated.
"""

from __future__ import annotations

from gancore_tensorflow._backend import TensorFlowBackend

__all__ = ["TensorFlowBackend"]
