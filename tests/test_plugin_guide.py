"""docs/plugins.md followed literally: its code blocks, assembled in a folder as the guide
says, make a plugin that gancore lists and trains on every backend, with its loss and its
dataset.

Nothing is pip-installed: the guide's `pyproject.toml` entry points become a `*.dist-info`
folder under `tmp_path`, read through `importlib.metadata` like an installed distribution's
(the real install of a plugin is tested with `plugins/gancore-example`).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gancore
from gancore import _registry
from gancore.cli import main

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def guide_blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced block of the five-minute guide, in order."""
    text = GUIDE.read_text()
    start, end = text.index("## Write a plugin in five minutes"), text.index("## The rules")
    return re.findall(r"```(\w*)\n(.*?)```", text[start:end], re.S)


def blocks_of(language: str) -> list[str]:
    return [body for lang, body in guide_blocks() if lang == language]


@pytest.fixture
def mygan(plugin_switches_off: None, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Path]:
    """The guide's package in `tmp_path/gancore-mygan`, its entry points seen by gancore
    beside the installed ones; the working directory is `tmp_path`."""
    python, toml = blocks_of("python"), blocks_of("toml")
    root = tmp_path / "gancore-mygan"
    (root / "mygan").mkdir(parents=True)
    # Step 2 writes mygan/__init__.py; steps 4 and 5 add to it. The last python block of
    # the guide is the training script of step 5, not part of the package.
    (root / "mygan" / "__init__.py").write_text("\n\n".join(python[:-1]))
    project = "\n".join(block for block in toml if "[architecture]" not in block)
    (root / "pyproject.toml").write_text(project)
    meta = tomllib.loads(project)["project"]

    info = tmp_path / f"gancore_mygan-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    lines = []
    for group, table in meta["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in table.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    eps = list(md.PathDistribution(info).entry_points)

    installed = _registry._entry_points

    def entry_points(group: str) -> Iterable[md.EntryPoint]:
        return [*installed(group), *(ep for ep in eps if ep.group == _registry.GROUPS[group])]

    monkeypatch.setattr(_registry, "_entry_points", entry_points)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(tmp_path)
    _registry.refresh()
    yield root
    sys.modules.pop("mygan", None)
    _registry.refresh()


def gancore_cli(command: str) -> tuple[int, str]:
    """A `gancore ...` line of the guide, run in this process: (status, stdout + stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(command.split()[1:])
    return status, out.getvalue()


def commands(prefix: str) -> list[str]:
    """Every line of the guide's bash blocks that starts with `prefix`, comments dropped."""
    return [line.split("#")[0].strip() for body in blocks_of("bash")
            for line in body.splitlines() if line.startswith(prefix)]


def written(out: str) -> Path:
    """The run folder a `gancore train` reported writing."""
    match = re.search(r"^wrote (\S+)/: ", out, re.M)
    assert match, out
    return Path(match.group(1))


def test_the_guide_lists_the_plugin_with_its_three_entry_points(mygan: Path) -> None:
    status, out = gancore_cli("gancore plugins")
    assert status == 0
    rows = [line.split() for line in out.splitlines() if "gancore-mygan" in line]
    assert sorted((row[0], row[1], row[4]) for row in rows) == [
        ("architectures", "my_mlp", "ok"),
        ("datasets", "circle", "ok"),
        ("losses", "wide_hinge", "ok"),
    ]


def test_every_gancore_train_line_of_the_guide_trains(mygan: Path, backend: Any) -> None:
    lines = commands("gancore train")
    assert len(lines) == 4  # two backends, the plugin loss, the plugin dataset
    for line in lines:
        name = "tensorflow" if "--backend tensorflow" in line else "torch"
        if name != backend.name:
            continue
        status, out = gancore_cli(line)
        assert status == 0, out
        assert f"trained 200 steps on {name}" in out
        shape = gancore.training.load_checkpoint(written(out) / "checkpoint").meta["data"]["shape"]
        assert shape == ([2] if "--dataset circle" in line else [8, 8, 1])


def test_the_architecture_table_of_a_config_file_reaches_the_builder(mygan: Path) -> None:
    (mygan.parent / "run.toml").write_text(next(b for b in blocks_of("toml")
                                                if "[architecture]" in b))
    status, out = gancore_cli("gancore train --arch my_mlp --config run.toml --steps 2")
    assert status == 0, out
    hidden = gancore.training.load_checkpoint(written(out) / "checkpoint").arrays["generator"]
    assert any(a.shape == (32, 256) for a in hidden.values())


def test_the_guide_loss_is_zero_past_the_margin(mygan: Path) -> None:
    import mygan as plugin

    value = plugin.WIDE_HINGE.critic_loss(np.array([3.0]), np.array([-3.0]))
    assert float(value) == 0.0
    assert float(plugin.WIDE_HINGE.critic_loss(np.array([0.0]), np.array([0.0]))) == 4.0


def test_the_guide_training_script_trains_on_the_plugin_dataset(mygan: Path) -> None:
    script = blocks_of("python")[-1]
    assert 'dataset="circle"' in script
    scope: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(script, "docs/plugins.md", "exec"), scope)
    result = scope["result"]
    assert result.trainer.step == 200
    assert result.trainer.data.shape == (2,)
    assert len(result.trainer.data) == 5000
    assert np.isfinite(result.metrics["d_loss"])
