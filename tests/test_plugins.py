"""The real example plugin, `plugins/gancore-example`, installed like any third-party
distribution: gancore lists it, trains its architectures on every backend, holds its loss
to a numpy reference and loads its dataset, all through entry points.

Install it with ``pip install -e plugins/gancore-example``. Where it is missing these tests
skip, and under CI=true they fail: a green CI run has tested the plugin story.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import IN_CI, load_backend, native, tensor_type, to_numpy, value_and_grads
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gancore
import gancore.losses as gl
from gancore import _registry
from gancore.architectures import NativeArchitecture
from gancore.cli import main
from gancore.data import Dataset
from gancore.nn import forward_numpy, init_state
from gancore.training import (
    TrainConfig,
    build_architecture,
    load_checkpoint,
    load_dataset,
    make_trainer,
    train,
)

DIST = "gancore-example"
#: What the example registers: (group, name).
ENTRY_POINTS = [
    ("architectures", "tiny_mlp"),
    ("architectures", "torch_mlp"),
    ("losses", "least_squares_abc"),
    ("datasets", "swiss_roll"),
]
TINY = TrainConfig(steps=2, batch_size=16, log_every=1)


@pytest.fixture(scope="module", autouse=True)
def example_plugin() -> None:
    """The example distribution must be installed: skip without it, fail under CI=true."""
    try:
        md.distribution(DIST)
    except md.PackageNotFoundError:
        message = (f"the example plugin {DIST} is not installed: "
                   f"pip install -e plugins/{DIST}")
        if IN_CI:
            pytest.fail(f"{message} (under CI the plugin must be tested)", pytrace=False)
        pytest.skip(message)


pytestmark = pytest.mark.usefixtures("plugin_switches_off")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`gancore ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def plugin(group: str, name: str) -> Any:
    return _registry.load_plugin(group, name)


def digits() -> Dataset:
    return load_dataset("digits")


def snapshot(network: Any) -> dict[str, np.ndarray]:
    """A copy of a network's state (get_state may hand out views of live parameters)."""
    return {name: np.array(value, copy=True) for name, value in network.get_state().items()}


# --- discovery --------------------------------------------------------------------------------


def test_the_example_is_listed_from_its_metadata() -> None:
    version = md.version(DIST)
    for group, name in ENTRY_POINTS:
        (info,) = [i for i in gancore.list_plugins(group) if i.name == name]
        assert (info.distribution, info.version, info.builtin) == (DIST, version, False)
        assert info.value.startswith("gancore_example:")


def test_gancore_plugins_shows_the_example_loading() -> None:
    status, out, err = run_cli(["plugins"])
    assert status == 0, err
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()[2:]}
    for key in ENTRY_POINTS:
        assert rows[key] == [DIST, md.version(DIST), "ok"], (key, out)


def test_gancore_plugins_imports_no_framework() -> None:
    code = (
        "import contextlib, io, json, sys\n"
        "from gancore.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    assert main(['plugins']) == 0\n"
        "print(out.getvalue())\n"
        "print(json.dumps([m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop(_registry.DISABLE_ENV, None)
    env.pop(_registry.BLOCK_ENV, None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    *table, imported = result.stdout.strip().splitlines()
    assert json.loads(imported) == []
    # It did load the example (torch_mlp included) to say it loads.
    listed = [line.split() for line in table]
    assert ["architectures", "torch_mlp", DIST, md.version(DIST), "ok"] in listed


def test_the_example_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCORE_BLOCK_PLUGINS", "architectures:tiny_mlp")
    gancore.refresh()
    assert "tiny_mlp" not in _registry.plugin_names("architectures")
    assert "torch_mlp" in _registry.plugin_names("architectures")
    monkeypatch.setenv("GANCORE_BLOCK_PLUGINS", f"dist={DIST}")
    gancore.refresh()
    assert not {name for _, name in ENTRY_POINTS} & {
        i.name for g in _registry.GROUPS for i in gancore.list_plugins(g)
    }


# --- tiny_mlp: portable, every backend ----------------------------------------------------------


@pytest.mark.parametrize("shape", [(2,), (8, 8, 1), (4, 6, 3)])
def test_tiny_mlp_builds_a_pair_for_any_sample_shape(shape: tuple[int, ...]) -> None:
    pair = build_architecture("tiny_mlp", shape, {"latent_dim": 5, "hidden": 7})
    assert pair.sample_shape == shape
    assert pair.latent_dim == 5 and pair.kind == "gan"
    assert pair.critic.output_shape == (1,)
    z = np.random.default_rng(0).standard_normal((3, 5))
    images = forward_numpy(pair.generator, init_state(pair.generator, 0), z)
    assert images.shape == (3, *shape)
    if len(shape) == 3:
        assert np.all(np.abs(images) <= 1.0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"num_classes": 10}, "tiny_mlp is unconditional: num_classes must be None"),
        ({"hidden": 0}, "tiny_mlp hidden must be an int >= 1; received 0"),
        ({"depth": 3}, "tiny_mlp options must be among latent_dim, num_classes, hidden; "
                       "received depth"),
    ],
)
def test_tiny_mlp_rejects_bad_options_clearly(options: dict[str, Any], match: str) -> None:
    with pytest.raises(gancore.InvalidArgumentError, match=match):
        build_architecture("tiny_mlp", (2,), options)


def test_tiny_mlp_rejects_a_bad_sample_shape() -> None:
    with pytest.raises(gancore.InvalidArgumentError, match=r"sample_shape must be .* \(8, 8\)"):
        build_architecture("tiny_mlp", (8, 8))


def test_tiny_mlp_trains_and_changes_its_parameters(backend: Any) -> None:
    data = digits()
    trainer = make_trainer(build_architecture("tiny_mlp", data.shape), data, TINY,
                           backend=backend.name)
    before = {"G": snapshot(trainer.G), "D": snapshot(trainer.D)}
    metrics = trainer.fit()
    assert trainer.step == 2
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    for net, state in (("G", snapshot(trainer.G)), ("D", snapshot(trainer.D))):
        changed = {k for k in state if not np.array_equal(state[k], before[net][k])}
        assert changed == set(before[net]), net  # every parameter was updated


def test_gancore_train_arch_tiny_mlp_with_the_plugin_loss(backend: Any, tmp_path: Path) -> None:
    status, out, err = run_cli(["train", "--arch", "tiny_mlp", "--loss", "least_squares_abc",
                                "--steps", "3", "--batch-size", "16", "--out", str(tmp_path),
                                "--no-progress", "--backend", backend.name])
    assert status == 0, err
    assert out.startswith(f"trained 3 steps on {backend.name}")
    checkpoint = load_checkpoint(tmp_path / "checkpoint")
    assert checkpoint.meta["config"]["loss"] == "least_squares_abc"
    assert checkpoint.architecture.name.startswith("tiny_mlp-8x8x1")
    # A portable plugin architecture samples anywhere, the numpy reference included.
    samples = checkpoint.sample(4, backend="numpy")
    assert samples.shape == (4, 8, 8, 1) and np.all(np.abs(samples) <= 1.0)


# --- torch_mlp: native torch modules ------------------------------------------------------------


def test_torch_mlp_trains_on_torch() -> None:
    load_backend("torch")
    data = digits()
    arch = plugin("architectures", "torch_mlp")(data.shape, hidden=16)
    assert isinstance(arch, NativeArchitecture)
    assert arch.name == "torch_mlp"  # checkpoints rebuild it by its entry-point name
    trainer = make_trainer(arch, data, TINY, backend="torch")
    before = snapshot(trainer.G)
    trainer.fit()
    after = snapshot(trainer.G)
    assert sorted(after) == sorted(before)
    assert all(not np.array_equal(after[k], before[k]) for k in before)
    # The native generator's NCHW output comes back as NHWC numpy in [-1, 1].
    samples = trainer.sample(5, seed=0)
    assert samples.shape == (5, 8, 8, 1) and np.all(np.abs(samples) <= 1.0)


def test_torch_mlp_refuses_tensorflow_naming_torch() -> None:
    load_backend("tensorflow")
    data = digits()
    arch = plugin("architectures", "torch_mlp")(data.shape)
    with pytest.raises(gancore.BackendUnsupportedError,
                       match=r"'torch_mlp' is native to torch; .*backend 'tensorflow'"):
        make_trainer(arch, data, TINY, backend="tensorflow")


def test_train_arch_torch_mlp_and_reload_its_checkpoint(tmp_path: Path) -> None:
    load_backend("torch")
    result = train(architecture="torch_mlp", steps=2, backend="torch", out_dir=tmp_path,
                   progress=False, config={"batch_size": 16})
    assert result.trainer.step == 2
    samples = load_checkpoint(tmp_path / "checkpoint").sample(3, backend="torch")
    assert samples.shape == (3, 8, 8, 1)


def test_train_arch_torch_mlp_on_tensorflow_is_backend_unsupported(tmp_path: Path) -> None:
    load_backend("tensorflow")
    with pytest.raises(gancore.BackendUnsupportedError, match="native to torch"):
        train(architecture="torch_mlp", steps=1, backend="tensorflow", out_dir=tmp_path,
              progress=False)


# --- least_squares_abc: held to its numpy reference ----------------------------------------------

LOGITS = st.one_of(
    st.floats(-1e4, 1e4, width=32, allow_subnormal=False),
    st.floats(-30, 30, width=32, allow_subnormal=False),
    st.sampled_from([-1e4, 1e4, 0.0, 1.0, -1.0]),
)
PATCHES = [(), (1,), (3, 3, 1), (1, 4, 4)]
TARGETS = st.one_of(
    st.just((-1.0, 1.0, 0.0)),
    st.tuples(*[st.floats(-2, 2, width=32)] * 3),
)


@st.composite
def score_batches(draw: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Float32 scores of one patch shape; each array its own batch size (1 included)."""
    patch = draw(st.sampled_from(PATCHES))
    return {name: draw(hnp.arrays(np.float32, (draw(st.integers(1, 9)), *patch),
                                  elements=LOGITS))
            for name in names}


ROLES = {"critic": ("real", "fake"), "generator": ("fake",)}


def reference(role: str, arrays: dict[str, np.ndarray], targets: tuple[float, float, float]
              ) -> tuple[float, dict[str, np.ndarray], dict[str, float]]:
    """The documented formula in float64: value, gradients, and their float32 error scales."""
    a, b, c = targets
    wanted = {"real": b, "fake": a if role == "critic" else c}
    value, grads, scales = 0.0, {}, {}
    for name in ROLES[role]:
        x = arrays[name].astype(np.float64)
        value += 0.5 * np.mean((x - wanted[name]) ** 2)
        grads[name] = (x - wanted[name]) / x.size
        scales[name] = (np.max(np.abs(x)) + abs(wanted[name]) + 1.0) / x.size
    return value, grads, scales


def loss_fn(role: str, targets: tuple[float, float, float]) -> Any:
    loss = plugin("losses", "least_squares_abc")
    own = type(loss)(*targets)
    return own.critic_loss if role == "critic" else own.generator_loss


@pytest.mark.parametrize("role", ROLES)
@given(data=st.data())
def test_least_squares_abc_matches_the_reference(role: str, backend: Any,
                                                 data: st.DataObject) -> None:
    arrays = data.draw(score_batches(ROLES[role]), label="scores")
    targets = data.draw(TARGETS, label="targets")
    expected, expected_grads, scales = reference(role, arrays, targets)
    fn = loss_fn(role, targets)
    # The plugin's numpy path is the formula.
    oracle = fn(**{k: v.astype(np.float64) for k, v in arrays.items()})
    np.testing.assert_allclose(oracle, expected, rtol=1e-12)

    out, grads = value_and_grads(backend, fn, arrays, ROLES[role])
    assert isinstance(out, tensor_type(backend))
    assert backend.ops.dtype_name(out) == "float32"
    value = to_numpy(backend, out)
    assert value.shape == () and np.isfinite(value)
    scale = sum(np.max(np.abs(v.astype(np.float64))) ** 2 for v in arrays.values()) + 1.0
    np.testing.assert_allclose(value, oracle, rtol=1e-5, atol=1e-6 * scale)
    for name, grad in grads.items():
        g = to_numpy(backend, grad)
        assert g.shape == arrays[name].shape and np.all(np.isfinite(g)), name
        np.testing.assert_allclose(g, expected_grads[name], rtol=1e-5,
                                   atol=1e-6 * scales[name], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("role", ROLES)
def test_least_squares_abc_keeps_the_dtype(role: str, dtype: type, any_backend: Any) -> None:
    rng = np.random.default_rng(0)
    arrays = {name: native(any_backend, rng.normal(size=(3, 2, 2)).astype(dtype))
              for name in ROLES[role]}
    out = loss_fn(role, (-1.0, 1.0, 0.0))(**arrays)
    assert any_backend.ops.dtype_name(out) == np.dtype(dtype).name


def test_least_squares_abc_golden_values() -> None:
    loss = plugin("losses", "least_squares_abc")
    real, fake = np.array([1.0, 3.0]), np.array([-1.0, 1.0])
    # 1/2 (mean [0, 4] + mean [0, 4]) and 1/2 mean [1, 1]
    assert loss.critic_loss(real, fake) == pytest.approx(2.0)
    assert loss.generator_loss(fake) == pytest.approx(0.5)
    assert (loss.a, loss.b, loss.c) == (-1.0, 1.0, 0.0)


@given(scores=score_batches(("real", "fake")))
def test_least_squares_abc_with_a0_b1_c1_is_gancore_least_squares(
    scores: dict[str, np.ndarray]
) -> None:
    # Mao et al.'s other coding (eq. 10) is gancore's built-in least_squares family.
    ours = type(plugin("losses", "least_squares_abc"))(a=0.0, b=1.0, c=1.0)
    real, fake = (scores[k].astype(np.float64) for k in ("real", "fake"))
    np.testing.assert_allclose(ours.critic_loss(real, fake),
                               gl.least_squares_critic_loss(real, fake), rtol=1e-12)
    np.testing.assert_allclose(ours.generator_loss(fake), gl.least_squares_generator_loss(fake),
                               rtol=1e-12)


def test_least_squares_abc_rejects_a_non_finite_target() -> None:
    cls = type(plugin("losses", "least_squares_abc"))
    with pytest.raises(gancore.InvalidArgumentError, match="b must be a finite number"):
        cls(b=math.inf)


def test_train_with_the_plugin_loss_uses_it(tmp_path: Path) -> None:
    result = train(architecture="tiny_mlp", steps=1, backend=None, out_dir=tmp_path,
                   progress=False, config={"loss": "least_squares_abc", "batch_size": 16})
    assert result.trainer.loss is plugin("losses", "least_squares_abc")
    assert math.isfinite(result.metrics["d_loss"])


# --- swiss_roll ---------------------------------------------------------------------------------


def test_swiss_roll_loads_points_on_the_spiral() -> None:
    data = load_dataset("swiss_roll", {"n": 500, "noise": 0.0, "seed": 3})
    assert isinstance(data, Dataset) and data.name == "swiss_roll"
    points = np.asarray(data.images, np.float64)
    assert data.images.dtype == np.float32 and points.shape == (500, 2)
    assert data.labels is None
    # Noise-free points are (t cos t, t sin t) / 4.5 pi with t in [1.5 pi, 4.5 pi].
    t = np.hypot(points[:, 0], points[:, 1]) * 4.5 * np.pi
    assert np.all((t > 1.5 * np.pi - 1e-4) & (t < 4.5 * np.pi + 1e-4))
    np.testing.assert_allclose(points * 4.5 * np.pi,
                               np.stack([t * np.cos(t), t * np.sin(t)], axis=1), atol=1e-3)
    assert np.max(np.abs(points)) <= 1.0 + 1e-6


def test_swiss_roll_is_seeded_and_noisy_about_the_unit_square() -> None:
    assert len(load_dataset("swiss_roll")) == 10_000
    first = load_dataset("swiss_roll", {"n": 2000})
    again = load_dataset("swiss_roll", {"n": 2000})
    other = load_dataset("swiss_roll", {"n": 2000, "seed": 1})
    assert np.array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)
    assert 0.9 < np.max(np.abs(first.images)) < 1.3


@pytest.mark.parametrize(
    ("options", "match"),
    [({"n": 0}, "n must be an int >= 1; received 0"),
     ({"noise": -0.1}, "noise must be a finite number >= 0; received -0.1")],
)
def test_swiss_roll_rejects_bad_arguments(options: dict[str, Any], match: str) -> None:
    with pytest.raises(gancore.InvalidArgumentError, match=match):
        load_dataset("swiss_roll", options)


def test_swiss_roll_trains_with_the_builtin_mlp(backend: Any, tmp_path: Path) -> None:
    result = train(architecture="mlp", dataset="swiss_roll", dataset_options={"n": 256},
                   steps=2, backend=backend.name, out_dir=tmp_path, progress=False,
                   config={"batch_size": 32})
    assert result.trainer.step == 2
    assert result.trainer.data.name == "swiss_roll"
    assert all(math.isfinite(v) for v in result.metrics.values()), result.metrics
    assert result.trainer.sample(7, seed=0).shape == (7, 2)


def test_gancore_train_dataset_swiss_roll_with_the_plugin_architecture(tmp_path: Path) -> None:
    status, out, err = run_cli(["train", "--arch", "tiny_mlp", "--dataset", "swiss_roll",
                                "--steps", "3", "--batch-size", "32", "--out", str(tmp_path),
                                "--no-progress"])
    assert status == 0, err
    assert "trained 3 steps" in out
    meta = json.loads((tmp_path / "checkpoint" / "meta.json").read_text())
    assert meta["data"]["shape"] == [2]
    assert load_checkpoint(tmp_path / "checkpoint").sample(5, seed=0).shape == (5, 2)
