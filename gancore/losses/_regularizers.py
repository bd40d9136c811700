"""Regularizers of the critic: the gradient penalty of WGAN-GP, the R1 penalty and weight
clipping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore._ops import ArrayOps
from gancore.losses._common import (
    backend_ops,
    check_positive,
    check_reduction,
    check_same_shape,
    check_scores,
    numpy_generator,
    per_sample,
    reduce,
    weighted,
)

__all__ = ["clip_weights", "gradient_penalty", "r1_penalty"]

Array = Any

# Inside the square root so that the norm's gradient stays finite where the critic's
# input gradient is exactly zero.
_NORM_EPS = 1e-12


def _interpolation_weights(
    ops: ArrayOps, real: Array, shape: tuple[int | None, ...], eps: Any, rng: Any
) -> Array:
    """One eps ~ U(0, 1) per sample, shaped to broadcast over the sample's axes."""
    if eps is not None:
        eps_shape = tuple(ops.shape(eps)) if ops.is_array(eps) else np.shape(eps)
        if tuple(eps_shape) not in {(shape[0],), tuple(shape)} and shape[0] is not None:
            raise InvalidArgumentError(
                f"eps must have shape ({shape[0]},), one value per sample; received {eps_shape}"
            )
        eps_arr = ops.asarray(eps, like=real)
    elif rng is None or ops.is_array(rng) or type(rng).__module__.partition(".")[0] in {
        "torch", "tensorflow"
    }:
        # A native generator (or the framework's global one) draws on the device, which
        # also works inside compiled steps.
        eps_arr = ops.uniform((shape[0],), like=real, generator=rng)  # type: ignore[arg-type]
    else:
        if shape[0] is None:
            raise InvalidArgumentError(
                "a numpy rng needs a known batch size; inside a compiled step pass eps= "
                "(drawn per step) or a native generator instead"
            )
        draws = numpy_generator(rng).random(int(shape[0]))
        eps_arr = ops.asarray(draws, like=real)
    if len(ops.shape(eps_arr)) == 1:
        eps_arr = ops.reshape(eps_arr, (-1,) + (1,) * (len(shape) - 1))
    return eps_arr


def _check_critic(critic: Any) -> None:
    if not callable(critic):
        raise InvalidArgumentError(
            f"critic must be callable (x -> scores); received {type(critic).__name__}"
        )


def _squared_input_gradient(ops: ArrayOps, critic: Callable[..., Array], x: Array,
                            labels: Any) -> tuple[Array, Array]:
    """The critic's scores at `x` and, per sample, the squared L2 norm over all non-batch
    axes of the input gradient of their sum (`x` is a constant here: the penalties train only
    the critic)."""

    def scores(v: Array) -> Array:
        return critic(v) if labels is None else critic(v, labels)

    out, grad = ops.input_gradient(scores, ops.stop_gradient(x))
    axes = tuple(range(1, len(ops.shape(grad))))
    return out, (ops.sum(grad * grad, axis=axes) if axes else grad * grad)


def gradient_penalty(
    critic: Callable[..., Array],
    real: Array,
    fake: Array,
    weight: float = 10.0,
    *,
    labels: Any = None,
    eps: Any = None,
    rng: Any = None,
    one_sided: bool = False,
    sample_weights: Any = None,
    reduction: str = "mean",
) -> Array:
    """The WGAN-GP penalty: ``weight * mean((||grad D(x_hat)||_2 - 1)^2)``.

    Gulrajani et al., "Improved Training of Wasserstein GANs", 2017:
    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U(0, 1)`` per sample, the L2
    norm per sample over all non-batch axes of the gradient of the critic's summed output
    (a patch map is summed per sample), ``weight = 10``. ``one_sided=True`` penalises only
    norms above 1: ``max(0, ||g|| - 1)^2`` (Petzka et al. 2018).

    ``eps``: explicit interpolation weights of shape ``(batch,)``. Otherwise drawn from
    ``rng``: an int seed or numpy Generator (the same draws on every backend), a native
    generator (``torch.Generator``, ``tf.random.Generator``), or None for the framework's
    global generator. ``labels`` are passed to a conditional critic as ``critic(x, labels)``.

    The penalty is differentiable with respect to the critic's parameters (second-order
    autodiff), so it trains the critic inside a step on every backend. The numpy reference
    computes the input gradient by finite differences (a test oracle, not for training).
    """
    _check_critic(critic)
    ops = backend_ops(real=real, fake=fake)
    check_reduction(reduction)
    weight = check_positive("weight", weight)
    real_shape = check_scores(ops, "real", real)
    fake_shape = check_scores(ops, "fake", fake)
    check_same_shape("real", real_shape, "fake", fake_shape, " (they are interpolated)")
    alpha = _interpolation_weights(ops, real, real_shape, eps, rng)
    x_hat = alpha * real + (1.0 - alpha) * fake
    _, squared = _squared_input_gradient(ops, critic, x_hat, labels)
    norm = ops.sqrt(squared + _NORM_EPS)
    gap = ops.relu(norm - 1.0) if one_sided else norm - 1.0
    w = per_sample(ops, "sample_weights", sample_weights, real, (real_shape[0],))
    return weight * reduce(ops, weighted(gap * gap, w), reduction)


def r1_penalty(
    critic: Callable[..., Array],
    real: Array,
    weight: float = 10.0,
    *,
    labels: Any = None,
    sample_weights: Any = None,
    reduction: str = "mean",
    return_scores: bool = False,
) -> Array | tuple[Array, Array]:
    """The R1 penalty: ``weight / 2 * mean(||grad D(x)||_2^2)`` on real samples ``x``.

    Mescheder, Geiger and Nowozin, "Which Training Methods for GANs do actually Converge?",
    ICML 2018: a zero-centred penalty on the critic's input gradient at the data, which makes
    the non-saturating GAN converge locally where plain gradient descent circles around the
    equilibrium. ``weight`` is the paper's gamma. The squared L2 norm is taken per sample over
    all non-batch axes of the gradient of the critic's summed output (a patch map is summed
    per sample); ``labels`` are passed to a conditional critic as ``critic(x, labels)``.

    Differentiable with respect to the critic's parameters (second-order autodiff) on every
    backend; the numpy reference uses finite differences (a test oracle, not for training).

    ``return_scores=True`` returns ``(penalty, scores)``: the critic's scores at ``real``
    from the same forward pass, differentiable with respect to the critic's parameters, so
    that a training step's loss on the real batch needs no second pass of the critic.
    """
    _check_critic(critic)
    ops = backend_ops(real=real)
    check_reduction(reduction)
    weight = check_positive("weight", weight)
    real_shape = check_scores(ops, "real", real)
    scores, squared = _squared_input_gradient(ops, critic, real, labels)
    w = per_sample(ops, "sample_weights", sample_weights, real, (real_shape[0],))
    penalty = (0.5 * weight) * reduce(ops, weighted(squared, w), reduction)
    return (penalty, scores) if return_scores else penalty


def clip_weights(params: Any, c: float = 0.01) -> None:
    """Clip every parameter to ``[-c, c]`` in place: the original WGAN's Lipschitz constraint
    (Arjovsky et al. 2017, ``c = 0.01``).

    ``params``: a sequence of native parameters (torch Parameters, tf.Variables, numpy
    arrays) or a network with ``trainable_parameters()``.
    """
    c = check_positive("c", c, allow_zero=False)
    if hasattr(params, "trainable_parameters"):
        params = params.trainable_parameters()
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)):
        params = list(params) if hasattr(params, "__iter__") else params
    if not isinstance(params, Sequence) or len(params) == 0:
        raise InvalidArgumentError(
            f"params must be a non-empty sequence of parameters or a network; received {params!r}"
        )
    ops = backend_ops(**{f"params[{i}]": p for i, p in enumerate(params)})
    ops.clip_(params, -c, c)
