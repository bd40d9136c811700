"""`import gancore`, listing backends and plugins, and the losses import no framework
(DESIGN invariant 1, STYLE.md 1), checked in fresh interpreters as array-api-compat's
`tests/test_no_dependencies.py` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _helpers import load_backend

FRAMEWORK_MODULES = ("torch", "tensorflow", "keras")

# Prints which framework modules the code before it imported, as JSON on the last line.
_REPORT = (
    "\nimport json, sys\n"
    f"print(json.dumps(sorted(m for m in {FRAMEWORK_MODULES!r} if m in sys.modules)))\n"
)


def run_python(code: str) -> tuple[list[str], str]:
    """Run `code` in a fresh interpreter; returns the framework modules it left imported
    and its standard output."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code + _REPORT], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


@pytest.mark.parametrize(
    "code",
    [
        "import gancore",
        "import gancore; gancore.backends()",
        "import gancore; gancore.describe_backends()",
        "import gancore; gancore.list_plugins('backends')",
        "import gancore; [gancore.list_plugins(g) for g in "
        "('backends', 'architectures', 'losses', 'datasets')]",
        "import gancore.losses",
        # The numpy reference runs every loss without a framework.
        "import numpy as np, gancore.losses as gl; "
        "gl.minimax_critic_loss(np.zeros(2), np.ones(2)); gl.gradient_penalty("
        "lambda x: x.sum(axis=1), np.zeros((2, 3)), np.ones((2, 3)), rng=0)",
        "import gancore, numpy as np; gancore.ops_for([('x', np.zeros(2))])",
    ],
    ids=["import", "backends", "describe_backends", "list_plugins", "list_all_plugins",
         "import_losses", "numpy_losses", "ops_for_numpy"],
)
def test_no_framework_is_imported(code: str) -> None:
    imported, _ = run_python(code)
    assert imported == []


def test_the_backends_are_listed_without_their_frameworks() -> None:
    imported, out = run_python(
        "import gancore; print(gancore.backends()); "
        "print(sorted(i.name for i in gancore.describe_backends()))"
    )
    assert imported == []
    for line in out.splitlines():
        assert {"'numpy'", "'torch'", "'tensorflow'"} <= set(
            line.strip("[]").replace(" ", "").split(",")
        ), line


def test_loading_a_backend_imports_its_framework_and_only_it() -> None:
    load_backend("torch")  # skips (fails under CI) where torch is not installed
    imported, _ = run_python("import gancore; gancore.backend('torch')")
    # Proves the checks above can fail: the report sees a framework once it is imported.
    # (torch only: importing TensorFlow in a fresh interpreter takes many seconds.)
    assert imported == ["torch"]


# --- the command line: `gancore backends` and `gancore plugins` ------------------------------

_CLI = (
    "import contextlib, io, sys\n"
    "from gancore.cli import main\n"
    "buffer = io.StringIO()\n"
    "with contextlib.redirect_stdout(buffer):\n"
    "    status = main([{command!r}])\n"
    "assert status == 0, status\n"
    "print(buffer.getvalue())\n"
)


@pytest.mark.parametrize("command", ["backends", "plugins"])
def test_cli_lists_without_importing_a_framework(command: str) -> None:
    imported, out = run_python(_CLI.format(command=command))
    assert imported == []
    for backend in ("numpy", "torch", "tensorflow"):
        assert backend in out, out


@pytest.mark.parametrize("command", ["backends", "plugins"])
def test_python_m_gancore_runs_the_cli(command: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gancore", command], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "torch" in result.stdout and "tensorflow" in result.stdout, result.stdout
    assert "numpy" in result.stdout, result.stdout
