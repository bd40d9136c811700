"""Runs that survive (DESIGN invariant 7): a run saved at step k and resumed ends exactly
where the uninterrupted run ends, on the same backend bit for bit and on the other one
within the parity tolerance; the whole state is in the checkpoint; settings that would
change the run are refused; checkpoints are kept, stops are clean, divergence never
replaces a good checkpoint, run folders are never overwritten silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import FRAMEWORKS, load_backend
from test_training import CASES, SGD, SMALL, STEP_TOL

import gancore
from gancore import CheckpointError, NonFiniteError, RunFolderError
from gancore.architectures import dcgan, vanilla
from gancore.cli import main
from gancore.data import Dataset, iterate_batches
from gancore.training import (
    CheckpointEvery,
    MetricsLog,
    OptimizerConfig,
    SampleGrid,
    TrainConfig,
    _state,
    latest_checkpoint,
    load_checkpoint,
    make_trainer,
    resume,
    train,
)
from gancore.training._run_folder import RunFolder

STEPS, SPLIT = 4, 2


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs compared bit for bit use one thread count (a framework's sums can depend on it).
    monkeypatch.setenv("GANCORE_THREADS", "1")

# Every algorithm and option with state (CASES: every loss, label flipping and smoothing,
# WGAN clipping with RMSprop, WGAN-GP, R1 plain / lazy / decaying, EMA, cGAN, SGAN,
# CycleGAN and its pool, packing), and beside them:
RESUME_CASES: dict[str, tuple[Any, Any, TrainConfig]] = {
    **CASES,
    "lr-decay-ema": (lambda: dcgan(SMALL.shape, latent_dim=16), lambda: SMALL,
                     TrainConfig(batch_size=8, lr_schedule="linear", decay_start=0.25,
                                 ema_decay=0.8)),
    # Dropout 0.5 in the critic: masks from the framework's own random stream.
    "dropout": (lambda: vanilla(SMALL.shape, latent_dim=8, hidden=16), lambda: SMALL,
                TrainConfig(batch_size=8)),
    "sgd-momentum": (lambda: dcgan(SMALL.shape, latent_dim=16), lambda: SMALL,
                     TrainConfig(batch_size=8, generator_optimizer=SGD, critic_optimizer=SGD)),
}


def _trainer(case: str, backend: str, **overrides: Any) -> Any:
    arch, data, config = RESUME_CASES[case]
    config = attrs.evolve(config, **{"steps": STEPS, "log_every": 1, **overrides})
    return make_trainer(arch(), data(), config, backend=backend)


def _everything(trainer: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Weights and the whole training state: arrays, and the JSON document."""
    arrays, document = _state.split(_state.capture(trainer))
    for name, net in trainer.networks().items():
        arrays.update({f"net.{name}/{k}": v for k, v in net.get_state().items()})
    return arrays, document


def _assert_same(got: tuple[dict[str, np.ndarray], dict[str, Any]],
                 want: tuple[dict[str, np.ndarray], dict[str, Any]]) -> None:
    assert got[1] == want[1]  # step, history, generators, data positions, pools' streams
    assert got[0].keys() == want[0].keys()
    for key, value in want[0].items():
        np.testing.assert_array_equal(got[0][key], value, err_msg=key)


def assert_resumes_bit_for_bit(make: Any, split: int, tmp_path: Path) -> None:
    """A run of `make()` (a new trainer) stopped after `split` steps, saved and resumed in
    another trainer ends where the uninterrupted run ends: weights and the whole state."""
    whole = make()
    whole.fit(progress=False)
    want = _everything(whole)  # before another trainer moves the framework's generator
    first = make()
    first.fit(split, progress=False)
    first.save(tmp_path / "checkpoint")
    rest = make()
    rest.restore(tmp_path / "checkpoint")
    assert rest.step == split
    rest.fit(progress=False)
    _assert_same(_everything(rest), want)


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_save_and_resume_gives_the_uninterrupted_run_bit_for_bit(backend: Any, case: str,
                                                                 tmp_path: Path) -> None:
    assert_resumes_bit_for_bit(lambda: _trainer(case, backend.name), SPLIT, tmp_path)


def test_a_native_architecture_plugin_resumes_bit_for_bit(tmp_path: Path) -> None:
    load_backend("torch")
    from gancore.training import build_architecture

    data = SMALL
    config = TrainConfig(batch_size=8, steps=STEPS, log_every=1)

    def make() -> Any:
        return make_trainer(build_architecture("torch_mlp", data.shape), data, config,
                            backend="torch")

    whole = make()
    whole.fit()
    want = _everything(whole)
    first = make()
    first.fit(SPLIT)
    first.save(tmp_path / "checkpoint")
    rest = make()
    rest.restore(tmp_path / "checkpoint")
    rest.fit()
    _assert_same(_everything(rest), want)
    assert any(k.startswith("optimizer.critic/critic/") for k in want[0])


CROSS_CASES = ("nonsaturating", "wgan-gp", "cgan", "sgan", "cyclegan", "least-squares",
               "pacgan-lazy-r1", "label-flip")


@pytest.mark.parametrize("direction", ["torch-to-tensorflow", "tensorflow-to-torch"])
@pytest.mark.parametrize("case", CROSS_CASES)
def test_a_run_saved_on_one_backend_continues_on_the_other(case: str, direction: str,
                                                           tmp_path: Path) -> None:
    for name in FRAMEWORKS:
        load_backend(name)
    source, target = direction.split("-to-")
    sgd = {"generator_optimizer": SGD, "critic_optimizer": SGD}
    whole = _trainer(case, source, **sgd)
    whole.fit()
    first = _trainer(case, source, **sgd)
    first.fit(SPLIT)
    first.save(tmp_path / "checkpoint")
    saved = _everything(first)
    rest = _trainer(case, target, **sgd)
    rest.restore(tmp_path / "checkpoint")
    arrays, document = _everything(rest)
    # Carried over exactly: weights, momentum buffers, data positions, generators, history.
    for key, value in saved[0].items():
        if not key.startswith("random."):
            np.testing.assert_array_equal(arrays[key], value, err_msg=key)
    assert {k: v for k, v in document.items() if not k.startswith("random.")} == {
        k: v for k, v in saved[1].items() if not k.startswith("random.")}
    rest.fit()
    for name, net in whole.networks().items():
        for param, value in net.get_state().items():
            np.testing.assert_allclose(rest.networks()[name].get_state()[param], value,
                                       err_msg=f"{name}.{param}", **STEP_TOL)
    assert [h["step"] for h in rest.history] == [h["step"] for h in whole.history]


@pytest.mark.parametrize("optimizer", [OptimizerConfig.adam(1e-3, 0.5, 0.999),
                                       OptimizerConfig.rmsprop(5e-3),
                                       OptimizerConfig("sgd", lr=0.1, momentum=0.9)],
                         ids=["adam", "rmsprop", "sgd-momentum"])
def test_optimizer_state_moves_between_backends_in_the_neutral_layout(
        optimizer: OptimizerConfig, tmp_path: Path) -> None:
    for name in FRAMEWORKS:
        load_backend(name)
    for source, target in (FRAMEWORKS, FRAMEWORKS[::-1]):
        first = _trainer("cgan", source, generator_optimizer=optimizer,
                         critic_optimizer=optimizer)
        first.fit(SPLIT)
        path = first.save(tmp_path / f"{source}")
        rest = _trainer("cgan", target, generator_optimizer=optimizer,
                        critic_optimizer=optimizer)
        rest.restore(path)
        want = _state.split(_state.capture(first))[0]
        got = _state.split(_state.capture(rest))[0]
        keys = [k for k in want if k.startswith("optimizer.")]
        slot = {"adam": "exp_avg_sq", "rmsprop": "square_avg", "sgd": "momentum_buffer"}
        assert any(k.endswith(slot[optimizer.name]) for k in keys)
        for key in keys:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        moments = [got[k] for k in keys if k.endswith(slot[optimizer.name])]
        assert any(np.abs(m).max() > 0 for m in moments), "the moments must not be zeros"


def test_the_checkpoint_holds_every_part_of_the_state(tmp_path: Path) -> None:
    load_backend("torch")
    trainer = _trainer("cyclegan", "torch")
    trainer.fit(SPLIT)
    state = load_checkpoint(trainer.save(tmp_path / "c")).training_state()
    assert {"loop", "optimizer.generator", "optimizer.critic", "random.torch", "batches_a",
            "batches_b", "pool_a", "pool_b"} <= set(state)
    assert state["loop"]["step"] == SPLIT and len(state["loop"]["history"]) == SPLIT
    assert state["pool_a"]["images"].shape == (4, *SMALL.shape)  # full: pool_size 4
    assert state["batches_a"]["order"].shape == (len(SMALL),)
    sgan = _trainer("sgan", "torch")
    sgan.fit(1)
    sgan_state = load_checkpoint(sgan.save(tmp_path / "s")).training_state()
    np.testing.assert_array_equal(sgan_state["loop"]["labeled_indices"], sgan.labeled_indices)
    assert "labeled_batches" in sgan_state
    # No pickle anywhere: every file is plain JSON or an npz of plain arrays.
    for npz in (tmp_path / "s").glob("*.npz"):
        with np.load(npz, allow_pickle=False) as f:
            assert all(f[k].dtype != object for k in f.files)


def test_the_batch_position_resumes_mid_epoch() -> None:
    data = SMALL
    it = iterate_batches(data, 100, seed=3, hflip=True, drop_last=False)
    for _ in range(4):  # into the second epoch, past a partial batch
        next(it)
    state = json.loads(json.dumps({k: v for k, v in it.state_dict().items() if k != "order"}))
    state["order"] = it.state_dict()["order"]
    want = [next(it).images for _ in range(6)]
    other = iterate_batches(data, 100, seed=99, hflip=True, drop_last=False)
    other.load_state_dict(state)
    for w, g in zip(want, (next(other).images for _ in range(6)), strict=True):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(gancore.InvalidArgumentError, match="dataset of 256 samples"):
        iterate_batches(data.subset(np.arange(100)), 10, seed=0).load_state_dict(state)


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    ({"batch_size": 4}, r"batch_size would change the run; the checkpoint has 8, received 4"),
    ({"loss": "hinge"}, r"loss would change the run"),
    ({"seed": 3}, r"seed would change the run"),
    ({"critic_optimizer": OptimizerConfig.adam(1e-3)}, r"critic_optimizer would change"),
])
def test_settings_that_would_change_the_run_are_refused(change: dict[str, Any], message: str,
                                                        tmp_path: Path) -> None:
    load_backend("torch")
    path = _trainer("nonsaturating", "torch").save(tmp_path / "c")
    with pytest.raises(CheckpointError, match=message):
        _trainer("nonsaturating", "torch", **change).restore(path)


def test_other_architecture_or_data_is_refused_and_harmless_settings_pass(
        tmp_path: Path) -> None:
    load_backend("torch")
    path = _trainer("nonsaturating", "torch").save(tmp_path / "c")
    config = attrs.evolve(CASES["nonsaturating"][2], steps=STEPS, log_every=1)
    wider = make_trainer(dcgan(SMALL.shape, latent_dim=32), SMALL, config, backend="torch")
    with pytest.raises(CheckpointError, match=r"the architecture would change the run; the "
                                              r"checkpoint has 'dcgan-8x8x1-latent_dim_16', "
                                              r"received 'dcgan-8x8x1-latent_dim_32'"):
        wider.restore(path)
    other = Dataset("digits", np.ascontiguousarray(SMALL.images[::-1]), SMALL.labels[::-1])
    with pytest.raises(CheckpointError, match=r"the data would change the run"):
        make_trainer(dcgan(SMALL.shape, latent_dim=16), other, config,
                     backend="torch").restore(path)
    longer = _trainer("nonsaturating", "torch", steps=9, log_every=3, sample_every=2,
                      checkpoint_every=5)
    longer.restore(path)
    assert longer.fit()["step"] == 9


def test_a_weights_only_checkpoint_samples_but_says_why_it_cannot_resume(
        tmp_path: Path) -> None:
    load_backend("torch")
    trainer = _trainer("nonsaturating", "torch")
    trainer.fit(1)
    path = trainer.save(tmp_path / "old")
    # What gancore 0.1 wrote: format 1, arrays and meta only.
    meta = json.loads((path / "meta.json").read_text())
    meta["format"] = 1
    meta["gancore_version"] = "0.1.0"
    (path / "meta.json").write_text(json.dumps(meta))
    (path / "state.json").unlink()
    (path / "state.npz").unlink()
    old = load_checkpoint(path)
    assert not old.resumable
    np.testing.assert_array_equal(old.sample(4, backend="torch", seed=1),
                                  trainer.sample(4, seed=1))
    fresh = _trainer("nonsaturating", "torch")
    fresh.load_state(old.arrays)
    with pytest.raises(CheckpointError, match=r"weights only \(format 1, written by gancore "
                                              r"0.1.0\).*cannot|no optimizer"):
        fresh.restore(path)


def test_fit_without_steps_left_says_how_to_go_on() -> None:
    load_backend("torch")
    trainer = _trainer("nonsaturating", "torch", steps=1)
    trainer.fit()
    with pytest.raises(gancore.InvalidArgumentError, match=r"at step 1 of its 1 steps"):
        trainer.fit()
    assert trainer.fit(1)["step"] == 2


# --- a run folder: kept checkpoints, the CLI's resume, the folder rules ----------------


def _run(tmp_path: Path, *args: str) -> int:
    return main(["train", "--no-progress", "--recipe", "cgan", "--steps", "8",
                 "--config", str(_tiny_toml(tmp_path)), *args])


def _tiny_toml(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text("batch_size = 8\n[train]\nlog_every = 2\nsample_every = 3\n"
                    "[architecture]\nlatent_dim = 8\n")
    return path


def test_numbered_checkpoints_are_kept_and_the_link_names_the_latest(tmp_path: Path) -> None:
    load_backend("torch")
    out = tmp_path / "run"
    assert _run(tmp_path, "--out", str(out), "--checkpoint-every", "2",
                "--keep-checkpoints", "2") == 0
    kept = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert kept == ["step-00000006", "step-00000008"]
    assert (out / "checkpoint").resolve() == (out / "checkpoints" / "step-00000008").resolve()
    assert load_checkpoint(out).step == 8  # a run folder stands for its latest checkpoint
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_gancore_train_resume_continues_as_if_the_run_had_never_stopped(
        backend: Any, tmp_path: Path) -> None:
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert _run(tmp_path, "--out", str(whole), "--backend", backend.name) == 0
    assert _run(tmp_path, "--out", str(part), "--backend", backend.name, "--steps", "4") == 0
    assert main(["train", "--resume", str(part), "--steps", "8", "--no-progress"]) == 0
    a, b = load_checkpoint(whole), load_checkpoint(part)
    assert b.step == 8 and b.meta["backend"] == backend.name
    for net, state in a.arrays.items():
        for param, value in state.items():
            np.testing.assert_array_equal(b.arrays[net][param], value, err_msg=param)
    assert (part / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()
    from PIL import Image

    frames = []
    for folder in (whole, part):
        with Image.open(folder / "progress.gif") as gif:
            frames.append(gif.n_frames)
    assert frames[0] == frames[1] == 3  # steps 3, 6 and the end


def test_resume_refuses_flags_that_name_another_run(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    load_backend("torch")
    out = tmp_path / "run"
    assert _run(tmp_path, "--out", str(out), "--steps", "2") == 0
    capsys.readouterr()
    cases = [(["--arch", "vanilla"], "--arch cannot change when resuming"),
             (["--batch-size", "16"], "batch_size would change the run"),
             (["--out", str(tmp_path)], "--out cannot be given with --resume"),
             (["--steps", "2"], "steps must be > 2"),
             (["--seed", "5"], "seed would change the run")]
    for flags, message in cases:
        assert main(["train", "--resume", str(out), "--no-progress", *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and err.startswith("gancore: error: "), (flags, err)
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "is not a gancore run folder" in capsys.readouterr().err


def test_a_run_folder_is_never_overwritten_silently(tmp_path: Path, monkeypatch: Any,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    load_backend("torch")
    out = tmp_path / "run"
    assert _run(tmp_path, "--out", str(out), "--steps", "2") == 0
    (out / "notes.txt").write_text("mine")
    before = (out / "metrics.jsonl").read_text()
    capsys.readouterr()
    assert _run(tmp_path, "--out", str(out), "--steps", "3") == 2
    assert "already holds a run: resume it with `gancore train --resume" in capsys.readouterr().err
    assert (out / "metrics.jsonl").read_text() == before
    assert _run(tmp_path, "--out", str(out), "--steps", "3", "--overwrite") == 0
    assert load_checkpoint(out).step == 3 and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000000",
                                                                     "step-00000003"]
    # Default folders are numbered instead.
    monkeypatch.chdir(tmp_path)
    assert _run(tmp_path, "--steps", "1") == 0
    assert _run(tmp_path, "--steps", "1") == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["cgan-torch",
                                                                   "cgan-torch-2"]
    (tmp_path / "file").write_text("")
    assert _run(tmp_path, "--out", str(tmp_path / "file")) == 2
    assert "out must be a folder" in capsys.readouterr().err


def test_a_locked_run_folder_refuses_a_second_training(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    with folder.lock(), pytest.raises(RunFolderError, match=r"being written by another "
                                                            r"training \(pid \d+\)"), \
            RunFolder(tmp_path / "run").lock():
        pass
    with folder.lock():  # released: usable again
        pass


def test_leftovers_of_a_killed_write_never_hide_the_latest_checkpoint(tmp_path: Path) -> None:
    load_backend("torch")
    out = tmp_path / "run"
    assert _run(tmp_path, "--out", str(out), "--checkpoint-every", "4") == 0
    root = out / "checkpoints"
    # A write killed halfway: a temporary folder without meta.json.
    partial = root / ".tmp-1-abcd"
    partial.mkdir()
    (partial / "arrays.npz").write_bytes(b"PK\x03\x04 truncated")
    # Killed between the rename of the new checkpoint and the link's update.
    (out / "checkpoint").unlink()
    (out / "checkpoint").symlink_to("checkpoints/step-00000004")
    # Killed while an existing step's checkpoint was replaced (moved aside, not yet back).
    (root / "step-00000008").rename(root / ".trash-step-00000008-77")
    assert latest_checkpoint(out) == root / "step-00000008"
    assert not partial.exists() and not (root / ".trash-step-00000008-77").exists()
    assert main(["train", "--resume", str(out), "--steps", "9", "--no-progress"]) == 0
    assert load_checkpoint(out).step == 9


# --- divergence -------------------------------------------------------------------------


def test_a_diverged_run_stops_and_keeps_its_last_good_checkpoint(tmp_path: Path) -> None:
    load_backend("torch")
    huge = OptimizerConfig("sgd", lr=1e30)
    out = tmp_path / "run"
    with pytest.raises(NonFiniteError, match=r"training diverged: (d_loss|d_real|d_fake|"
                                             r"g_loss) is (nan|inf|-inf) at step \d+.*last "
                                             r"good checkpoint is"):
        train("dcgan", backend="torch", out_dir=out, steps=50, progress=False,
              config={"critic_optimizer": huge, "generator_optimizer": huge, "log_every": 1,
                      "batch_size": 8, "checkpoint_every": 100})
    good = load_checkpoint(out)
    assert good.step == 0
    for state in good.arrays.values():
        assert all(np.all(np.isfinite(v)) for v in state.values())
    assert json.loads((out / "run.json").read_text())["status"] == "diverged"


def test_non_finite_weights_are_never_written(tmp_path: Path) -> None:
    load_backend("torch")
    trainer = _trainer("nonsaturating", "torch")
    path = trainer.save(tmp_path / "good")
    state = trainer.G.get_state()
    name = next(iter(state))
    state[name] = np.full_like(state[name], np.nan)
    trainer.G.set_state(state)
    with pytest.raises(NonFiniteError, match=rf"generator/{name} holds nan at step 0"):
        trainer.save(tmp_path / "good")
    assert load_checkpoint(path).arrays["generator"][name].dtype == np.float32
    assert np.all(np.isfinite(load_checkpoint(path).arrays["generator"][name]))
    assert [p.name for p in tmp_path.iterdir()] == ["good"]  # no temporary leftovers


def test_data_with_nan_or_inf_is_refused_when_loaded() -> None:
    images = np.zeros((4, 2, 2, 1), np.float32)
    images[1, 0, 0, 0] = np.inf
    with pytest.raises(gancore.InvalidArgumentError, match="images must be finite"):
        Dataset("bad", images)


def test_callbacks_keep_their_state_across_a_resume(tmp_path: Path) -> None:
    load_backend("torch")
    grid = SampleGrid(tmp_path, every=1)
    config = attrs.evolve(CASES["nonsaturating"][2], steps=3, log_every=1, grid_size=4)
    trainer = make_trainer(dcgan(SMALL.shape, latent_dim=16), SMALL, config,
                           backend="torch", callbacks=[MetricsLog(tmp_path), grid,
                                                       CheckpointEvery(tmp_path)])
    trainer.fit(2)
    again = SampleGrid(tmp_path, every=1)
    resumed = make_trainer(dcgan(SMALL.shape, latent_dim=16), SMALL, config,
                           backend="torch", callbacks=[MetricsLog(tmp_path), again])
    resumed.restore(tmp_path)
    assert again.frame_names == ["samples_000001.png", "samples_000002.png"]
    for got, want in zip(again.frames, grid.frames, strict=True):
        np.testing.assert_array_equal(got, want)


def test_resume_completes_a_run_killed_after_its_last_checkpoint(tmp_path: Path) -> None:
    load_backend("torch")
    out = tmp_path / "run"
    assert _run(tmp_path, "--out", str(out), "--steps", "3") == 0
    # As if killed while drawing the final samples: the last checkpoint is written first.
    record = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**record, "status": "running"}))
    for name in ("samples.png", "losses.png", "progress.gif"):
        (out / name).unlink()
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert all((out / name).is_file() for name in ("samples.png", "losses.png", "progress.gif"))
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert main(["train", "--resume", str(out), "--no-progress"]) == 2  # finished now


def test_threads_are_chosen_recorded_and_kept_on_resume(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    load_backend("torch")
    import torch

    from gancore.training._threads import available_cores, resolve_threads

    assert 1 <= resolve_threads("auto") <= available_cores()
    assert resolve_threads(3) == 3
    for bad in (0, -1, 1.5, "two", True):
        with pytest.raises(gancore.InvalidArgumentError, match="threads must be an int >= 1 "
                                                               "or 'auto'"):
            resolve_threads(bad)
    out = tmp_path / "run"
    train("dcgan", backend="torch", out_dir=out, steps=2, progress=False, threads=2,
          config={"batch_size": 8})
    assert torch.get_num_threads() == 2
    assert json.loads((out / "run.json").read_text())["threads"] == 2
    torch.set_num_threads(1)
    resume(out, steps=3, progress=False)  # the run's own count, not the environment's 1
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("GANCORE_THREADS", "0")
    with pytest.raises(gancore.InvalidArgumentError, match="threads must be an int >= 1"):
        train("dcgan", backend="torch", out_dir=tmp_path / "other", steps=1, progress=False)


def test_the_command_line_sets_threads_by_flag_and_toml(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    load_backend("torch")
    out = tmp_path / "run"
    assert _run(tmp_path, "--out", str(out), "--steps", "1", "--threads", "1") == 0
    assert json.loads((out / "run.json").read_text())["threads"] == 1
    capsys.readouterr()
    assert _run(tmp_path, "--out", str(tmp_path / "x"), "--threads", "0") == 2
    assert "--threads: must be an int >= 1; received '0'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('threads = "two"\n')
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "y")]) == 2
    assert "threads must be an int >= 1 or 'auto'; received 'two'" in capsys.readouterr().err


def test_a_checkpoint_from_before_a_setting_existed_resumes_at_its_default(
        tmp_path: Path) -> None:
    """Settings added since a checkpoint was written (flips, DiffAugment, replay, ...) were
    at their defaults in that run: it resumes; a setting it did record still must match."""
    first = _trainer("nonsaturating", "torch")
    first.fit(SPLIT)
    path = first.save(tmp_path / "checkpoint")
    meta_file = Path(path) / "meta.json"
    meta = json.loads(meta_file.read_text())
    for key in ("hflip", "diffaugment", "replay", "replay_fraction"):
        meta["config"].pop(key, None)
    meta_file.write_text(json.dumps(meta))
    rest = _trainer("nonsaturating", "torch")
    rest.restore(path)
    assert rest.step == SPLIT
    with pytest.raises(CheckpointError, match="hflip would change the run"):
        _trainer("nonsaturating", "torch", hflip=True).restore(path)
