"""Experience replay and DiffAugment on every trainer (issue #20): the conditional GAN's pool
keeps each fake's label, SGAN replays and augments its real, labelled and fake batches,
CycleGAN's critics replay and augment (replay's pools replacing the image pools). Each run
is the same on torch and TensorFlow and on two workers, resumes bit for bit, and is reached
from the config, a TOML file and the CLI.

Run as ``python tests/test_replay_every_trainer.py BACKEND OUT_DIR`` under the environment
`gancore.distributed.worker_environments` gives, it is one worker of the two-worker test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_resume import assert_resumes_bit_for_bit
from test_training import SGD, SMALL, STEP_TOL, _states
from test_training_options import assert_trains_alike

from gancore import InvalidArgumentError
from gancore.architectures import cyclegan, dcgan
from gancore.distributed import Workers, from_environment, worker_environments
from gancore.losses import (
    class_logits_to_score,
    least_squares_critic_loss,
    semi_supervised_critic_loss,
)
from gancore.training import TrainConfig, load_checkpoint, make_trainer
from gancore.training._recipes import inverted
from gancore.training._replay import ReplayPool
from gancore.training._trainer import ImagePool

ALL = "color,translation,cutout"
WGAN_GP = dict(loss="wasserstein", gradient_penalty=10.0, n_critic=2)
SGAN = dict(algorithm="sgan", batch_size=8, num_labeled=20)
CYCLEGAN = dict(algorithm="cyclegan", loss="least_squares", batch_size=4)
NODE = "activation_2"  # the critic's last hidden features (tests/test_feature_matching.py)


def _cgan(**options: Any) -> Any:
    return dcgan(SMALL.shape, latent_dim=16, num_classes=10, **options)


def _sgan() -> Any:
    return dcgan(SMALL.shape, latent_dim=16, num_classes=10, semi_supervised=True)


def _cyclegan() -> Any:
    return cyclegan(SMALL.shape, base_filters=4, depth=2)


def _domains() -> Any:
    return SMALL, inverted(SMALL)


# name -> (architecture factory, data factory, config)
CASES: dict[str, tuple[Any, Any, TrainConfig]] = {
    "cgan-replay-r1": (_cgan, lambda: SMALL,
                       TrainConfig(batch_size=8, replay=8, replay_fraction=0.75,
                                   r1_penalty=10.0, n_critic=2)),
    "cgan-replay-wgan-gp-diffaugment": (lambda: _cgan(norm="layer"), lambda: SMALL,
                                        TrainConfig(batch_size=8, replay=8,
                                                    replay_fraction=0.75,
                                                    diffaugment="translation,cutout",
                                                    **WGAN_GP)),
    "sgan-replay-diffaugment": (_sgan, lambda: SMALL,
                                TrainConfig(replay=8, replay_fraction=0.75, diffaugment=ALL,
                                            n_critic=2, **SGAN)),
    "sgan-feature-matching-diffaugment": (_sgan, lambda: SMALL,
                                          TrainConfig(feature_matching=NODE,
                                                      diffaugment="color,translation",
                                                      **SGAN)),
    "cyclegan-replay-diffaugment": (_cyclegan, _domains,
                                    TrainConfig(replay=4, replay_fraction=0.75, pool_size=0,
                                                diffaugment=ALL, **CYCLEGAN)),
    "cyclegan-pool-diffaugment": (_cyclegan, _domains,
                                  TrainConfig(pool_size=4, diffaugment="translation,cutout",
                                              **CYCLEGAN)),
}
RESUMED = ["cgan-replay-r1", "sgan-replay-diffaugment", "cyclegan-replay-diffaugment"]


def _trainer(case: str, backend: str, steps: int = 2, workers: Workers | None = None,
             **overrides: Any) -> Any:
    arch, data, config = CASES[case]
    config = attrs.evolve(config, steps=steps, log_every=1, **overrides)
    return make_trainer(arch(), data(), config, backend=backend, workers=workers)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCORE_THREADS", "1")


# --- every backend alike, resumed bit for bit ------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_with_the_options_is_the_same_on_torch_and_tensorflow(case: str) -> None:
    _assert_pools_alike(assert_trains_alike(lambda name, **kw: _trainer(case, name, **kw)))


# On JAX too, cutout included: its zeroed pixels meet the critic's first LeakyReLU exactly
# at 0, where every backend takes the negative slope as the derivative (the conformance
# suite's kinks test).
JAX_CASES: dict[str, dict[str, Any]] = {"cgan-replay-wgan-gp-diffaugment": {},
                                        "sgan-replay-diffaugment": {},
                                        "cyclegan-replay-diffaugment": {}}


@pytest.mark.parametrize("case", sorted(JAX_CASES))
def test_a_run_with_the_options_is_the_same_on_torch_and_jax(case: str) -> None:
    _assert_pools_alike(assert_trains_alike(
        lambda name, **kw: _trainer(case, name, **JAX_CASES[case], **kw), other="jax"))


def _assert_pools_alike(trainers: dict[str, Any]) -> None:
    """The replay pools of the torch trainer and of the other in `trainers` hold the same
    fakes (STEP_TOL)."""
    want, got = (_pool_images(t) for t in trainers.values())
    assert want.keys() == got.keys()
    for key, images in want.items():
        assert len(images) == len(got[key]), key
        np.testing.assert_allclose(got[key], images, err_msg=key, **STEP_TOL)


def _pool_images(trainer: Any) -> dict[str, np.ndarray]:
    """The stored fakes of every replay pool of `trainer`, by state name."""
    return {name: part.images for name, part in trainer.stateful_parts().items()
            if isinstance(part, ReplayPool)}


@pytest.mark.parametrize("case", RESUMED)
def test_a_resumed_run_ends_bit_for_bit_where_the_whole_run_ends(
        backend: Any, case: str, tmp_path: Path) -> None:
    assert_resumes_bit_for_bit(lambda: _trainer(case, backend.name, steps=4), 2, tmp_path)


# --- the conditional GAN: a past fake keeps its label ----------------------------------------


def test_a_labelled_pool_keeps_each_fakes_label_through_add_draw_and_its_state() -> None:
    rng = np.random.default_rng(0)
    pool = ReplayPool(4, 1.0, num_classes=10)
    fakes = np.arange(12, dtype=np.float32).reshape(6, 2)
    labels = np.array([3, 1, 4, 1, 5, 9])
    pool.add(fakes[:3], rng, labels[:3])
    np.testing.assert_array_equal(pool.labels, labels[:3])
    pool.add(fakes[3:], rng, labels[3:])
    # Each stored fake beside the label it was made for (fake k is [2k, 2k + 1]).
    assert len(pool.images) == len(pool.labels) == 4
    np.testing.assert_array_equal(labels[(pool.images[:, 0] // 2).astype(int)], pool.labels)
    replayed, mask, stored = pool.draw_with_labels(8, (2,), rng)
    assert mask.all() and stored is not None
    np.testing.assert_array_equal(labels[(replayed[:, 0] // 2).astype(int)], stored)
    state = pool.state_dict()
    assert set(state) == {"images", "labels"}
    other = ReplayPool(4, 1.0, num_classes=10)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.images, pool.images)
    np.testing.assert_array_equal(other.labels, pool.labels)
    # The same draws as an unlabelled pool's: the labels cost no randomness.
    plain = ReplayPool(4, 1.0)
    plain.load_state_dict({"images": pool.images})
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(plain.draw(5, (2,), a)[0], pool.draw(5, (2,), b)[0])
    assert a.random() == b.random()


def test_an_unlabelled_pool_writes_and_loads_its_state_without_labels() -> None:
    """A checkpoint of an unconditional run (from before pools kept labels) still loads."""
    pool = ReplayPool(4, 0.5)
    pool.add(np.ones((3, 2), np.float32), np.random.default_rng(0))
    assert set(pool.state_dict()) == {"images"}
    other = ReplayPool(4, 0.5)
    other.load_state_dict({"images": pool.images})
    np.testing.assert_array_equal(other.images, pool.images)
    assert other.labels is None
    with pytest.raises(InvalidArgumentError, match="labels must be None for a replay pool "
                                                   "without labels; received ndarray"):
        other.add(np.ones((1, 2), np.float32), np.random.default_rng(0), np.zeros(1, int))
    with pytest.raises(InvalidArgumentError, match="labels must be the fakes' labels for a "
                                                   "replay pool with labels; received None"):
        ReplayPool(4, 0.5, num_classes=3).add(np.ones((1, 2), np.float32),
                                              np.random.default_rng(0))


@pytest.mark.parametrize("labels, received", [
    (None, "none"),
    (np.array([0, 1]), r"int64 of shape \(2,\)"),
    (np.array([0.0, 1.0, 2.0]), r"float64 of shape \(3,\)"),
    (np.array([0, 3, 1]), "labels from 0 to 3"),
    (np.array([-1, 0, 1]), "labels from -1 to 1"),
])
def test_a_labelled_pools_state_must_hold_a_class_id_per_fake(labels: Any, received: str
                                                              ) -> None:
    state = {"images": np.zeros((3, 2), np.float32)}
    if labels is not None:
        state["labels"] = labels
    with pytest.raises(InvalidArgumentError, match=r"must hold a label in \[0, 3\) for each of "
                                                   rf"its 3 fakes .*; received {received}"):
        ReplayPool(4, 0.5, num_classes=3).load_state_dict(state)
    empty = ReplayPool(4, 0.5, num_classes=3)  # an empty pool's state may omit them
    empty.load_state_dict({"images": np.zeros((0,), np.float32)})
    assert len(empty.labels) == 0


def _recording(trainer: Any) -> list[dict[str, np.ndarray]]:
    """Every critic update's inputs of `trainer` from now on, as numpy."""
    seen: list[dict[str, np.ndarray]] = []
    update = trainer._d_update

    def record(inputs: Any) -> Any:
        seen.append({k: np.asarray(trainer.backend.to_numpy(v)) for k, v in inputs.items()})
        return update(inputs)

    trainer._d_update = record
    return seen


def test_a_replayed_conditional_fake_is_judged_with_the_label_it_was_made_for(
        backend: Any) -> None:
    trainer = _trainer("cgan-replay-r1", backend.name, replay=8, replay_fraction=0.5,
                       n_critic=1, r1_penalty=0.0)
    seen = _recording(trainer)
    trainer.fit(1, progress=False)
    # The first update's fakes, made for its real batch's labels, fill the pool.
    first = seen[0]
    np.testing.assert_array_equal(trainer._replay.labels, first["labels"])
    assert not first["replay_mask"].any()
    np.testing.assert_array_equal(first["fake_labels"], first["labels"])
    trainer.fit(3, progress=False)
    held = {(trainer._replay.images[i].tobytes(), int(trainer._replay.labels[i]))
            for i in range(8)}
    for inputs in seen[1:]:
        mask = inputs["replay_mask"].reshape(-1) > 0
        # Fresh fakes keep the batch's labels, replayed ones their own stored label.
        np.testing.assert_array_equal(inputs["fake_labels"][~mask], inputs["labels"][~mask])
        assert mask.any() and (~mask).any()
    # The pool of the last update: each replayed fake beside its own label.
    inputs = trainer.critic_inputs()
    replayed = backend.to_numpy(inputs["replayed"])
    mask = backend.to_numpy(inputs["replay_mask"]).reshape(-1) > 0
    fake_labels = backend.to_numpy(inputs["fake_labels"])
    for row in np.flatnonzero(mask):
        assert (replayed[row].tobytes(), int(fake_labels[row])) in held
    assert np.any(fake_labels[mask] != backend.to_numpy(inputs["labels"])[mask])
    # The critic scores the fakes with those labels, not with the batch's.
    _, metrics = trainer._critic_objective(inputs)
    fake = np.where(mask[:, None, None, None], replayed, backend.to_numpy(
        trainer.G(inputs["z"], inputs["labels"], training=True)))

    def fake_score(labels: Any) -> float:
        scores = trainer.D(trainer.native(fake), labels, training=True)
        return float(backend.ops.to_numpy(scores).mean())

    got = float(backend.ops.to_numpy(metrics["d_fake"]))
    np.testing.assert_allclose(got, fake_score(inputs["fake_labels"]), rtol=1e-5, atol=1e-6)
    assert abs(got - fake_score(inputs["labels"])) > 1e-5


# --- SGAN and CycleGAN: replayed fakes, augmented batches ------------------------------------


def _numpy_params(backend: Any, inputs: Any, which: str) -> dict[str, np.ndarray]:
    prefix = f"aug_{which}_"
    return {k[len(prefix):]: backend.to_numpy(v) for k, v in inputs.items()
            if k.startswith(prefix)}


def test_the_sgan_critic_judges_past_fakes_and_augmented_real_labelled_and_fake_batches(
        backend: Any) -> None:
    trainer = _trainer("sgan-replay-diffaugment", backend.name, replay_fraction=1.0,
                       n_critic=1)
    trainer.fit(1, progress=False)
    assert len(trainer._replay.images) == 8  # the first update's global batch of fakes
    inputs = trainer.critic_inputs()
    assert {"aug_real_mask", "aug_fake_mask", "aug_labeled_mask"} <= set(inputs)
    np.testing.assert_array_equal(backend.to_numpy(inputs["replay_mask"]).ravel(), 1.0)
    held = trainer._replay.images.reshape(8, -1)
    replayed = backend.to_numpy(inputs["replayed"])
    assert all(np.any(np.all(held == row, axis=1)) for row in replayed.reshape(8, -1))
    _, metrics = trainer._critic_objective(inputs)
    # The same loss in numpy: the augmentation applied outside the trainer.
    aug = trainer._augment

    def logits(key: str, which: str, x: Any = None) -> np.ndarray:
        x = backend.to_numpy(inputs[key]) if x is None else x
        out = aug.apply(x, _numpy_params(backend, inputs, which))
        return backend.ops.to_numpy(trainer.D(trainer.native(out), training=True))

    labeled = logits("x_labeled", "labeled")
    real = class_logits_to_score(logits("x", "real"))
    fake = class_logits_to_score(logits("", "fake", replayed))
    want = semi_supervised_critic_loss(labeled, backend.to_numpy(inputs["y_labeled"]), real,
                                       fake, supervised_weight=1.0)
    np.testing.assert_allclose(backend.ops.to_numpy(metrics["d_loss"]), want, rtol=1e-4,
                               atol=1e-5)
    plain = class_logits_to_score(backend.ops.to_numpy(trainer.D(inputs["x"], training=True)))
    assert abs(float(np.mean(plain)) - float(np.mean(real))) > 1e-4


def test_the_cyclegan_critics_judge_replayed_fakes_augmented(backend: Any) -> None:
    trainer = _trainer("cyclegan-replay-diffaugment", backend.name, replay_fraction=1.0)
    assert isinstance(trainer.pool_a, ReplayPool) and isinstance(trainer.pool_b, ReplayPool)
    seen = _recording(trainer)
    trainer.fit(1, progress=False)
    before = {d: getattr(trainer, f"pool_{d}").images.copy() for d in "ab"}
    assert all(len(images) == 4 for images in before.values())
    trainer.fit(1, progress=False)
    inputs = seen[1]
    for d in "ab":  # every fake judged is a past one: the fraction is 1
        held = before[d].reshape(4, -1)
        for row in inputs[f"fake_{d}"].reshape(4, -1):
            assert np.any(np.all(held == row, axis=1)), d
    # The critics' loss in numpy, from the augmented inputs.
    aug, critics = trainer._augment, {"a": trainer.D_a, "b": trainer.D_b}
    params = {k: v for k, v in inputs.items() if k.startswith("aug_")}

    def scores(d: str, key: str, which: str) -> np.ndarray:
        prefix = f"aug_{which}_"
        out = aug.apply(inputs[key], {k[len(prefix):]: v for k, v in params.items()
                                      if k.startswith(prefix)})
        return backend.ops.to_numpy(critics[d](trainer.native(out), training=True))

    want = sum(least_squares_critic_loss(scores(d, d, f"real_{d}"),
                                         scores(d, f"fake_{d}", f"fake_{d}")) for d in "ab")
    native = {k: trainer.native(v) for k, v in inputs.items()}
    _, metrics = trainer._critic_objective(native)
    np.testing.assert_allclose(backend.ops.to_numpy(metrics["d_loss"]), want, rtol=1e-4,
                               atol=1e-5)


def test_cyclegans_replay_pools_replace_its_image_pools() -> None:
    replaying = _trainer("cyclegan-replay-diffaugment", "torch", pool_size=50)
    assert set(replaying.stateful_parts()) == {"batches_a", "batches_b", "replay_a",
                                               "replay_b"}
    with pytest.raises(InvalidArgumentError, match="pool_size must be 0 or its default 50 "
                                                   r"with replay > 0 .*received pool_size 4 "
                                                   "with replay 4"):
        _trainer("cyclegan-replay-diffaugment", "torch", pool_size=4)


def test_cyclegan_without_the_options_keeps_its_image_pools_and_its_stream() -> None:
    """replay 0 and no diffaugment: the image pools, their state's names and streams, and
    nothing drawn from the loop's stream, as before either option existed."""
    trainer = _trainer("cyclegan-pool-diffaugment", "torch", diffaugment=None)
    parts = trainer.stateful_parts()
    assert set(parts) == {"batches_a", "batches_b", "pool_a", "pool_b"}
    assert all(isinstance(parts[p], ImagePool) for p in ("pool_a", "pool_b"))
    stream = trainer.rng.bit_generator.state
    trainer.fit(2, progress=False)
    assert trainer.rng.bit_generator.state == stream
    assert set(trainer.pool_a.state_dict()) == {"images", "rng"}
    assert len(trainer.pool_a.images) == 4


def test_the_options_still_refused_name_the_trainer() -> None:
    with pytest.raises(InvalidArgumentError, match=r"reuse_fakes must be False for "
                                                   r"SGANTrainer.*received True"):
        _trainer("sgan-replay-diffaugment", "torch", reuse_fakes=True)
    with pytest.raises(InvalidArgumentError, match=r"feature_matching must be None for "
                                                   r"CycleGANTrainer.*received 'x'"):
        _trainer("cyclegan-replay-diffaugment", "torch", feature_matching="x")


# --- the config, a TOML file and the CLI -----------------------------------------------------


def test_the_cli_and_a_toml_file_train_every_trainer_with_the_options(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gancore.cli import main

    toml = tmp_path / "sgan.toml"
    toml.write_text('[train]\nreplay = 8\nreplay_fraction = 0.25\ndiffaugment = "cutout"\n'
                    'num_labeled = 20\n')
    runs = {
        "cgan": ["--recipe", "cgan", "--replay", "8", "--diffaugment", "translation"],
        "sgan": ["--recipe", "sgan", "--config", str(toml)],
        "cyclegan": ["--recipe", "cyclegan", "--replay", "8", "--diffaugment", "color"],
    }
    parts = {"cgan": {"replay"}, "sgan": {"replay"}, "cyclegan": {"replay_a", "replay_b"}}
    for name, args in runs.items():
        out = tmp_path / name
        assert main(["train", *args, "--steps", "1", "--batch-size", "8", "--backend",
                     "torch", "--threads", "1", "--no-progress", "--out", str(out)]) == 0, \
            capsys.readouterr().err
        ckpt = load_checkpoint(out / "checkpoint")
        config = ckpt.meta["config"]
        assert config["replay"] > 0 and config["diffaugment"] is not None, name
        state = ckpt.training_state()
        assert parts[name] <= set(state), name
        pool = state[sorted(parts[name])[0]]
        assert len(pool["images"]) == 8
        if name == "cgan":  # the labels the fakes were made for
            assert pool["labels"].shape == (8,) and pool["labels"].max() < 10
        else:
            assert "labels" not in pool
    # CycleGAN's default pool_size (50) with replay: replay's pools replace its image pools.
    assert ckpt.meta["config"]["pool_size"] == 50 and "pool_a" not in state


# --- two workers compute what one process computes -------------------------------------------

DISTRIBUTED = ["cgan-replay-r1", "sgan-replay-diffaugment", "cyclegan-replay-diffaugment"]


def _final(trainer: Any) -> dict[str, np.ndarray]:
    out = {f"{net}/{k}": np.asarray(v) for net, state in _states(trainer).items()
           for k, v in state.items()}
    out.update({f"pool/{k}": v for k, v in _pool_images(trainer).items()})
    for name, part in trainer.stateful_parts().items():
        if isinstance(part, ReplayPool) and part.labels is not None:
            out[f"pool/{name}/labels"] = part.labels
    return out


def _distributed_run(case: str, backend: str, workers: Workers | None = None) -> Any:
    # Global batch 8 (4 rows a worker), SGD, the batch norms synchronised; two steps, as
    # tests/_distributed_cases.py keeps CycleGAN's tiny instance norms from amplifying
    # float32 rounding.
    trainer = _trainer(case, backend, steps=2, workers=workers, generator_optimizer=SGD,
                       critic_optimizer=SGD, batch_size=8)
    trainer.fit(progress=False)
    return trainer


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_two_workers_replay_and_augment_as_one_process(framework: str, tmp_path: Path
                                                       ) -> None:
    import gancore

    if framework not in gancore.backends():
        pytest.skip(f"{framework} is not installed")
    env = {**os.environ, "GANCORE_THREADS": "1", "GANCORE_WORKER_TIMEOUT": "120"}
    procs = [subprocess.Popen([sys.executable, __file__, framework, str(tmp_path)], env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for e in worker_environments(framework, 2, base=env)]
    logs = [p.communicate(timeout=900)[0].decode(errors="replace") for p in procs]
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    for case in DISTRIBUTED:
        one = _final(_distributed_run(case, framework))
        ranks = [dict(np.load(tmp_path / f"{case}-rank{r}.npz")) for r in range(2)]
        assert set(ranks[0]) == set(one) == set(ranks[1])
        for key, value in one.items():
            if "running" not in key:
                np.testing.assert_array_equal(ranks[1][key], ranks[0][key], err_msg=key)
            np.testing.assert_allclose(ranks[0][key], value, err_msg=f"{case} {key}",
                                       **STEP_TOL)


def _worker(backend: str, out_dir: str) -> None:
    workers = from_environment("torch" if backend == "torch" else "tensorflow",
                               sync_batch_norm=True)
    for case in DISTRIBUTED:
        trainer = _distributed_run(case, backend, workers)
        np.savez(Path(out_dir) / f"{case}-rank{workers.rank}.npz", **_final(trainer))


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
