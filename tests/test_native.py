"""A user's own networks on every backend: torch modules, Keras 3 models and JAX functions as
`NativeArchitecture`s, conditional and with an EMA generator, their checkpoints holding the
modules' own state (names and layouts) that the framework's own loader reads back."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import ALL_FRAMEWORKS, load_backend

from gancore import InvalidArgumentError
from gancore.architectures import NativeArchitecture
from gancore.data import Dataset
from gancore.training import TrainConfig, make_trainer
from gancore.training._checkpoint import load_checkpoint

LATENT, HIDDEN, CLASSES, SHAPE = 3, 5, 3, (2,)
NAME = "native-test"


def _torch_pair(num_classes: int | None, device: Any = "cpu") -> tuple[Any, Any]:
    import torch
    from torch import nn

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(num_classes or 1, 2)
            self.body = nn.Sequential(nn.Linear(LATENT + (2 if num_classes else 0), HIDDEN),
                                      nn.BatchNorm1d(HIDDEN), nn.ReLU(),
                                      nn.Linear(HIDDEN, 2))

        def forward(self, z: Any, labels: Any = None) -> Any:
            h = z if labels is None else torch.cat([z, self.embed(labels)], 1)
            return self.body(h)

    class Critic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(num_classes or 1, 2)
            self.body = nn.Sequential(nn.Linear(2 + (2 if num_classes else 0), HIDDEN),
                                      nn.LeakyReLU(0.2), nn.Linear(HIDDEN, 1))

        def forward(self, x: Any, labels: Any = None) -> Any:
            h = x if labels is None else torch.cat([x, self.embed(labels)], 1)
            return self.body(h)

    return Generator().to(device), Critic().to(device)


def _keras_pair(num_classes: int | None, device: Any = "/CPU:0") -> tuple[Any, Any]:
    import keras

    def net(width: int, out: int, norm: bool) -> Any:
        x = keras.Input((width,))
        inputs, h = [x], x
        if num_classes:
            labels = keras.Input((), dtype="int64")
            inputs.append(labels)
            h = keras.layers.Concatenate()([x, keras.layers.Embedding(num_classes, 2)(labels)])
        h = keras.layers.Dense(HIDDEN)(h)
        if norm:
            h = keras.layers.BatchNormalization()(h)
        h = keras.layers.Dense(out)(keras.layers.LeakyReLU(0.2)(h))
        return keras.Model(inputs if num_classes else x, h)

    import tensorflow as tf

    with tf.device(device):
        return net(LATENT, 2, True), net(2, 1, False)


def _jax_pair(num_classes: int | None, device: Any = None) -> tuple[Any, Any]:
    import jax
    import jax.numpy as jnp

    def init(key: Any, width: int, out: int) -> dict[str, Any]:
        k = jax.random.split(key, 3)
        extra = 2 if num_classes else 0
        return {"embed": 0.5 * jax.random.normal(k[0], (num_classes or 1, 2)),
                "hidden": {"w": jax.random.normal(k[1], (width + extra, HIDDEN)) / 2,
                           "b": jnp.zeros(HIDDEN)},
                "out": [jax.random.normal(k[2], (HIDDEN, out)) / 2, jnp.zeros(out)]}

    def apply(params: Any, x: Any, labels: Any = None, *, training: bool) -> Any:
        if labels is not None:
            x = jnp.concatenate([x, params["embed"][labels]], axis=1)
        h = jax.nn.leaky_relu(x @ params["hidden"]["w"] + params["hidden"]["b"], 0.2)
        return h @ params["out"][0] + params["out"][1]

    keys = jax.random.split(jax.random.PRNGKey(0))
    return ((apply, jax.device_put(init(keys[0], LATENT, 2), device)),
            (apply, jax.device_put(init(keys[1], 2, 1), device)))


PAIRS = {"torch": _torch_pair, "tensorflow": _keras_pair, "jax": _jax_pair}


def native_mlp(sample_shape: Any, *, latent_dim: int = LATENT,
               num_classes: int | None = None) -> NativeArchitecture:
    """A small native GAN of 2-D points on every framework (conditional with classes)."""
    return NativeArchitecture(
        name=NAME, sample_shape=sample_shape, latent_dim=latent_dim, num_classes=num_classes,
        builders={name: (lambda device, make=make: make(num_classes, device))
                  for name, make in PAIRS.items()})


@pytest.fixture(params=ALL_FRAMEWORKS, ids=lambda name: name)
def framework(request: pytest.FixtureRequest) -> Any:
    return load_backend(request.param)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """`native_mlp` under NAME, as a plugin is: checkpoints rebuild it by name."""
    from gancore.architectures import BUILTIN_ARCHITECTURES

    monkeypatch.setitem(BUILTIN_ARCHITECTURES, NAME, native_mlp)


def _data(labelled: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    points = rng.standard_normal((32, 2)).astype(np.float32)
    labels = (np.arange(32) % CLASSES).astype(np.int64) if labelled else None
    return Dataset(name="points", images=points, labels=labels)


def _config(**changes: Any) -> TrainConfig:
    return TrainConfig(**{"batch_size": 8, "steps": 2, "log_every": 1, "seed": 3, **changes})


def _trainer(backend: Any, num_classes: int | None = CLASSES, **changes: Any) -> Any:
    return make_trainer(native_mlp(SHAPE, num_classes=num_classes), _data(), _config(**changes),
                        backend=backend.name)


def _trainable(net: Any) -> dict[str, np.ndarray]:
    state = net.get_state()
    return {n: state[n].astype(np.float64) for n in net.trainable_names()}


def test_a_conditional_native_gan_trains_and_its_ema_averages_the_generator(
        framework: Any) -> None:
    trainer = _trainer(framework, ema_decay=0.5)
    assert trainer.architecture.kind == "conditional"
    assert trainer.G_ema is not trainer.G
    ema = _trainable(trainer.G)  # the copy starts as the generator
    np.testing.assert_array_equal(
        np.concatenate([v.ravel() for v in _trainable(trainer.G_ema).values()]),
        np.concatenate([v.ravel() for v in ema.values()]))
    before_critic = _trainable(trainer.D)
    for _ in range(2):
        metrics = trainer.train_step()
        live = _trainable(trainer.G)
        ema = {k: 0.5 * ema[k] + 0.5 * live[k] for k in ema}
    assert all(np.isfinite(float(np.asarray(v))) for v in trainer._to_floats(metrics).values())
    got = _trainable(trainer.networks()["generator_ema"])
    for key, want in ema.items():
        np.testing.assert_allclose(got[key], want, rtol=1e-5, atol=1e-6, err_msg=key)
        assert not np.array_equal(got[key], live[key]), key
    assert any(not np.array_equal(before_critic[k], v)
               for k, v in _trainable(trainer.D).items())
    # Labels reach the generator: two classes, one noise, different samples.
    noise = np.zeros((2, LATENT), np.float32)
    a, b = trainer.sample(2, labels=[0, 1], noise=noise)
    assert not np.allclose(a, b)


def test_native_buffers_of_the_ema_copy_are_the_generators(framework: Any) -> None:
    trainer = _trainer(framework, ema_decay=0.9)
    trainer.train_step()
    trained = set(trainer.G.trainable_names())
    live = trainer.G.get_state()
    buffers = {k: v for k, v in live.items() if k not in trained}
    if framework.name == "jax":
        assert not buffers  # a JAX function's params are all trained
    else:
        assert buffers  # BatchNorm's running statistics
    ema = trainer.sampling_generator().get_state()
    for key, value in buffers.items():
        np.testing.assert_array_equal(ema[key], value, err_msg=key)


def _own_names(backend: str, module: Any, tmp: Path) -> list[str]:
    """The framework's own names of a fresh module's state, computed here independently."""
    if backend == "torch":
        return list(module.state_dict())
    if backend == "tensorflow":
        import h5py

        path = tmp / "names.weights.h5"
        module.save_weights(path)
        names: list[str] = []
        with h5py.File(path) as f:
            f.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset)
                         else None)
        return names
    return _jax_paths(module[1])


def _jax_paths(params: Any) -> list[str]:
    """The ``/``-joined dict keys and list indices of each leaf, in JAX's flattening order."""
    import jax

    return ["/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
            for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


def _load_with_the_framework(backend: str, module: Any, arrays: dict[str, np.ndarray],
                             tmp: Path) -> Any:
    """`module` loaded with `arrays` by the framework's own loader; returns the module."""
    if backend == "torch":
        import torch

        module.load_state_dict({k: torch.as_tensor(v) for k, v in arrays.items()})
        return module.eval()
    if backend == "tensorflow":
        import h5py

        path = tmp / "from-checkpoint.weights.h5"
        with h5py.File(path, "w") as f:
            f.create_group("vars")
            for name, value in arrays.items():
                f.create_dataset(name, data=value)
        module.load_weights(path)
        return module
    import jax

    apply, params = module
    treedef = jax.tree_util.tree_structure(params)
    return apply, jax.tree_util.tree_unflatten(treedef, [arrays[n] for n in _jax_paths(params)])


def _forward(backend: str, module: Any, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if backend == "torch":
        import torch

        with torch.no_grad():
            return module(torch.as_tensor(z), torch.as_tensor(labels)).numpy()
    if backend == "tensorflow":
        return np.asarray(module([z, labels], training=False))
    apply, params = module
    return np.asarray(apply(params, z, labels.astype(np.int32), training=False))


def test_checkpoints_hold_the_modules_own_state_and_load_back(
        framework: Any, registered: None, tmp_path: Path) -> None:
    trainer = _trainer(framework, ema_decay=0.9)
    trainer.fit(progress=False)
    trainer.save(tmp_path / "checkpoint")
    ckpt = load_checkpoint(tmp_path / "checkpoint")
    assert sorted(ckpt.arrays) == ["critic", "generator", "generator_ema"]
    fresh_g, fresh_d = PAIRS[framework.name](CLASSES)
    for name, fresh in (("generator_ema", fresh_g), ("critic", fresh_d)):
        own = _own_names(framework.name, fresh, tmp_path)
        assert sorted(ckpt.arrays[name]) == sorted(own), name
    z = np.random.default_rng(1).standard_normal((4, LATENT)).astype(np.float32)
    labels = np.array([0, 1, 2, 1], np.int64)
    want = trainer.sample(4, labels=labels, noise=z)
    # Through gancore: Checkpoint.network, which rebuilds the module by name.
    net = ckpt.network("generator", framework.name)
    got = np.asarray(framework.to_numpy(net(framework.to_native(z), framework.to_native(labels),
                                            training=False)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ckpt.sample(4, backend=framework.name, labels=labels, seed=5),
                               trainer.sample(4, labels=labels, seed=5), rtol=1e-6, atol=1e-6)
    # Through the framework's own loader, into a fresh module.
    loaded = _load_with_the_framework(framework.name, fresh_g,
                                      dict(ckpt.arrays["generator_ema"]), tmp_path)
    np.testing.assert_allclose(_forward(framework.name, loaded, z, labels), want,
                               rtol=1e-6, atol=1e-6)


def test_a_conditional_native_run_with_ema_resumes_bit_for_bit(
        framework: Any, registered: None, tmp_path: Path) -> None:
    from test_resume import assert_resumes_bit_for_bit

    assert_resumes_bit_for_bit(lambda: _trainer(framework, ema_decay=0.9, steps=3), 1, tmp_path)


def test_native_architecture_options_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match=r"num_classes must be None .* received 1"):
        native_mlp(SHAPE, num_classes=1)
    assert native_mlp(SHAPE).kind == "gan"
    assert native_mlp(SHAPE, num_classes=CLASSES).kind == "conditional"


def test_a_conditional_native_architecture_needs_labelled_data(framework: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="needs labelled data with 3 classes"):
        make_trainer(native_mlp(SHAPE, num_classes=CLASSES), _data(labelled=False), _config(),
                     backend=framework.name)


@pytest.mark.parametrize("wrong", [object(), (1, 2), "model"])
def test_wrap_native_names_what_it_accepts(framework: Any, wrong: Any) -> None:
    accepts = {"torch": "torch.nn.Module", "tensorflow": "keras.Model",
               "jax": r"\(apply, params\) pairs"}[framework.name]
    with pytest.raises(InvalidArgumentError, match=accepts):
        framework.wrap_native(wrong)


def test_an_unconditional_native_gan_samples_alike_after_a_step(framework: Any) -> None:
    trainer = _trainer(framework, num_classes=None)
    assert trainer.architecture.kind == "gan"
    trainer.train_step()
    samples = trainer.sample(4, seed=0)
    assert samples.shape == (4, math.prod(SHAPE))
    np.testing.assert_array_equal(samples, trainer.sample(4, seed=0))


def _all_values(net: Any) -> np.ndarray:
    return np.concatenate([v.ravel() for v in _trainable(net).values()])


def test_a_native_critic_is_clipped_after_each_update(framework: Any) -> None:
    trainer = _trainer(framework, loss="wasserstein", clip_value=0.01)
    assert np.abs(_all_values(trainer.D)).max() > 0.01  # the framework's own initialisation
    trainer.train_step()
    values = _all_values(trainer.D)
    assert np.abs(values).max() <= 0.01 + 1e-7
    assert np.isclose(np.abs(values).max(), 0.01)


def test_a_native_critic_takes_the_gradient_penalty(framework: Any) -> None:
    with_penalty = _trainer(framework, loss="wasserstein", gradient_penalty=10.0)
    without = _trainer(framework, loss="wasserstein")
    np.testing.assert_array_equal(_all_values(with_penalty.D), _all_values(without.D))
    metrics = with_penalty._to_floats(with_penalty.train_step())
    without.train_step()
    assert metrics["gp"] > 0 and np.isfinite(metrics["gp"])
    assert not np.allclose(_all_values(with_penalty.D), _all_values(without.D))


def test_a_native_checkpoint_loads_on_its_own_backend_only(registered: None,
                                                           tmp_path: Path) -> None:
    from gancore import CheckpointError

    torch_backend, tf_backend = load_backend("torch"), load_backend("tensorflow")
    trainer = _trainer(torch_backend)
    trainer.train_step()
    trainer.save(tmp_path / "checkpoint")
    ckpt = load_checkpoint(tmp_path / "checkpoint")
    with pytest.raises(CheckpointError, match="on backend 'torch'; it loads there only, "
                                              "received backend 'tensorflow'"):
        ckpt.network("generator", "tensorflow")
    with pytest.raises(CheckpointError, match="received backend 'numpy'"):
        ckpt.sample(2)
    with pytest.raises(CheckpointError, match="the backend of a native architecture would "
                                              "change the run; the checkpoint has 'torch', "
                                              "received 'tensorflow'"):
        _trainer(tf_backend).restore(tmp_path / "checkpoint")


def test_native_networks_train_with_reused_fakes_and_r1(framework: Any) -> None:
    trainer = _trainer(framework, reuse_fakes=True, r1_penalty=1.0, ema_decay=0.9)
    generator, critic = _all_values(trainer.G), _all_values(trainer.D)
    metrics = trainer._to_floats(trainer.train_step())
    assert metrics["r1"] > 0 and all(np.isfinite(v) for v in metrics.values())
    assert not np.allclose(_all_values(trainer.G), generator)
    assert not np.allclose(_all_values(trainer.D), critic)
