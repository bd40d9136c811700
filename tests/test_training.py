"""Every algorithm trains on every backend; one training step is the same on torch and
TensorFlow; seeded runs repeat; checkpoints move between backends (DESIGN invariants 3, 4)."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import FRAMEWORKS, load_backend

import gancore
from gancore.architectures import cyclegan, dcgan, fc_bn, pacgan_mlp
from gancore.data import Dataset, load_digits, load_mixture
from gancore.training import (
    CycleGANTrainer,
    GANTrainer,
    ImagePool,
    OptimizerConfig,
    SGANTrainer,
    TrainConfig,
    load_checkpoint,
    make_trainer,
)
from gancore.training._recipes import inverted

DIGITS = load_digits()
SMALL = DIGITS.subset(np.arange(256))
RING = load_mixture("ring", n=2048, seed=0)

# name -> (architecture factory, data factory, config)
CASES: dict[str, tuple[Any, Any, TrainConfig]] = {
    "nonsaturating": (lambda: dcgan(SMALL.shape, latent_dim=16), lambda: SMALL,
                      TrainConfig(batch_size=8)),
    "minimax": (lambda: dcgan(SMALL.shape, latent_dim=16), lambda: SMALL,
                TrainConfig(batch_size=8, loss="minimax")),
    "label-flip": (lambda: dcgan(SMALL.shape, latent_dim=16), lambda: SMALL,
                   TrainConfig(batch_size=8, flip_fraction=0.5, smoothing=0.1)),
    "wgan-clip": (lambda: dcgan(SMALL.shape, latent_dim=16), lambda: SMALL,
                  TrainConfig(batch_size=8, loss="wasserstein", clip_value=0.01, n_critic=2,
                              generator_optimizer=OptimizerConfig.rmsprop(5e-5),
                              critic_optimizer=OptimizerConfig.rmsprop(5e-5))),
    "wgan-gp": (lambda: dcgan(SMALL.shape, latent_dim=16, norm="layer"), lambda: SMALL,
                TrainConfig(batch_size=8, loss="wasserstein", gradient_penalty=10.0, n_critic=2,
                            generator_optimizer=OptimizerConfig.adam(1e-4, 0.0, 0.9),
                            critic_optimizer=OptimizerConfig.adam(1e-4, 0.0, 0.9))),
    "hinge": (lambda: dcgan(SMALL.shape, latent_dim=16, norm="instance"), lambda: SMALL,
              TrainConfig(batch_size=8, loss="hinge")),
    "least-squares": (lambda: fc_bn(SMALL.shape, latent_dim=8), lambda: SMALL,
                      TrainConfig(batch_size=8, loss="least_squares", ema_decay=0.9)),
    "cgan": (lambda: dcgan(SMALL.shape, latent_dim=16, num_classes=10), lambda: SMALL,
             TrainConfig(batch_size=8)),
    "sgan": (lambda: dcgan(SMALL.shape, latent_dim=16, num_classes=10, semi_supervised=True),
             lambda: SMALL, TrainConfig(algorithm="sgan", batch_size=8, num_labeled=20)),
    "cyclegan": (lambda: cyclegan(SMALL.shape, base_filters=4, depth=2),
                 lambda: (SMALL, inverted(SMALL)),
                 TrainConfig(algorithm="cyclegan", loss="least_squares", batch_size=4,
                             pool_size=4)),
    "pacgan": (lambda: pacgan_mlp((2,), hidden=16, packing=2), lambda: RING,
               TrainConfig(batch_size=16)),
    "pacgan-r1": (lambda: pacgan_mlp((2,), hidden=16, packing=2), lambda: RING,
                  TrainConfig(batch_size=16, r1_penalty=1.0)),
    "pacgan-lazy-r1": (lambda: pacgan_mlp((2,), hidden=16), lambda: RING,
                       TrainConfig(batch_size=16, r1_penalty=1.0, r1_interval=2)),
    "pacgan-r1-decay": (lambda: pacgan_mlp((2,), hidden=16), lambda: RING,
                        TrainConfig(batch_size=16, r1_penalty=1.0, r1_final=0.25,
                                    decay_start=0.0)),
    "cgan-r1": (lambda: dcgan(SMALL.shape, latent_dim=16, num_classes=10), lambda: SMALL,
                TrainConfig(batch_size=8, r1_penalty=10.0)),
}


def _train(name: str, backend: str, steps: int = 2, **overrides: Any) -> Any:
    arch, data, config = CASES[name]
    config = attrs.evolve(config, steps=steps, log_every=1, **overrides)
    trainer = make_trainer(arch(), data(), config, backend=backend)
    trainer.fit()
    return trainer


def _states(trainer: Any) -> dict[str, dict[str, np.ndarray]]:
    return {name: net.get_state() for name, net in trainer.networks().items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_algorithm_trains_and_changes_its_parameters(backend: Any, case: str) -> None:
    arch, data, config = CASES[case]
    trainer = make_trainer(arch(), data(), attrs.evolve(config, steps=2, log_every=1),
                           backend=backend.name)
    before = _states(trainer)
    metrics = trainer.fit()
    after = _states(trainer)
    assert metrics["step"] == 2
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    for net, state in before.items():
        if net == "generator_ema":
            continue
        changed = [k for k in state if not np.array_equal(state[k], after[net][k])]
        assert changed, f"{case}: no parameter of {net} changed"
    if case == "wgan-clip":
        for p in trainer.D.trainable_parameters():
            assert np.abs(backend.ops.to_numpy(p)).max() <= 0.01 + 1e-7


def _both_backends() -> None:
    for name in FRAMEWORKS:
        load_backend(name)


# float32 arithmetic in a different order on each framework: a few ulps per step.
STEP_TOL = dict(rtol=2e-4, atol=2e-5)


# Adam and RMSprop divide by the gradient's running magnitude, which turns float32 rounding
# noise in a near-zero gradient into a full-size step; SGD keeps the step proportional to
# the gradient, so comparing whole training steps under SGD checks the gradients of every
# parameter (the conformance suite checks the adaptive optimizers' arithmetic).
SGD = OptimizerConfig("sgd", lr=0.01, momentum=0.5)


# gancore.conformance compares two SGD steps of the standard GAN, WGAN-GP, cGAN, SGAN and
# CycleGAN across backends (tests/test_conformance.py, on every backend) and each optimizer
# with PyTorch's arithmetic; here only the variants it does not train.
SUITE_CASES = frozenset({"nonsaturating", "wgan-gp", "cgan", "sgan", "cyclegan"})


@pytest.mark.parametrize("case", sorted(set(CASES) - SUITE_CASES))
def test_training_steps_give_the_same_parameters_on_torch_and_tensorflow(case: str) -> None:
    _both_backends()
    trainers = {
        name: _train(case, name, steps=2, generator_optimizer=SGD, critic_optimizer=SGD)
        for name in FRAMEWORKS
    }
    torch_states, tf_states = (_states(trainers[name]) for name in FRAMEWORKS)
    assert torch_states.keys() == tf_states.keys()
    for net, state in torch_states.items():
        for param, value in state.items():
            np.testing.assert_allclose(tf_states[net][param], value, err_msg=f"{net}.{param}",
                                       **STEP_TOL)
    np.testing.assert_allclose(trainers["tensorflow"].sample(4, seed=1),
                               trainers["torch"].sample(4, seed=1), rtol=1e-3, atol=1e-4)


def test_torch_optimizers_fall_back_to_foreach_without_a_fused_kernel() -> None:
    pytest.importorskip("torch")
    from gancore_torch._train import _fused_or_foreach, make_optimizer

    calls: list[dict[str, Any]] = []

    class NoFusedKernel:  # as torch before 2.4 on the CPU
        def __init__(self, params: Any, **options: Any) -> None:
            calls.append(options)
            if options.get("fused"):
                raise RuntimeError("`fused=True` requires all the params to be on CUDA")

    opt = _fused_or_foreach(NoFusedKernel, [], lr=0.1)  # type: ignore[arg-type]
    assert isinstance(opt, NoFusedKernel)
    assert calls == [{"fused": True, "lr": 0.1}, {"foreach": True, "lr": 0.1}]
    import torch

    param = torch.nn.Parameter(torch.zeros(3))
    assert make_optimizer(OptimizerConfig.adam(), [param]).defaults["fused"]


def test_seeded_runs_repeat_and_seeds_differ(backend: Any) -> None:
    a = _states(_train("wgan-gp", backend.name, seed=3))
    b = _states(_train("wgan-gp", backend.name, seed=3))
    c = _states(_train("wgan-gp", backend.name, seed=4))
    for param, value in a["generator"].items():
        np.testing.assert_array_equal(b["generator"][param], value)
    assert any(not np.array_equal(c["generator"][k], v) for k, v in a["generator"].items())


@pytest.mark.parametrize("case", ["nonsaturating", "cgan", "least-squares"])
def test_a_checkpoint_samples_the_same_images_on_every_backend(tmp_path: Any, case: str) -> None:
    _both_backends()
    trainer = _train(case, "torch", steps=2)
    path = trainer.save(tmp_path / "ckpt")
    ckpt = load_checkpoint(path)
    labels = 3 if case == "cgan" else None
    expected = trainer.sample(6, seed=11, labels=labels)
    for name in ("numpy", "torch", "tensorflow"):
        images = ckpt.sample(6, backend=name, seed=11, labels=labels)
        assert images.shape == (6, 8, 8, 1)
        np.testing.assert_allclose(images, expected, rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_cyclegan_checkpoint_translates_on_the_other_backend(tmp_path: Any) -> None:
    _both_backends()
    trainer = _train("cyclegan", "tensorflow", steps=1)
    ckpt = load_checkpoint(trainer.save(tmp_path / "cycle"))
    images = SMALL.images[:3]
    expected = trainer.translate(images, "ba")
    np.testing.assert_allclose(ckpt.translate(images, direction="ba", backend="torch"),
                               expected, rtol=1e-4, atol=1e-5)


def test_a_checkpoint_loads_back_into_a_trainer_of_the_other_backend(tmp_path: Any) -> None:
    _both_backends()
    source = _train("wgan-gp", "tensorflow", steps=1)
    ckpt = load_checkpoint(source.save(tmp_path / "c"))
    arch, data, config = CASES["wgan-gp"]
    target = make_trainer(arch(), data(), config, backend="torch")
    target.load_state(ckpt.arrays)
    for name, state in _states(source).items():
        for param, value in state.items():
            np.testing.assert_allclose(target.networks()[name].get_state()[param], value,
                                       rtol=1e-6, atol=1e-7)


def test_checkpoints_are_plain_arrays_without_pickle(tmp_path: Any) -> None:
    trainer = _train("nonsaturating", "torch" if "torch" in gancore.backends() else
                     "tensorflow", steps=1)
    path = trainer.save(tmp_path / "ckpt")
    with np.load(path / "arrays.npz", allow_pickle=False) as npz:
        assert any(k.startswith("generator/") for k in npz.files)
        assert all(npz[k].dtype == np.float32 for k in npz.files)
    meta = load_checkpoint(path).meta
    assert meta["step"] == 1 and meta["algorithm"] == "gan"


def test_sgan_critic_classifies(backend: Any) -> None:
    trainer = _train("sgan", backend.name, steps=2)
    predicted = trainer.classify(SMALL.images[:10])
    assert predicted.shape == (10,)
    assert set(predicted.tolist()) <= set(range(10))
    assert 0.0 <= trainer.accuracy(SMALL) <= 1.0
    assert len(trainer.labeled) == 20
    assert np.bincount(trainer.labeled.labels, minlength=10).tolist() == [2] * 10


def test_ema_generator_is_an_average_of_the_generator(backend: Any) -> None:
    trainer = _train("least-squares", backend.name, steps=3)
    live = trainer.G.get_state()
    ema = trainer.networks()["generator_ema"].get_state()
    assert any(not np.allclose(ema[k], live[k]) for k in live)
    samples = trainer.sample(4, seed=0)
    assert samples.shape == (4, 8, 8, 1) and np.all(np.abs(samples) <= 1)


def _assert_same_weights(a: Any, b: Any, **tol: float) -> None:
    """Every parameter and buffer of every network of two trainers: equal (within `tol`
    when given)."""
    b_states = _states(b)
    for net, state in _states(a).items():
        for name, value in state.items():
            if tol:
                np.testing.assert_allclose(b_states[net][name], value, err_msg=name, **tol)
            else:
                np.testing.assert_array_equal(b_states[net][name], value, err_msg=name)


def test_r1_gamma_follows_the_learning_rate_decay_to_r1_final() -> None:
    config = TrainConfig(steps=6, decay_start=0.5, r1_penalty=2.0, r1_final=0.5)
    gammas = [2.0 * config.r1_factor(step) for step in range(6)]
    # The linear decay's factor: 1, 1, 1, then 1 - 1/3, 1 - 2/3 from step 3 (= 0.5 * 6) on.
    np.testing.assert_allclose(gammas, [2.0, 2.0, 2.0, 2.0, 1.5, 1.0])
    assert TrainConfig(steps=6, r1_penalty=2.0).r1_factor(5) == 1.0
    assert attrs.evolve(config, lr_schedule="constant").r1_factor(5) == config.r1_factor(5)


def test_decayed_r1_gamma_is_the_constant_gamma_of_that_step(backend: Any) -> None:
    """r1_penalty 2 decaying to 0 over 2 steps from step 0: step 0 is a gamma 2 update,
    step 1 (decay factor 1/2) a gamma 1 update, bit for bit."""
    sgd = OptimizerConfig("sgd", lr=0.05)

    def trainer(**penalty: Any) -> Any:
        config = TrainConfig(batch_size=16, steps=2, log_every=1, decay_start=0.0,
                             generator_optimizer=sgd, critic_optimizer=sgd, **penalty)
        return make_trainer(pacgan_mlp((2,), hidden=16), RING, config, backend=backend.name)

    decayed, two, one = (trainer(r1_penalty=2.0, r1_final=0.0), trainer(r1_penalty=2.0),
                         trainer(r1_penalty=1.0))
    first, two_metrics = decayed.fit(1), two.fit(1)
    one.fit(1)  # the same batch and noise as the others' first step
    _assert_same_weights(two, decayed)
    assert first["r1"] == two_metrics["r1"] > 0
    one.G.set_state(decayed.G.get_state())
    one.D.set_state(decayed.D.get_state())
    second, one_metrics = decayed.fit(1), one.fit(1)
    _assert_same_weights(one, decayed, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(second["r1"], one_metrics["r1"], rtol=1e-6)


def test_lazy_r1_penalises_every_kth_critic_update_at_k_times_gamma(backend: Any) -> None:
    """r1_interval 2: the first critic update is r1_penalty 2 * gamma's, the second has no
    penalty; the logged r1 stays at gamma's scale and is carried over the off-steps."""
    sgd = OptimizerConfig("sgd", lr=0.05)  # stateless: an update depends on the weights only

    def trainer(**penalty: Any) -> Any:
        config = TrainConfig(batch_size=16, steps=2, log_every=1, generator_optimizer=sgd,
                             critic_optimizer=sgd, **penalty)
        return make_trainer(pacgan_mlp((2,), hidden=16), RING, config, backend=backend.name)

    lazy, heavy, plain = (trainer(r1_penalty=1.0, r1_interval=2), trainer(r1_penalty=2.0),
                          trainer())
    first, heavy_metrics = lazy.fit(1), heavy.fit(1)
    plain.fit(1)  # draws the same batch and noise as the others' first step
    _assert_same_weights(heavy, lazy)
    np.testing.assert_allclose(first["r1"], heavy_metrics["r1"] / 2, rtol=1e-6)
    assert first["r1"] > 0

    plain.G.set_state(lazy.G.get_state())
    plain.D.set_state(lazy.D.get_state())
    before = lazy.D.get_state()
    second = lazy.fit(1)
    plain.fit(1)
    _assert_same_weights(plain, lazy)
    assert second["r1"] == first["r1"]
    # The off-step did train the critic: the comparison is not of untouched weights.
    assert any(not np.array_equal(v, before[k]) for k, v in lazy.D.get_state().items())


def test_conditional_samples_follow_the_requested_labels_input(backend: Any) -> None:
    trainer = _train("cgan", backend.name, steps=1)
    threes = trainer.sample(4, labels=3, seed=0)
    sevens = trainer.sample(4, labels=7, seed=0)
    assert not np.allclose(threes, sevens)
    with pytest.raises(gancore.InvalidArgumentError, match="labels must be in"):
        trainer.sample(2, labels=12)


def test_linear_learning_rate_decay() -> None:
    config = TrainConfig(steps=10, lr_schedule="linear", decay_start=0.5)
    factors = [config.learning_rate_factor(s) for s in range(10)]
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2])


def test_image_pool_returns_past_fakes_once_full() -> None:
    pool = ImagePool(2, np.random.default_rng(0))
    first = pool.query(np.arange(2, dtype=np.float32)[:, None])
    np.testing.assert_array_equal(first[:, 0], [0, 1])
    out = pool.query(np.full((50, 1), 9, dtype=np.float32))
    assert set(out[:, 0].tolist()) <= {0.0, 1.0, 9.0}
    assert (out[:, 0] != 9).any() and (out[:, 0] == 9).any()
    np.testing.assert_array_equal(ImagePool(0, np.random.default_rng(0)).query(first), first)


def test_bad_training_setups_raise_clear_errors() -> None:
    name = "torch" if "torch" in gancore.backends() else "tensorflow"
    with pytest.raises(gancore.InvalidArgumentError, match="generator's output shape"):
        GANTrainer(dcgan((8, 8, 1), latent_dim=4), load_mixture("ring", n=64), backend=name)
    with pytest.raises(gancore.InvalidArgumentError, match="flip_fraction and smoothing"):
        GANTrainer(dcgan((8, 8, 1), latent_dim=4), SMALL,
                   TrainConfig(loss="wasserstein", flip_fraction=0.2), backend=name)
    unlabelled = Dataset("x", SMALL.images)
    with pytest.raises(gancore.InvalidArgumentError, match="labelled data with 10 classes"):
        GANTrainer(dcgan((8, 8, 1), latent_dim=4, num_classes=10), unlabelled, backend=name)
    with pytest.raises(gancore.InvalidArgumentError, match="'lr' must be > 0: -1"):
        OptimizerConfig(lr=-1)
    with pytest.raises(gancore.InvalidArgumentError, match="'n_critic' must be an int >= 1"):
        TrainConfig(n_critic=0)
    with pytest.raises(gancore.InvalidArgumentError, match="training config keys"):
        TrainConfig.from_dict({"stepz": 3})
    with pytest.raises(gancore.PluginNotFoundError, match="loss 'nope' is not installed"):
        GANTrainer(dcgan((8, 8, 1), latent_dim=4), SMALL, TrainConfig(loss="nope"),
                   backend=name)
    with pytest.raises(gancore.GancoreError, match="cannot train"):
        GANTrainer(dcgan((8, 8, 1), latent_dim=4), SMALL, backend="numpy")
    with pytest.raises(gancore.InvalidArgumentError, match=r"'r1_penalty' must be >= 0: -1\.0"):
        TrainConfig(r1_penalty=-1.0)
    with pytest.raises(gancore.InvalidArgumentError, match=r"'r1_interval' must be .*: 0"):
        TrainConfig(r1_interval=0)
    with pytest.raises(gancore.InvalidArgumentError, match=r"'r1_final' must be >= 0: -0\.5"):
        TrainConfig(r1_penalty=1.0, r1_final=-0.5)
    with pytest.raises(gancore.InvalidArgumentError,
                       match=r"r1_final needs an R1 penalty to decay \(r1_penalty > 0\); "
                             r"received r1_final 0.1 with r1_penalty 0"):
        GANTrainer(dcgan((8, 8, 1), latent_dim=4), SMALL, TrainConfig(r1_final=0.1),
                   backend=name)
    sgan_arch = dcgan(SMALL.shape, latent_dim=4, num_classes=10, semi_supervised=True)
    for penalty in ("gradient_penalty", "r1_penalty"):
        with pytest.raises(gancore.InvalidArgumentError,
                           match=f"{penalty} must be 0 for SGANTrainer .*received 1.0"):
            SGANTrainer(sgan_arch, SMALL, TrainConfig(algorithm="sgan", **{penalty: 1.0}),
                        backend=name)
        with pytest.raises(gancore.InvalidArgumentError,
                           match=f"{penalty} must be 0 for CycleGANTrainer"):
            CycleGANTrainer(cyclegan(SMALL.shape, base_filters=4, depth=2), SMALL,
                            inverted(SMALL), TrainConfig(algorithm="cyclegan", **{penalty: 1.0}),
                            backend=name)


class _SameNoiseTwice(GANTrainer):
    """The generator step draws nothing: it takes the noise and labels of the step's last
    critic update, as `reuse_fakes` does, but runs the generator again."""

    def critic_inputs(self) -> dict[str, Any]:
        self._last_inputs = super().critic_inputs()
        return self._last_inputs

    def generator_inputs(self) -> dict[str, Any]:
        inputs = {"z": self._last_inputs["z"]}
        if self.conditional:
            inputs["labels"] = self._last_inputs["labels"]
        return inputs


@pytest.mark.parametrize("case", ["nonsaturating", "cgan-r1", "wgan-gp", "pacgan-lazy-r1",
                                  "pacgan", "wgan-clip"])
def test_reusing_the_critics_fakes_is_redrawing_the_same_noise(backend: Any, case: str) -> None:
    arch, data, config = CASES[case]
    config = attrs.evolve(config, steps=3, log_every=1)
    reused = make_trainer(arch(), data(), attrs.evolve(config, reuse_fakes=True),
                          backend=backend.name)
    reused.fit()
    redrawn = _SameNoiseTwice(arch(), data(), config, backend=backend.name)
    redrawn.fit()
    for name in ("generator", "critic"):
        got, want = reused.networks()[name].get_state(), redrawn.networks()[name].get_state()
        for param, value in want.items():
            if "running" in param and name == "generator":
                continue  # reused fakes pass the generator's batch norms once, not twice
            np.testing.assert_allclose(got[param], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}.{param}")
    assert [h.keys() for h in reused.history] == [h.keys() for h in redrawn.history]
    for a, b in zip(reused.history, redrawn.history, strict=True):
        np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=1e-5, atol=1e-6)


def test_reuse_fakes_is_refused_where_the_step_has_no_such_option() -> None:
    load_backend("torch")
    with pytest.raises(gancore.InvalidArgumentError, match=r"reuse_fakes must be False for "
                                                           r"CycleGANTrainer"):
        _train("cyclegan", "torch", reuse_fakes=True)
    with pytest.raises(gancore.InvalidArgumentError, match="reuse_fakes must be False for SGAN"):
        _train("sgan", "torch", reuse_fakes=True)


FUSED_CASES = ["nonsaturating", "label-flip", "wgan-clip", "wgan-gp", "least-squares", "cgan",
               "sgan", "pacgan-lazy-r1", "pacgan-r1-decay"]


def _programs(update: Any) -> int:
    """How many programs an update's compiled step holds (traced or compiled so far)."""
    step = update._step
    return step._cache_size() if hasattr(step, "_cache_size") \
        else step.experimental_get_tracing_count()


@pytest.mark.parametrize("framework", ["tensorflow", "jax"])
@pytest.mark.parametrize("case", FUSED_CASES)
def test_a_fused_step_makes_the_two_updates_it_fuses(framework: str, case: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorFlow and JAX run a step's last critic update and its generator update as one
    compiled program (`fuses_steps`): the weights, the optimizers' state and the metrics
    are those of the two updates run one after the other (the generator's inputs drawn in
    the same order), to float32 rounding (a compiler fuses one program's arithmetic
    differently from two programs')."""
    backend = load_backend(framework)
    arch, data, config = CASES[case]
    config = attrs.evolve(config, steps=3, log_every=1)
    fused = make_trainer(arch(), data(), config, backend=framework)
    assert fused._fused and not _programs(fused._d_update)
    fused.fit()
    monkeypatch.setattr(type(backend), "fuses_steps", False)
    apart = make_trainer(arch(), data(), config, backend=framework)
    assert not apart._fused
    apart.fit()
    # the fused program ran; a lone critic update only before the last of n_critic
    assert _programs(fused._joint[False]) == 1
    assert _programs(fused._d_update) == (config.n_critic > 1)
    for name in ("generator", "critic"):
        got, want = fused.networks()[name].get_state(), apart.networks()[name].get_state()
        assert got.keys() == want.keys()
        for param, value in want.items():
            np.testing.assert_allclose(got[param], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}.{param}")
    assert [h.keys() for h in fused.history] == [h.keys() for h in apart.history]
    for a, b in zip(fused.history, apart.history, strict=True):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
