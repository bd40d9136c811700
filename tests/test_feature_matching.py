"""Feature matching (Salimans et al. 2016): networks return a named node's output, and the
generator matches the batch mean of a critic node on real and fake samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import ALL_FRAMEWORKS, load_backend
from test_resume import assert_resumes_bit_for_bit
from test_training import SGD, SMALL, STEP_TOL, _states
from test_training_options import _one_thread  # noqa: F401 (autouse: one thread)

from gancore import InvalidArgumentError
from gancore.architectures import cyclegan, dcgan
from gancore.cli import _parser, _train_settings
from gancore.nn import forward_numpy, forward_numpy_training, init_state, node_index
from gancore.training import TrainConfig, make_trainer
from gancore.training._recipes import inverted


@pytest.fixture(params=ALL_FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> Any:
    """Each framework backend, JAX included."""
    return load_backend(request.param)


ARCH = dcgan(SMALL.shape, latent_dim=16)
NODE = "activation_2"  # the critic's last hidden features, after its batch norm

# name -> (architecture factory, config)
CASES: dict[str, tuple[Any, TrainConfig]] = {
    "fm": (lambda: ARCH, TrainConfig(batch_size=8, feature_matching=NODE)),
    "fm-cgan-diffaugment": (lambda: dcgan(SMALL.shape, latent_dim=16, num_classes=10),
                            TrainConfig(batch_size=8, feature_matching="activation_1",
                                        diffaugment="color,translation", n_critic=2)),
    "fm-reuse-fakes": (lambda: ARCH, TrainConfig(batch_size=8, feature_matching="conv2d_2",
                                                 reuse_fakes=True)),
    "fm-sgan": (lambda: dcgan(SMALL.shape, latent_dim=16, num_classes=10,
                              semi_supervised=True),
                TrainConfig(algorithm="sgan", batch_size=8, num_labeled=20,
                            feature_matching=NODE)),
}


def _trainer(case: str, backend: str, steps: int = 2, **overrides: Any) -> Any:
    arch, config = CASES[case]
    config = attrs.evolve(config, steps=steps, log_every=1, **overrides)
    return make_trainer(arch(), SMALL, config, backend=backend)


@pytest.mark.parametrize("node", ["conv2d_1", "batch_norm_1", "flatten_1", "dense_1"])
def test_a_network_returns_a_named_node_like_the_numpy_reference(framework: Any,
                                                                  node: str) -> None:
    spec = ARCH.critic
    state = init_state(spec, 3)
    x = np.random.default_rng(4).uniform(-1, 1, (6, *spec.inputs[0].shape)).astype(np.float32)
    net = framework.build_network(spec, state)
    with framework.no_grad():
        got = framework.to_numpy(net(framework.to_native(x), training=False, output=node))
    want = forward_numpy(spec, state, x, output=node)
    assert want.shape == (6, *spec.shapes()[node])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # Training mode: the output, and only the nodes up to it update their buffers.
    with framework.no_grad():
        got = framework.to_numpy(net(framework.to_native(x), training=True, output=node))
    want, new_state = forward_numpy_training(spec, state, x, output=node)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    after = net.get_state()
    for name, value in new_state.items():
        np.testing.assert_allclose(after[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
    moved = not np.array_equal(new_state["batch_norm_1.running_mean"],
                               state["batch_norm_1.running_mean"])
    assert moved == (node_index(spec, node) >= node_index(spec, "batch_norm_1"))


def test_without_output_a_network_returns_its_output_node(framework: Any) -> None:
    spec = ARCH.critic
    state = init_state(spec, 5)
    x = np.random.default_rng(6).uniform(-1, 1, (3, *spec.inputs[0].shape)).astype(np.float32)
    net = framework.build_network(spec, state)
    with framework.no_grad():
        named = framework.to_numpy(net(framework.to_native(x), output=spec.output))
        plain = framework.to_numpy(net(framework.to_native(x)))
    np.testing.assert_array_equal(named, plain)


def test_an_unknown_node_is_refused_with_the_networks_nodes(framework: Any) -> None:
    spec = ARCH.critic
    net = framework.build_network(spec, init_state(spec, 0))
    x = framework.to_native(np.zeros((2, *spec.inputs[0].shape), np.float32))
    with pytest.raises(InvalidArgumentError, match=r"conv2d_1, activation_1.*'nope'"):
        net(x, output="nope")
    with pytest.raises(InvalidArgumentError, match=r"conv2d_1, activation_1.*'nope'"):
        forward_numpy(spec, init_state(spec, 0), np.zeros((2, *spec.inputs[0].shape)),
                      output="nope")


def test_the_generator_loss_is_the_squared_gap_between_the_feature_means() -> None:
    """The objective against a numpy computation of its formula on the same batch."""
    trainer = _trainer("fm", "torch")
    backend = trainer.backend
    real = SMALL.images[:8]
    z = np.random.default_rng(7).standard_normal((8, 16)).astype(np.float32)
    g_state, d_state = trainer.G.get_state(), trainer.D.get_state()
    loss, _ = trainer._generator_objective({"z": backend.to_native(z),
                                            "x": backend.to_native(real)})
    fake = forward_numpy(ARCH.generator, g_state, z, training=True)
    f_real = forward_numpy(ARCH.critic, d_state, real, training=True, output=NODE)
    f_fake = forward_numpy(ARCH.critic, d_state, fake, training=True, output=NODE)
    want = np.sum((f_real.mean(axis=0) - f_fake.mean(axis=0)) ** 2)
    np.testing.assert_allclose(backend.to_numpy(loss).item(), want, rtol=1e-4)
    assert want > 0


def test_feature_matching_changes_what_the_generator_learns() -> None:
    plain = make_trainer(ARCH, SMALL, TrainConfig(batch_size=8, steps=2, log_every=1),
                         backend="torch")
    matched = _trainer("fm", "torch")
    for t in (plain, matched):
        t.fit(progress=False)
    g_plain, g_fm = plain.G.get_state(), matched.G.get_state()
    assert any(not np.allclose(g_plain[k], g_fm[k]) for k in g_plain)
    # The critic's first update precedes any generator update: the same on both.
    np.testing.assert_array_equal(matched.history[0]["d_loss"], plain.history[0]["d_loss"])


@pytest.mark.parametrize("other", ["tensorflow", "jax"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_step_with_feature_matching_is_the_same_on_every_backend(case: str,
                                                                   other: str) -> None:
    load_backend(other)
    trainers = {name: _trainer(case, name, generator_optimizer=SGD, critic_optimizer=SGD)
                for name in ("torch", other)}
    for t in trainers.values():
        t.fit(progress=False)
    want, got = _states(trainers["torch"]), _states(trainers[other])
    assert want.keys() == got.keys()
    for net, state in want.items():
        for param, value in state.items():
            np.testing.assert_allclose(got[net][param], value, err_msg=f"{net}.{param}",
                                       **STEP_TOL)


@pytest.mark.parametrize("case", ["fm", "fm-cgan-diffaugment"])
def test_a_resumed_run_with_feature_matching_ends_bit_for_bit(backend: Any, case: str,
                                                              tmp_path: Path) -> None:
    assert_resumes_bit_for_bit(lambda: _trainer(case, backend.name, steps=4), 2, tmp_path)


def test_an_unknown_critic_node_is_refused_with_the_critics_nodes() -> None:
    with pytest.raises(InvalidArgumentError,
                       match=r"feature_matching: .*conv2d_1, activation_1, .*'conv9'"):
        make_trainer(ARCH, SMALL, TrainConfig(batch_size=8, feature_matching="conv9"),
                     backend="torch")


@pytest.mark.parametrize("value", ["", 3, True])
def test_a_bad_feature_matching_value_is_refused(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="'feature_matching' must be"):
        TrainConfig(feature_matching=value)


def test_cyclegan_refuses_feature_matching() -> None:
    config = TrainConfig(algorithm="cyclegan", loss="least_squares", batch_size=4,
                         feature_matching="conv2d_1")
    with pytest.raises(InvalidArgumentError, match="feature_matching must be None"):
        make_trainer(cyclegan(SMALL.shape, base_filters=4, depth=2),
                     (SMALL, inverted(SMALL)), config, backend="torch")


def test_the_cli_and_the_toml_file_set_feature_matching(tmp_path: Path) -> None:
    args = _parser().parse_args(["train", "--feature-matching", NODE])
    assert _train_settings(args)["train"] == {"feature_matching": NODE}
    toml = tmp_path / "run.toml"
    toml.write_text(f'[train]\nfeature_matching = "{NODE}"\n')
    settings = _train_settings(_parser().parse_args(["train", "--config", str(toml)]))
    assert TrainConfig.from_dict(settings["train"]).feature_matching == NODE
    assert "feature_matching" not in _train_settings(_parser().parse_args(["train"]))["train"]
