"""`pacgan_mlp(minibatch_discrimination=B)`: minibatch discrimination (Salimans et al. 2016)
in the 2-D mixtures' critic. Where the layer sits, its parameters and the pair's name, a
score that depends on the rest of the batch, argument checks, the same scores on every
backend, and two training steps that move the layer's kernel alike on torch and
TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import ALL_FRAMEWORKS, FRAMEWORKS, load_backend
from test_training import RING, SGD, STEP_TOL

from gancore import InvalidArgumentError
from gancore.architectures import pacgan_mlp
from gancore.nn import (
    Dense,
    Maxout,
    MinibatchDiscrimination,
    forward_numpy,
    init_state,
    parameter_shapes,
)
from gancore.training import TrainConfig, make_trainer

SMALL = {"hidden": (8, 4), "layers": (1, 2), "pieces": 3}


def _state(spec, seed: int = 0) -> dict[str, np.ndarray]:
    """`init_state` with the projection scaled up, so that exp(-L1) spreads over (0, 1]
    instead of sitting at 1 for every pair (N(0, 0.02) projections of small features)."""
    state = dict(init_state(spec, seed))
    state["minibatch_discrimination_1.kernel"] = 40.0 * state["minibatch_discrimination_1.kernel"]
    return state


def test_the_layer_sits_between_the_last_maxout_and_the_head() -> None:
    pair = pacgan_mlp((2,), **SMALL, minibatch_discrimination=6, minibatch_dims=2)
    assert [type(n.layer) for n in pair.critic.nodes] == [
        Dense, Maxout, Dense, Maxout, MinibatchDiscrimination, Dense]
    layer = pair.critic.nodes[4].layer
    assert (layer.kernels, layer.dims) == (6, 2)
    shapes = parameter_shapes(pair.critic)
    assert shapes["minibatch_discrimination_1.kernel"] == (4, 6, 2)
    assert shapes["dense_3.kernel"] == (4 + 6, 1)  # the head sees the features and the B
    assert pair.name == ("pacgan_mlp-2-hidden_8x4-layers_1x2-pieces_3-"
                         "minibatch_discrimination_6-minibatch_dims_2")
    plain = pacgan_mlp((2,), **SMALL)
    assert pair.generator.nodes == plain.generator.nodes  # the generator is untouched
    assert pacgan_mlp((2,), **SMALL, minibatch_discrimination=100).name.endswith(
        "minibatch_discrimination_100")  # 5 dimensions by default, as in Salimans et al.'s code
    assert not any(isinstance(n.layer, MinibatchDiscrimination) for n in plain.critic.nodes)


def test_a_score_depends_on_the_rest_of_the_batch_only_with_the_layer() -> None:
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(6, 2)).astype(np.float32)
    other = batch.copy()
    other[1:] = rng.normal(size=(5, 2))  # sample 0 kept, the others replaced
    with_layer = pacgan_mlp((2,), **SMALL, minibatch_discrimination=3).critic
    state = _state(with_layer)
    first, second = (forward_numpy(with_layer, state, b)[0] for b in (batch, other))
    assert abs(float(first[0] - second[0])) > 1e-4
    # A batch of copies of one sample scores every copy alike, and otherwise than the
    # same sample among varied ones: the signal a collapsed generator's batch gives.
    copies = forward_numpy(with_layer, state, np.repeat(batch[:1], 6, axis=0))
    np.testing.assert_allclose(copies, copies[:1].repeat(6, axis=0), rtol=1e-6)
    assert abs(float(copies[0, 0] - first[0])) > 1e-4
    plain = pacgan_mlp((2,), **SMALL).critic
    plain_state = init_state(plain, 0)
    np.testing.assert_array_equal(forward_numpy(plain, plain_state, batch)[0],
                                  forward_numpy(plain, plain_state, other)[0])


def test_bad_minibatch_options_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match=r"pacgan_mlp minibatch_discrimination must "
                                                   r"be an int >= 0; received -1"):
        pacgan_mlp((2,), minibatch_discrimination=-1)
    with pytest.raises(InvalidArgumentError, match=r"minibatch_dims must be an int >= 1; "
                                                   r"received 0"):
        pacgan_mlp((2,), minibatch_discrimination=4, minibatch_dims=0)
    with pytest.raises(InvalidArgumentError, match=r"minibatch_dims needs "
                                                   r"minibatch_discrimination >= 1.*received "
                                                   r"minibatch_dims=3"):
        pacgan_mlp((2,), minibatch_dims=3)


@pytest.mark.parametrize("name", ALL_FRAMEWORKS)
def test_the_critic_scores_alike_on_every_backend(name: str) -> None:
    backend = load_backend(name)
    spec = pacgan_mlp((2,), **SMALL, minibatch_discrimination=5, minibatch_dims=3,
                      packing=2).critic
    state = _state(spec, 3)
    x = np.random.default_rng(3).normal(size=(7, 4)).astype(np.float32)
    net = backend.build_network(spec, state, "cpu")
    got = backend.to_numpy(net(backend.to_native(x, "cpu"), training=True))
    np.testing.assert_allclose(got, forward_numpy(spec, state, x), rtol=1e-4, atol=1e-5)


def test_two_training_steps_move_the_layer_alike_on_torch_and_tensorflow() -> None:
    for name in FRAMEWORKS:
        load_backend(name)
    config = TrainConfig(steps=2, batch_size=16, log_every=1, generator_optimizer=SGD,
                         critic_optimizer=SGD)
    kernel = "minibatch_discrimination_1.kernel"
    states = []
    for name in FRAMEWORKS:
        pair = pacgan_mlp((2,), **SMALL, minibatch_discrimination=4, minibatch_dims=3)
        trainer = make_trainer(pair, RING, config, backend=name)
        start = trainer.networks()["critic"].get_state()[kernel]
        trainer.fit(progress=False)
        assert trainer.step == 2
        state = trainer.networks()["critic"].get_state()
        assert np.abs(state[kernel] - start).max() > 1e-6  # the critic trains the layer
        states.append(state)
    for param, value in states[0].items():
        np.testing.assert_allclose(states[1][param], value, err_msg=param, **STEP_TOL)
