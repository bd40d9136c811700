"""Training options (issue #20): horizontal flips of the real data and DiffAugment, on every
backend alike, with every loss and penalty, resumed bit for bit, reachable from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import load_backend
from test_resume import assert_resumes_bit_for_bit
from test_training import RING, SGD, SMALL, STEP_TOL, _states

from gancore import InvalidArgumentError
from gancore.architectures import cyclegan, dcgan, pacgan_mlp
from gancore.augment import DiffAugment
from gancore.cli import _parser, _train_settings
from gancore.training import OptimizerConfig, TrainConfig, make_trainer
from gancore.training._recipes import inverted
from gancore.training._replay import ReplayPool

ALL = "color,translation,cutout"
WGAN_GP = dict(loss="wasserstein", gradient_penalty=10.0, n_critic=2)

# name -> (architecture factory, config)
CASES: dict[str, tuple[Any, TrainConfig]] = {
    "hflip": (lambda: dcgan(SMALL.shape, latent_dim=16), TrainConfig(batch_size=8, hflip=True)),
    "diffaugment": (lambda: dcgan(SMALL.shape, latent_dim=16),
                    TrainConfig(batch_size=8, diffaugment=ALL, hflip=True)),
    "diffaugment-wgan-gp": (lambda: dcgan(SMALL.shape, latent_dim=16, norm="layer"),
                            TrainConfig(batch_size=8, diffaugment=ALL, **WGAN_GP)),
    "diffaugment-cgan-r1": (lambda: dcgan(SMALL.shape, latent_dim=16, num_classes=10),
                            TrainConfig(batch_size=8, diffaugment="translation,cutout",
                                        r1_penalty=10.0)),
    "diffaugment-reuse-fakes": (lambda: dcgan(SMALL.shape, latent_dim=16),
                                TrainConfig(batch_size=8, diffaugment="color,translation",
                                            loss="hinge", reuse_fakes=True)),
    "replay": (lambda: dcgan(SMALL.shape, latent_dim=16),
               TrainConfig(batch_size=8, replay=12, n_critic=2)),
    # The whole policy with replay and WGAN-GP: within 0.5 % of the tolerance at one and at
    # two torch threads.
    "replay-wgan-gp-diffaugment": (lambda: dcgan(SMALL.shape, latent_dim=16, norm="layer"),
                                   TrainConfig(batch_size=8, replay=8, replay_fraction=0.75,
                                               diffaugment=ALL, **WGAN_GP)),
    "replay-lazy-r1-reuse-fakes": (lambda: dcgan(SMALL.shape, latent_dim=16),
                                   TrainConfig(batch_size=8, replay=8, r1_penalty=10.0,
                                               r1_interval=2, n_critic=2, reuse_fakes=True)),
}


def _trainer(case: str, backend: str, steps: int = 2, **overrides: Any) -> Any:
    arch, config = CASES[case]
    config = attrs.evolve(config, steps=steps, log_every=1, **overrides)
    return make_trainer(arch(), SMALL, config, backend=backend)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCORE_THREADS", "1")


def assert_trains_alike(make: Callable[..., Any], other: str = "tensorflow") -> dict[str, Any]:
    """Fit ``make(backend_name, generator_optimizer=SGD, critic_optimizer=SGD)`` on torch
    and on `other` and assert that every network's weights agree (STEP_TOL); the two
    fitted trainers, by backend name."""
    for name in ("torch", other):
        load_backend(name)
    trainers = {}
    for name in ("torch", other):
        trainers[name] = make(name, generator_optimizer=SGD, critic_optimizer=SGD)
        trainers[name].fit(progress=False)
    want, got = _states(trainers["torch"]), _states(trainers[other])
    assert want.keys() == got.keys()
    for net, state in want.items():
        for param, value in state.items():
            np.testing.assert_allclose(got[net][param], value, err_msg=f"{net}.{param}",
                                       **STEP_TOL)
    return trainers


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_step_with_the_option_is_the_same_on_torch_and_tensorflow(case: str) -> None:
    assert_trains_alike(lambda name, **kw: _trainer(case, name, **kw))


@pytest.mark.parametrize("case", ["hflip", "diffaugment", "diffaugment-reuse-fakes", "replay",
                                  "replay-wgan-gp-diffaugment"])
def test_a_resumed_run_with_the_option_ends_bit_for_bit_where_the_whole_run_ends(
        backend: Any, case: str, tmp_path: Path) -> None:
    assert_resumes_bit_for_bit(lambda: _trainer(case, backend.name, steps=4), 2, tmp_path)


def test_hflip_mirrors_some_real_images_and_keeps_the_others() -> None:
    plain = next(_trainer("hflip", "torch", hflip=False)._batches).images
    flipped = next(_trainer("hflip", "torch")._batches).images
    same = np.all(flipped == plain, axis=(1, 2, 3))
    mirrored = np.all(flipped == plain[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert same.any() and (mirrored & ~same).any()


def test_the_critic_scores_the_augmented_reals(backend: Any) -> None:
    trainer = _trainer("diffaugment", backend.name)
    trainer.rng = np.random.default_rng(3)
    inputs = trainer.critic_inputs()
    _, metrics = trainer._critic_objective(inputs)
    # The same parameters drawn again, applied in numpy outside the trainer.
    rng = np.random.default_rng(3)
    x = backend.to_numpy(inputs["x"])
    rng.standard_normal((8, 16))  # the noise drawn before the augmentation's parameters
    aug = DiffAugment()
    real = aug.apply(x, aug.draw(rng, 8, SMALL.shape))
    want = backend.ops.to_numpy(trainer.D(trainer.native(real), training=True)).mean()
    np.testing.assert_allclose(backend.ops.to_numpy(metrics["d_real"]), want, rtol=1e-5,
                               atol=1e-6)
    plain = backend.ops.to_numpy(trainer.D(inputs["x"], training=True)).mean()
    assert abs(plain - want) > 1e-4


def test_diffaugment_changes_what_the_networks_learn() -> None:
    with_aug = _trainer("diffaugment", "torch", hflip=False)
    without = _trainer("diffaugment", "torch", hflip=False, diffaugment=None)
    for trainer in (with_aug, without):
        trainer.fit(progress=False)
    a, b = _states(with_aug)["critic"], _states(without)["critic"]
    assert any(not np.allclose(a[k], b[k]) for k in a)


@pytest.mark.parametrize("value", ["colour", "color,color", "", 1, ("color",)])
def test_a_bad_policy_is_refused_with_what_is_allowed(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"'diffaugment' must be None or distinct "
                                                   r"comma-separated names among 'color'"):
        TrainConfig(diffaugment=value)


def test_hflip_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="hflip"):
        TrainConfig(hflip=1)  # type: ignore[arg-type]


def test_options_on_samples_that_are_not_images_are_refused() -> None:
    config = TrainConfig(batch_size=16, steps=1)
    with pytest.raises(InvalidArgumentError, match=r"diffaugment needs image samples .* "
                                                   r"received 'ring.*' samples of shape \(2,\)"):
        make_trainer(pacgan_mlp((2,), hidden=8), RING, attrs.evolve(config, diffaugment="color"),
                     backend="torch")
    with pytest.raises(InvalidArgumentError, match="hflip needs NHWC images"):
        make_trainer(pacgan_mlp((2,), hidden=8), RING, attrs.evolve(config, hflip=True),
                     backend="torch")


def test_trainers_without_the_option_refuse_it() -> None:
    # DiffAugment and replay work on every trainer (tests/test_replay_every_trainer.py).
    config = TrainConfig(algorithm="cyclegan", loss="least_squares", batch_size=4,
                         pool_size=4, reuse_fakes=True)
    with pytest.raises(InvalidArgumentError, match=r"reuse_fakes must be False for "
                                                   r"CycleGANTrainer.*received True"):
        make_trainer(cyclegan(SMALL.shape, base_filters=4, depth=2), (SMALL, inverted(SMALL)),
                     config, backend="torch")


def test_cyclegan_flips_both_domains() -> None:
    config = TrainConfig(algorithm="cyclegan", loss="least_squares", batch_size=4,
                         pool_size=4, hflip=True, steps=1,
                         generator_optimizer=OptimizerConfig("sgd", lr=0.01))
    trainer = make_trainer(cyclegan(SMALL.shape, base_filters=4, depth=2),
                           (SMALL, inverted(SMALL)), config, backend="torch")
    assert trainer._batches_a.hflip and trainer._batches_b.hflip


def test_the_cli_and_the_toml_file_set_the_options(tmp_path: Path) -> None:
    args = _parser().parse_args(["train", "--hflip", "--diffaugment", "color,cutout"])
    settings = _train_settings(args)
    assert settings["train"]["hflip"] is True
    assert settings["train"]["diffaugment"] == "color,cutout"
    toml = tmp_path / "run.toml"
    toml.write_text('[train]\nhflip = true\ndiffaugment = "translation"\n')
    settings = _train_settings(_parser().parse_args(["train", "--config", str(toml)]))
    assert settings["train"] == {"hflip": True, "diffaugment": "translation"}
    assert TrainConfig.from_dict(settings["train"]).diffaugment == "translation"
    plain = _train_settings(_parser().parse_args(["train"]))
    assert "hflip" not in plain["train"] and "diffaugment" not in plain["train"]


def test_the_replay_pool_fills_then_replaces_and_draws_only_what_it_holds() -> None:
    rng = np.random.default_rng(0)
    pool = ReplayPool(4, 1.0)
    replayed, mask = pool.draw(3, (2,), rng)
    assert not mask.any() and not replayed.any()  # nothing stored yet: fresh fakes only
    first = np.arange(6, dtype=np.float32).reshape(3, 2)
    pool.add(first, rng)
    np.testing.assert_array_equal(pool.images, first)
    second = 100 + np.arange(10, dtype=np.float32).reshape(5, 2)
    pool.add(second, rng)
    assert len(pool.images) == 4
    seen = {tuple(r) for r in np.concatenate([first, second])}
    assert all(tuple(r) in seen for r in pool.images)
    replayed, mask = pool.draw(6, (2,), rng)
    assert mask.shape == (6, 1) and mask.all()
    held = {tuple(r) for r in pool.images}
    assert all(tuple(r) in held for r in replayed)
    state = pool.state_dict()
    other = ReplayPool(4, 1.0)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.images, pool.images)
    with pytest.raises(InvalidArgumentError, match="at most 2 fakes; received 4"):
        ReplayPool(2, 1.0).load_state_dict(state)


def test_the_critic_scores_past_fakes_from_the_pool(backend: Any) -> None:
    trainer = _trainer("replay", backend.name, replay=8, replay_fraction=1.0, n_critic=1)
    trainer.fit(1, progress=False)
    assert len(trainer._replay.images) == 8  # the first update's global batch of fakes
    inputs = trainer.critic_inputs()
    np.testing.assert_array_equal(backend.ops.to_numpy(inputs["replay_mask"]).ravel(), 1.0)
    _, metrics = trainer._critic_objective(inputs)
    want = backend.ops.to_numpy(trainer.D(inputs["replayed"], training=True)).mean()
    np.testing.assert_allclose(backend.ops.to_numpy(metrics["d_fake"]), want, rtol=1e-5,
                               atol=1e-6)
    held = trainer._replay.images.reshape(8, -1)
    for row in backend.to_numpy(inputs["replayed"]).reshape(8, -1):
        assert np.any(np.all(held == row, axis=1))


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_replay_settings_are_refused(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="'replay' must be an int >= 0"):
        TrainConfig(replay=value)
    with pytest.raises(InvalidArgumentError, match=r"'replay_fraction' must be in \(0, 1\]"):
        TrainConfig(replay_fraction=0 if value is True else value)


def test_the_cli_sets_replay() -> None:
    args = _parser().parse_args(["train", "--replay", "16", "--replay-fraction", "0.25"])
    assert _train_settings(args)["train"] == {"replay": 16, "replay_fraction": 0.25}
