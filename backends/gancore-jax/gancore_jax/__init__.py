"""The JAX backend of gancore.

Importing this package does not import JAX: gancore lists backends from this class's
attributes, and JAX is imported when the backend is instantiated.
"""

from __future__ import annotations

from gancore_jax._backend import JaxBackend

__all__ = ["JaxBackend"]
