"""The README's Python tour runs as written (its training shortened from 500 steps to 3),
in a scratch working directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import load_backend

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return [body for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), re.S)
            if lang == "python"]


def test_the_readme_has_a_losses_tour_and_a_training_tour() -> None:
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "steps=500" in blocks[1]


def test_the_losses_tour_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    load_backend("torch")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(compile(python_blocks()[0], "README.md", "exec"), scope)
    assert scope["fake"].grad is not None and scope["fake"].grad.shape == (64, 1)


def test_the_training_tour_runs_and_samples_the_same_on_both_backends(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    load_backend("torch")
    load_backend("tensorflow")
    monkeypatch.chdir(tmp_path)
    code = python_blocks()[1].replace("steps=500", "steps=3")
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["trainer"].step == 3
    assert scope["images"].shape == (16, 8, 8, 1)
    again = scope["load_checkpoint"]("runs/mine/checkpoint").sample(16, backend="torch", seed=0)
    np.testing.assert_allclose(again, scope["trainer"].sample(16, seed=0), atol=1e-5)
