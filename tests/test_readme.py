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


def bash_lines() -> list[str]:
    """The README's shell commands, in order, without comments."""
    blocks = [body for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), re.S)
              if lang == "bash"]
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_every_bracket_in_a_command_is_quoted_for_zsh() -> None:
    """zsh reads an unquoted `gancore[torch]` as a file pattern and stops with 'no matches'."""
    unquoted = [line for line in bash_lines()
                if re.search(r"\[", re.sub(r'"[^"]*"|\'[^\']*\'', "", line))]
    assert not unquoted
    assert 'pip install "gancore[torch]"' in bash_lines()


def test_ci_installs_the_checkout_as_the_readme_says() -> None:
    install = [line for line in bash_lines() if line.startswith("pip install -c constraints.txt")]
    assert len(install) == 1
    ci = (README.parent / ".ci" / "run").read_text()
    assert f"python -m {install[0]}\n" in ci


def test_every_run_a_command_reads_was_made_by_an_earlier_command() -> None:
    """From an empty folder, in the order written: a checkpoint or run that a command reads
    was written before by a `gancore train` (its --out, or the default runs/<recipe>-torch)."""
    made: set[str] = set()
    for line in bash_lines():
        words = line.split()
        if words[:1] == ["torchrun"] and "-m" in words:  # torchrun's options, then gancore's
            words = words[words.index("-m") + 1:]
        if words[:2] != ["gancore", "train"] or "--resume" in words:
            for word in words:
                if word.startswith("runs/"):
                    assert word.split("/")[1] in made, (line, made)
        if words[:2] == ["gancore", "train"]:
            out = words[words.index("--out") + 1] if "--out" in words else None
            recipe = words[words.index("--recipe") + 1] if "--recipe" in words else "dcgan"
            backend = words[words.index("--backend") + 1] if "--backend" in words else "torch"
            made.add((out or f"runs/{recipe}-{backend}").split("/")[1])
    assert {"dcgan-torch", "wgan-gp", "cgan", "ring"} <= made
