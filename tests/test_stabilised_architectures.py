"""The architectures built on the stabilising layers: SNGAN's ResNet pair and the DCGAN's
self-attention, dropout, spectral-norm and minibatch-stddev options; their shapes,
parameter counts and checks, and training with them on every backend (one step the same
on both, a resume bit for bit with the power-iteration buffers in the checkpoint)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import FRAMEWORKS, load_backend
from test_resume import _assert_same, _everything
from test_training import SGD, SMALL, STEP_TOL

from gancore import InvalidArgumentError
from gancore.architectures import BUILTIN_ARCHITECTURES, dcgan, sngan
from gancore.nn import (
    Activation,
    Dropout,
    MinibatchStdDev,
    SelfAttention,
    SpectralConv2D,
    SpectralDense,
    forward_numpy,
    init_state,
    parameter_shapes,
    trainable_names,
)
from gancore.training import TrainConfig, make_trainer


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCORE_THREADS", "1")


def _count(spec: Any) -> int:
    shapes = parameter_shapes(spec)
    return sum(math.prod(shapes[n]) for n in trainable_names(spec))


# -- SNGAN -----------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [8, 16, 32, 64])
def test_sngan_shapes_and_forward(side: int) -> None:
    pair = sngan((side, side, 3), latent_dim=8, widths=(8, 4))
    assert pair.generator.output_shape == (side, side, 3)
    assert pair.critic.output_shape == (1,)
    rng = np.random.default_rng(0)
    images = forward_numpy(pair.generator, init_state(pair.generator, 0),
                           rng.normal(size=(2, 8)))
    assert images.shape == (2, side, side, 3) and np.all(np.abs(images) <= 1)
    scores = forward_numpy(pair.critic, init_state(pair.critic, 1), images)
    assert scores.shape == (2, 1) and np.all(np.isfinite(scores))
    assert BUILTIN_ARCHITECTURES["sngan"] is sngan


def test_sngan_cifar_parameter_counts_are_the_papers() -> None:
    # Miyato et al.'s CIFAR-10 ResNet: D 1.05M parameters, G 4.3M (hand-counted below).
    pair = sngan((32, 32, 3))
    conv3, conv1 = 128 * 128 * 9 + 128, 128 * 128 + 128
    critic = (3 * 9 * 128 + 128) + conv3 + (3 * 128 + 128) + 2 * conv3 + conv1 + 4 * conv3 + 129
    assert _count(pair.critic) == critic == 1_053_825
    # a conv feeding a BatchNorm has no bias (the norm cancels it)
    block = 512 + 256 * 256 * 9 + 512 + (256 * 256 * 9 + 256) + (256 * 256 + 256)
    generator = (128 * 4096 + 4096) + 3 * block + 512 + (256 * 9 * 3 + 3)
    assert _count(pair.generator) == generator
    spectral = [n.layer for n in pair.critic.nodes
                if isinstance(n.layer, (SpectralConv2D, SpectralDense))]
    assert len(spectral) == 11  # every convolution and the head
    plain = sngan((32, 32, 3), spectral_norm=False)
    assert not any(isinstance(n.layer, (SpectralConv2D, SpectralDense))
                   for n in plain.critic.nodes)
    assert _count(plain.critic) == critic
    assert plain.name == "sngan-32x32x3-spectral_norm_False"


@pytest.mark.parametrize(("call", "match"), [
    (lambda: sngan((28, 28, 1)), "side of 8x8, 16x16, 32x32, 64x64"),
    (lambda: sngan((32, 32, 3), num_classes=10), "num_classes must be None"),
    (lambda: sngan((32, 32, 3), widths=0), "widths must be an int >= 1"),
    (lambda: sngan((32, 32, 3), spectral_norm="yes"), "spectral_norm must be a bool"),
    (lambda: dcgan((8, 8, 1), dropout=1.0), r"dropout must be a number in \[0, 1\)"),
    (lambda: dcgan((8, 8, 1), input_dropout=-0.1), "input_dropout must be None or a number"),
    (lambda: dcgan((8, 8, 1), attention=1), "attention must be a bool"),
])
def test_bad_arguments_name_what_is_allowed(call: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        call()


# -- the DCGAN's options ---------------------------------------------------------------------


@pytest.mark.parametrize("side", [8, 28, 32, 64])
def test_dcgan_attention_sits_at_half_the_image_side(side: int) -> None:
    pair = dcgan((side, side, 1), attention=True)
    for spec in (pair.generator, pair.critic):
        shapes = spec.shapes()
        (node,) = [n for n in spec.nodes if isinstance(n.layer, SelfAttention)]
        assert shapes[node.name][:2] == (side // 2, side // 2), spec.name
    assert "attention_True" in pair.name
    plain = dcgan((side, side, 1))
    assert len(pair.critic.nodes) == len(plain.critic.nodes) + 1


def test_dcgan_dropout_spectral_norm_and_minibatch_stddev() -> None:
    plain = dcgan((28, 28, 1))
    pair = dcgan((28, 28, 1), dropout=0.3, input_dropout=0.1, spectral_norm=True,
                 minibatch_stddev=True)
    layers = [n.layer for n in pair.critic.nodes]
    assert layers[0] == Dropout(0.1)
    activations = [i for i, layer in enumerate(layers) if isinstance(layer, Activation)]
    assert len(activations) == 3
    assert all(layers[i + 1] == Dropout(0.3) for i in activations)
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, SpectralConv2D)]
    assert len(convs) == 3 and isinstance(layers[-1], SpectralDense)
    assert isinstance(layers[convs[-1] - 1], MinibatchStdDev)
    # the same convolutions, one more input channel for the last (the stddev channel)
    assert _count(pair.critic) == _count(plain.critic) + 3 * 3 * 128
    # the flowers critic's own input dropout: kept by default, replaced or removed
    assert dcgan((64, 64, 3)).critic.nodes[0].layer == Dropout(0.2)
    assert dcgan((64, 64, 3), input_dropout=0.4).critic.nodes[0].layer == Dropout(0.4)
    assert not isinstance(dcgan((64, 64, 3), input_dropout=0).critic.nodes[0].layer, Dropout)


# -- training with them ----------------------------------------------------------------------

CASES = {
    "sngan": (lambda: sngan(SMALL.shape, latent_dim=8, widths=(8, 4)),
              TrainConfig(batch_size=8, loss="hinge")),
    "dcgan-stabilised": (lambda: dcgan(SMALL.shape, latent_dim=8, attention=True,
                                       spectral_norm=True, minibatch_stddev=True, norm="none"),
                         TrainConfig(batch_size=8, gradient_penalty=1.0, loss="wasserstein")),
}


def _trainer(case: str, backend: str, **overrides: Any) -> Any:
    arch, config = CASES[case]
    config = attrs.evolve(config, **{"steps": 3, "log_every": 1, **overrides})
    return make_trainer(arch(), SMALL, config, backend=backend)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_training_step_is_the_same_on_torch_and_tensorflow(case: str) -> None:
    for name in FRAMEWORKS:
        load_backend(name)
    states = []
    for name in FRAMEWORKS:
        trainer = _trainer(case, name, steps=2, generator_optimizer=SGD, critic_optimizer=SGD)
        trainer.fit()
        states.append({n: net.get_state() for n, net in trainer.networks().items()})
    for net, state in states[0].items():
        for param, value in state.items():
            np.testing.assert_allclose(states[1][net][param], value, err_msg=f"{net}.{param}",
                                       **STEP_TOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_resume_is_bit_for_bit(backend: Any, case: str, tmp_path: Path) -> None:
    whole = _trainer(case, backend.name)
    whole.fit()
    want = _everything(whole)
    assert any(k.endswith(".u") for k in want[0])  # the power iteration's state is saved
    first = _trainer(case, backend.name)
    first.fit(1)
    first.save(tmp_path / "checkpoint")
    rest = _trainer(case, backend.name)
    rest.restore(tmp_path / "checkpoint")
    rest.fit()
    _assert_same(_everything(rest), want)
