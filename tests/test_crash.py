"""Crash safety and clean stops, with real processes (DESIGN invariant 7): `gancore train`
killed with SIGKILL at random moments (checkpoint writes included) and resumed until it
finishes ends with the weights, optimizer state and metrics of the run never killed;
SIGTERM and SIGINT finish the step, write a checkpoint, say how to resume and exit
non-zero."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gancore.training import latest_checkpoint, load_checkpoint

# A small ring run with state everywhere: packing, R1, a linear learning-rate decay, Adam,
# and a checkpoint after every step so that most of the time goes to writing them.
TINY = """recipe = "ring"
steps = {steps}
[train]
batch_size = 16
log_every = 1
checkpoint_every = {every}
lr_schedule = "{schedule}"
[architecture]
hidden = 16
"""


def _config(tmp_path: Path, steps: int, every: int, schedule: str = "linear") -> Path:
    path = tmp_path / f"tiny-{steps}-{every}-{schedule}.toml"
    path.write_text(TINY.format(steps=steps, every=every, schedule=schedule))
    return path


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gancore", "train", "--no-progress", *args]


def _env() -> dict[str, str]:
    # The same thread count in every process: float sums then repeat bit for bit.
    return {**os.environ, "GANCORE_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(*args), env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _latest_step(out: Path) -> int:
    root = out / "checkpoints"
    try:
        names = [p.name for p in root.iterdir() if p.name.startswith("step-")]
    except FileNotFoundError:
        return -1
    return max((int(n[5:]) for n in names), default=-1)


def _final(out: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], str]:
    checkpoint = load_checkpoint(out)
    arrays = {f"{net}/{k}": v for net, state in checkpoint.arrays.items()
              for k, v in state.items()}
    state = checkpoint.training_state()
    for name, component in state.items():
        arrays.update({f"{name}/{k}": v for k, v in component.items()
                       if isinstance(v, np.ndarray)})
    document = {name: {k: v for k, v in c.items() if not isinstance(v, np.ndarray)}
                for name, c in state.items()}
    return arrays, document, (out / "metrics.jsonl").read_text()


def _assert_same_run(got: Path, want: Path) -> None:
    a, b = _final(got), _final(want)
    assert a[1] == b[1]
    assert a[2] == b[2]
    assert a[0].keys() == b[0].keys()
    for key, value in b[0].items():
        np.testing.assert_array_equal(a[0][key], value, err_msg=key)


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_a_run_killed_at_random_moments_ends_as_the_run_never_killed(
        name: str, tmp_path: Path) -> None:
    steps = 100
    config = str(_config(tmp_path, steps, every=1))
    reference = tmp_path / "reference"
    done = _run(["--config", config, "--backend", name, "--out", str(reference)])
    assert done.returncode == 0, done.stderr
    rng = random.Random(f"crash-{name}")
    out = tmp_path / "killed"
    kills = 0
    for _attempt in range(40):
        if latest_checkpoint(out) is not None:
            args = ["--resume", str(out)]
        else:  # killed before its first checkpoint: start again
            args = ["--config", config, "--backend", name, "--out", str(out), "--overwrite"]
        proc = subprocess.Popen(_command(*args), env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if kills < 6:
            before = _latest_step(out)
            if kills % 3 == 2:
                time.sleep(rng.uniform(0.0, 4.0))  # any moment: start-up included
            else:  # while it trains: once it has written a new checkpoint
                while proc.poll() is None and _latest_step(out) <= before:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, 0.1))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        break
    else:
        pytest.fail("the killed run never finished")
    assert kills >= 4, f"only {kills} kills landed before the run finished"
    assert load_checkpoint(out).step == steps
    _assert_same_run(out, reference)


@pytest.mark.parametrize(("name", "signum"), [("torch", signal.SIGTERM),
                                              ("tensorflow", signal.SIGTERM),
                                              ("torch", signal.SIGINT),
                                              ("tensorflow", signal.SIGINT)],
                         ids=["torch-SIGTERM", "tensorflow-SIGTERM", "torch-SIGINT",
                              "tensorflow-SIGINT"])
def test_a_stop_signal_finishes_the_step_saves_and_says_how_to_resume(
        name: str, signum: int, tmp_path: Path) -> None:
    config = str(_config(tmp_path, 100000, every=0, schedule="constant"))
    out = tmp_path / "stopped"
    proc = subprocess.Popen(_command("--config", config, "--backend", name, "--out", str(out)),
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    while proc.poll() is None and _latest_step(out) < 0:  # the start's checkpoint is there
        time.sleep(0.01)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    sig = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    step = load_checkpoint(out).step
    assert 0 < step < 100000
    assert f"gancore: training stopped by {sig} at step {step} of 100000" in err
    assert f"resume with: gancore train --resume {out}" in err
    assert "Traceback" not in err
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    if signum != signal.SIGTERM:
        return
    # Resumed (to a few more steps, the schedule being constant), it is the run that
    # went there without a stop.
    resumed = _run(["--resume", str(out), "--steps", str(step + 3)])
    assert resumed.returncode == 0, resumed.stderr
    reference = tmp_path / "reference"
    done = _run(["--config", config, "--backend", name, "--out", str(reference),
                 "--steps", str(step + 3)])
    assert done.returncode == 0, done.stderr
    _assert_same_run(out, reference)
