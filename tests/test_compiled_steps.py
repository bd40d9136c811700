"""Compiled training steps (torch.compile; tf.function with XLA) compute what the default
steps compute: the same weights after the same seeded steps, the second derivatives of the
gradient penalty and the R1 penalty included."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import FRAMEWORKS, load_backend

from gancore.architectures import dcgan, mlp, pacgan_mlp
from gancore.data import Dataset, load_mixture
from gancore.training import OptimizerConfig, TrainConfig, make_trainer

RING = load_mixture("ring", n=512, seed=0)
# SGD: an update linear in the gradient, so float32 rounding stays float32-sized (Adam's
# m / sqrt(v) turns a zero-ish gradient's rounding noise into a full step of either sign).
SGD = OptimizerConfig("sgd", lr=0.05)
CONFIGS = {
    "nonsaturating": TrainConfig(batch_size=32, seed=3, generator_optimizer=SGD,
                                 critic_optimizer=SGD),
    "wgan-gp": TrainConfig(batch_size=32, seed=3, loss="wasserstein", gradient_penalty=10.0,
                           generator_optimizer=SGD, critic_optimizer=SGD),
    "r1": TrainConfig(batch_size=32, seed=3, r1_penalty=1.0, generator_optimizer=SGD,
                      critic_optimizer=SGD),
    "reuse-fakes": TrainConfig(batch_size=32, seed=3, reuse_fakes=True,
                               generator_optimizer=SGD, critic_optimizer=SGD),
}


def _state(trainer: Any) -> dict[str, np.ndarray]:
    """Both networks' weights, by network and name."""
    return {f"{side}/{k}": v
            for side, net in (("generator", trainer.G), ("critic", trainer.D))
            for k, v in net.get_state().items()}


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_a_compiled_step_computes_what_the_default_step_computes(framework: str,
                                                                 case: str) -> None:
    load_backend(framework)
    states, initial = {}, {}
    for compiled in (False, True):
        trainer = make_trainer(mlp((2,), hidden=(32, 32), batch_norm=True), RING,
                               CONFIGS[case], backend=framework, compile=compiled)
        initial[compiled] = _state(trainer)
        metrics = trainer.fit(3)
        assert all(np.isfinite(v) for v in metrics.values())
        states[compiled] = _state(trainer)
    assert states[True].keys() == states[False].keys() == initial[False].keys()
    for name, eager in states[False].items():
        np.testing.assert_array_equal(initial[True][name], initial[False][name])
        np.testing.assert_allclose(states[True][name], eager, rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    # Both generator and critic were trained: the comparison is not of untouched weights.
    for side in ("generator/", "critic/"):
        assert any(not np.array_equal(v, initial[False][k])
                   for k, v in states[False].items() if k.startswith(side))


IMAGES = Dataset(name="random", images=np.random.default_rng(5).uniform(
    -1, 1, (32, 28, 28, 1)).astype(np.float32))


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", ["nonsaturating", "r1"])
def test_a_compiled_convolutional_step_computes_what_the_default_step_computes(
        framework: str, case: str) -> None:
    """The DCGAN 28x28: convolutions and transposed convolutions whose padding the default
    TensorFlow step computes on mirrored inputs (XLA pads explicitly), batch norm in both
    networks (XLA's first-order form, the exact one under R1's second derivative). One
    step: after it the weights agree to float32 rounding; in later steps R1's second
    derivative moves where a rounding difference puts an activation on the other side of a
    LeakyReLU's kink, and the runs drift apart as two float32 orders of summation do."""
    load_backend(framework)
    _assert_compiled_steps_agree(dcgan((28, 28, 1), latent_dim=16), IMAGES,
                                 attrs.evolve(CONFIGS[case], batch_size=8), framework, 1)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", ["nonsaturating", "r1", "reuse-fakes"])
def test_a_compiled_maxout_critic_step_computes_what_the_default_step_computes(
        framework: str, case: str) -> None:
    """PacGAN's maxout critic, whose maxouts torch's compiled steps run outside the compiled
    graph on the CPU (Inductor's kernel for them is slower than eager's): the same weights
    after the same steps, R1's second derivative through the maxouts included."""
    load_backend(framework)
    _assert_compiled_steps_agree(pacgan_mlp((2,), hidden=(32, 16), layers=(2, 2)), RING,
                                 CONFIGS[case], framework, 3)


def _assert_compiled_steps_agree(arch: Any, data: Dataset, config: TrainConfig,
                                 framework: str, steps: int) -> None:
    """`steps` default and `steps` compiled steps from the same seed end at the same
    weights, to float32 rounding."""
    states = {}
    for compiled in (False, True):
        trainer = make_trainer(arch, data, config, backend=framework, compile=compiled)
        trainer.fit(steps)
        states[compiled] = _state(trainer)
    for name, eager in states[False].items():
        np.testing.assert_allclose(states[True][name], eager, rtol=1e-4, atol=1e-6,
                                   err_msg=name)
