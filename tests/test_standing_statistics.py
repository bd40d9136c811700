"""Standing statistics: a generator's BatchNorm buffers recomputed for its current weights,
and the EMA generator sampled with its own statistics (not the live generator's)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from _helpers import load_backend

from gancore import InvalidArgumentError
from gancore.architectures import dcgan, pacgan_mlp
from gancore.data import load_digits, load_mixture
from gancore.nn import (
    Activation,
    BatchNorm,
    Dense,
    Reshape,
    buffer_names,
    forward_numpy,
    init_state,
    sequential,
)
from gancore.training import TrainConfig, load_checkpoint, make_trainer, standing_statistics
from gancore.training._sampling import NumpyNetwork, make_noise

LATENT = 3


def _mlp(momentum: float = 0.1) -> Any:
    spec = sequential("g", (LATENT,), [
        Dense(6), BatchNorm(momentum=momentum), Activation("relu"),
        Dense(5), BatchNorm(), Activation("relu"), Dense(2),
    ])
    return SimpleNamespace(generator=spec, latent_dim=LATENT, kind="gan", num_classes=None)


def _state(spec: Any, seed: int = 1) -> dict[str, np.ndarray]:
    """Initial weights with running statistics far from any batch's."""
    state = init_state(spec, seed)
    for name in buffer_names(spec):
        state[name] = np.full_like(state[name], 7.0)
    return state


def _reference(spec: Any, state: dict[str, np.ndarray], z: np.ndarray
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each BatchNorm input's mean and unbiased variance over the whole batch `z`, walking a
    Dense / BatchNorm / ReLU chain in float64, normalising with the batch's statistics."""
    x, stats = z.astype(np.float64), {}
    for node in spec.nodes:
        p = {k.split(".", 1)[1]: v.astype(np.float64) for k, v in state.items()
             if k.startswith(node.name + ".")}
        if isinstance(node.layer, Dense):
            x = x @ p["kernel"] + p["bias"]
        elif isinstance(node.layer, BatchNorm):
            stats[node.name] = (x.mean(0), x.var(0, ddof=1))
            x = (x - x.mean(0)) / np.sqrt(x.var(0) + node.layer.eps) * p["gamma"] + p["beta"]
        else:
            x = np.maximum(x, 0.0)
    return stats


def _network(backend_name: str, spec: Any, state: dict[str, np.ndarray]) -> tuple[Any, Any]:
    if backend_name == "numpy":
        return None, NumpyNetwork(spec, state)
    b = load_backend(backend_name)
    return b, b.build_network(spec, state)


@pytest.mark.parametrize("name", ["numpy", "torch", "tensorflow"])
def test_one_batch_gives_the_batch_statistics_of_every_layer(name: str) -> None:
    arch = _mlp()
    state = _state(arch.generator)
    backend, net = _network(name, arch.generator, state)
    new = standing_statistics(backend, net, arch, n=300, batch_size=512, seed=5)
    expected = _reference(arch.generator, state, make_noise(300, LATENT, 5))
    assert sorted(new) == sorted(buffer_names(arch.generator))
    after = net.get_state()
    for layer, (mean, var) in expected.items():
        np.testing.assert_allclose(new[f"{layer}.running_mean"], mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(new[f"{layer}.running_var"], var, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(after[f"{layer}.running_var"], new[f"{layer}.running_var"])
    for k in state:  # the weights are left as they were
        if k not in new:
            np.testing.assert_array_equal(after[k], state[k])


@pytest.mark.parametrize("name", ["numpy", "torch", "tensorflow"])
def test_batches_pool_into_the_statistics_of_all_samples(name: str) -> None:
    """The first BatchNorm's input does not depend on the batch: pooled over uneven batches
    (97 = 4 x 20 + 17), its statistics are those of all 97 samples at once."""
    arch = _mlp()
    state = _state(arch.generator)
    backend, net = _network(name, arch.generator, state)
    new = standing_statistics(backend, net, arch, n=97, batch_size=20, seed=2)
    first = arch.generator.nodes[1].name
    mean, var = _reference(arch.generator, state, make_noise(97, LATENT, 2))[first]
    np.testing.assert_allclose(new[f"{first}.running_mean"], mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new[f"{first}.running_var"], var, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["numpy", "torch", "tensorflow"])
def test_statistics_of_image_channels_pool_over_positions(name: str) -> None:
    spec = sequential("g", (LATENT,), [Dense(12), Reshape((2, 2, 3)), BatchNorm()])
    arch = SimpleNamespace(generator=spec, latent_dim=LATENT, kind="gan", num_classes=None)
    state = _state(spec)
    backend, net = _network(name, spec, state)
    new = standing_statistics(backend, net, arch, n=40, batch_size=16, seed=0)
    z = make_noise(40, LATENT, 0).astype(np.float64)
    dense = spec.nodes[0].name
    maps = (z @ state[f"{dense}.kernel"] + state[f"{dense}.bias"]).reshape(-1, 3)
    bn = spec.nodes[2].name
    np.testing.assert_allclose(new[f"{bn}.running_mean"], maps.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new[f"{bn}.running_var"], maps.var(0, ddof=1), rtol=1e-4,
                               atol=1e-5)


def test_a_layer_with_momentum_zero_keeps_its_statistics() -> None:
    arch = _mlp(momentum=0.0)
    state = _state(arch.generator)
    net = NumpyNetwork(arch.generator, state)
    new = standing_statistics(None, net, arch, n=50, batch_size=50)
    frozen = arch.generator.nodes[1].name
    assert not any(k.startswith(frozen + ".") for k in new)
    np.testing.assert_array_equal(net.get_state()[f"{frozen}.running_mean"],
                                  state[f"{frozen}.running_mean"])
    assert new  # the other BatchNorm layer was recomputed


def test_conditional_generator_gets_the_same_statistics_on_every_backend() -> None:
    """Labels cycle through the classes as in sampling; torch, TensorFlow and the numpy
    reference agree on a conditional DCGAN generator (images: statistics over positions)."""
    arch = dcgan((8, 8, 1), latent_dim=4, num_classes=3)
    state = _state(arch.generator)
    results = {}
    for name in ("numpy", "torch", "tensorflow"):
        backend, net = _network(name, arch.generator, state)
        results[name] = standing_statistics(backend, net, arch, n=48, batch_size=16, seed=3)
    assert results["numpy"]
    for name in ("torch", "tensorflow"):
        for k, v in results["numpy"].items():
            np.testing.assert_allclose(results[name][k], v, rtol=2e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("arg", [{"n": 1}, {"batch_size": 1}, {"n": 2.5}, {"batch_size": True}])
def test_bad_sizes_are_named(arg: dict[str, Any]) -> None:
    arch = _mlp()
    net = NumpyNetwork(arch.generator, _state(arch.generator))
    (name,) = arg
    with pytest.raises(InvalidArgumentError, match=f"{name} must be an int >= 2; received"):
        standing_statistics(None, net, arch, **arg)


def test_ema_generator_samples_with_its_own_standing_statistics(backend: Any) -> None:
    """The EMA copy's buffers are the standing statistics of its averaged weights (as the
    numpy reference computes them), are not the live generator's, and are recomputed after
    the weights move; its samples are its inference forward pass with them."""
    ring = load_mixture("ring", n=512, seed=0)
    arch = pacgan_mlp((2,), hidden=16)
    trainer = make_trainer(arch, ring, TrainConfig(batch_size=16, steps=3, ema_decay=0.5),
                           backend=backend.name)
    trainer.fit()
    ema = trainer.sampling_generator().get_state()
    reference = NumpyNetwork(arch.generator, ema)
    expected = standing_statistics(None, reference, arch, seed=trainer._seeds[7])
    live = trainer.G.get_state()
    for k, v in expected.items():
        np.testing.assert_allclose(ema[k], v, rtol=2e-4, atol=1e-5, err_msg=k)
        assert not np.allclose(ema[k], live[k], rtol=1e-2), k
    noise = make_noise(8, arch.latent_dim, 4)
    np.testing.assert_allclose(trainer.sample(8, noise=noise),
                               forward_numpy(arch.generator, ema, noise), rtol=1e-4, atol=1e-5)
    trainer.fit(1)
    moved = trainer.networks()["generator_ema"].get_state()
    assert any(not np.array_equal(moved[k], ema[k]) for k in expected)


def test_ema_statistics_survive_a_checkpoint(backend: Any, tmp_path: Any) -> None:
    digits = load_digits().subset(np.arange(64))
    arch = dcgan(digits.shape, latent_dim=8)
    config = TrainConfig(batch_size=8, steps=2, ema_decay=0.9)
    trainer = make_trainer(arch, digits, config, backend=backend.name)
    trainer.fit()
    before = trainer.sample(4, seed=1)
    trainer.save(tmp_path / "ckpt")
    again = make_trainer(arch, digits, config, backend=backend.name)
    again.load_state(load_checkpoint(tmp_path / "ckpt").arrays)
    np.testing.assert_allclose(again.sample(4, seed=1), before, rtol=1e-5, atol=1e-6)
