"""gancore's conformance suite on the JAX backend."""

from __future__ import annotations

from gancore.conformance import *  # noqa: F403

BACKENDS = ["jax"]
