"""Shared fixtures: hypothesis profiles and one fixture per backend (STYLE.md 8 and 9)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from _helpers import FRAMEWORKS, IN_CI, load_backend
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("derandomized", derandomize=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "dev"))


@pytest.fixture(scope="session", params=FRAMEWORKS, ids=lambda name: name)
def backend(request: pytest.FixtureRequest) -> Any:
    """Each framework backend (its `.ops` is the ArrayOps); a missing one skips, or fails
    under CI=true (a green CI run has tested every framework, DESIGN invariant 6)."""
    return load_backend(request.param)


@pytest.fixture(scope="session", params=("numpy", *FRAMEWORKS), ids=lambda name: name)
def any_backend(request: pytest.FixtureRequest) -> Any:
    """The numpy reference backend and each framework backend."""
    return load_backend(request.param)


@pytest.fixture
def plugin_switches_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No GANCORE_NO_PLUGINS / GANCORE_BLOCK_PLUGINS from the caller's environment, and a
    fresh plugin cache before and after the test."""
    from gancore import _registry

    monkeypatch.delenv(_registry.DISABLE_ENV, raising=False)
    monkeypatch.delenv(_registry.BLOCK_ENV, raising=False)
    _registry.refresh()
    yield
    _registry.refresh()


_TORCH_THREADS: list[int] = []  # torch's thread count when a test first found it loaded


@pytest.fixture(autouse=True)
def torch_threads_restored() -> Iterator[None]:
    """Each test leaves torch's thread count as the suite found it: `gancore.train` sets it
    for the process (`threads="auto"` follows the load average), and float32 sums, so the
    runs a later test compares, depend on it."""
    torch = sys.modules.get("torch")
    if torch is not None and not _TORCH_THREADS:
        _TORCH_THREADS.append(torch.get_num_threads())
    yield
    torch = sys.modules.get("torch")
    if torch is not None and _TORCH_THREADS and torch.get_num_threads() != _TORCH_THREADS[0]:
        torch.set_num_threads(_TORCH_THREADS[0])
