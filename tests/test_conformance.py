"""The conformance suite (gancore.conformance) on every framework backend: torch,
TensorFlow and JAX; under CI a missing one fails the run (DESIGN invariant 6)."""

from __future__ import annotations

from gancore.conformance import *  # noqa: F403

BACKENDS = ["torch", "tensorflow", "jax"]
