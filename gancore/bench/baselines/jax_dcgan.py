"""The DCGAN of "GANs in Action" chapter 4 and its WGAN-GP variant, as a plain JAX loop.

The networks of `torch_dcgan`, written the way a JAX user writes them without a layer
library: parameters in dicts, each network an `init(key)` and a pure
`apply(params, stats, x, training) -> (y, stats)` (batch-norm running statistics are the
`stats`, as Flax's ``batch_stats`` collection), convolutions through `jax.lax` in NHWC, a
hand-written Adam over the parameter trees (optax's arithmetic), and one `jax.jit` train
step that makes the critic update and the generator update. The batch is indexed from a
numpy array on the host; noise and the penalty's mixing weights are drawn with
`jax.random` inside the step, from a key the step splits and returns.

Generator: Dense 256*7*7 -> ConvTranspose 128 (14x14) -> BatchNorm -> LeakyReLU 0.01 ->
ConvTranspose 64 -> BatchNorm -> LeakyReLU 0.01 -> ConvTranspose 1 (28x28) -> tanh.
Critic: Conv 32/64/128 stride 2 with LeakyReLU 0.01 (BatchNorm after the second and third;
for WGAN-GP a layer norm there instead), Dense 1 on logits. Non-saturating loss (or the
Wasserstein loss + gradient penalty 10), Adam 2e-4 beta1 0.5, batch 64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

LATENT_DIM = 100
Tree = dict[str, Any]


class Network(NamedTuple):
    """`init(key) -> (params, stats)` and `apply(params, stats, x, training) -> (y, stats)`."""

    init: Callable[[jax.Array], tuple[Tree, Tree]]
    apply: Callable[[Tree, Tree, jax.Array, bool], tuple[jax.Array, Tree]]


def weight(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    """PyTorch's default initialisation: uniform in +-1/sqrt(fan_in)."""
    return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0) / math.sqrt(fan_in)


def _conv(x: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    return jax.lax.conv_general_dilated(x, w, (stride, stride), [(1, 1), (1, 1)],
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_transpose(x: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    # PyTorch's padding 1 (and output_padding 1 at stride 2) for a 3x3 kernel.
    pad = [(1, 1 + (stride - 1))] * 2
    return jax.lax.conv_transpose(x, w, (stride, stride), pad,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def batch_norm(x: jax.Array, p: Tree, s: Tree, training: bool, momentum: float = 0.9,
               eps: float = 1e-5) -> tuple[jax.Array, Tree]:
    """Batch normalisation over every axis but the last; `s` holds the running statistics
    (`momentum` weighs the old value, as in Flax)."""
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = jnp.mean(x, axes), jnp.var(x, axes)
        s = {"mean": momentum * s["mean"] + (1 - momentum) * mean,
             "var": momentum * s["var"] + (1 - momentum) * var}
    else:
        mean, var = s["mean"], s["var"]
    return (x - mean) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"], s


def _layer_norm(x: jax.Array, p: Tree) -> jax.Array:
    axes = tuple(range(1, x.ndim))
    mean = jnp.mean(x, axes, keepdims=True)
    var = jnp.var(x, axes, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + 1e-5) * p["scale"] + p["bias"]


def norm_params(c: int) -> Tree:
    """A normalisation's per-channel scale and shift."""
    return {"scale": jnp.ones(c), "bias": jnp.zeros(c)}


def norm_stats(c: int) -> Tree:
    """A batch norm's running mean and variance."""
    return {"mean": jnp.zeros(c), "var": jnp.ones(c)}


def generator(latent_dim: int = LATENT_DIM, channels: int = 1) -> Network:
    """z -> a 28x28 image in [-1, 1] (NHWC). No bias before a BatchNorm: it cancels it."""

    def init(key: jax.Array) -> tuple[Tree, Tree]:
        k = jax.random.split(key, 4)
        params = {"dense": {"w": weight(k[0], (latent_dim, 7 * 7 * 256), latent_dim),
                            "b": jnp.zeros(7 * 7 * 256)},
                  "up1": weight(k[1], (3, 3, 256, 128), 9 * 256),
                  "bn1": norm_params(128),
                  "up2": weight(k[2], (3, 3, 128, 64), 9 * 128),
                  "bn2": norm_params(64),
                  "out": {"w": weight(k[3], (3, 3, 64, channels), 9 * 64),
                          "b": jnp.zeros(channels)}}
        return params, {"bn1": norm_stats(128), "bn2": norm_stats(64)}

    def apply(p: Tree, s: Tree, z: jax.Array, training: bool) -> tuple[jax.Array, Tree]:
        x = (z @ p["dense"]["w"] + p["dense"]["b"]).reshape(-1, 7, 7, 256)
        x, bn1 = batch_norm(_conv_transpose(x, p["up1"], 2), p["bn1"], s["bn1"], training)
        x = jax.nn.leaky_relu(x, 0.01)
        x, bn2 = batch_norm(_conv_transpose(x, p["up2"], 1), p["bn2"], s["bn2"], training)
        x = jax.nn.leaky_relu(x, 0.01)
        x = _conv_transpose(x, p["out"]["w"], 2) + p["out"]["b"]
        return jnp.tanh(x), {"bn1": bn1, "bn2": bn2}

    return Network(init, apply)


def critic(channels: int = 1, layer_norm: bool = False) -> Network:
    """A 28x28 image -> one logit. `layer_norm` swaps the BatchNorms for a layer norm over
    (H, W, C) with a per-channel scale and shift (WGAN-GP)."""
    widths = (channels, 32, 64, 128)

    def init(key: jax.Array) -> tuple[Tree, Tree]:
        k = jax.random.split(key, 4)
        params: Tree = {f"conv{i}": {"w": weight(k[i], (3, 3, widths[i], widths[i + 1]),
                                                  9 * widths[i])} for i in range(3)}
        params["conv0"]["b"] = jnp.zeros(32)
        for i in (1, 2):
            params[f"norm{i}"] = norm_params(widths[i + 1])
            if layer_norm:
                params[f"conv{i}"]["b"] = jnp.zeros(widths[i + 1])
        params["dense"] = {"w": weight(k[3], (4 * 4 * 128, 1), 4 * 4 * 128),
                           "b": jnp.zeros(1)}
        stats = {} if layer_norm else {f"norm{i}": norm_stats(widths[i + 1]) for i in (1, 2)}
        return params, stats

    def apply(p: Tree, s: Tree, x: jax.Array, training: bool) -> tuple[jax.Array, Tree]:
        x = jax.nn.leaky_relu(_conv(x, p["conv0"]["w"], 2) + p["conv0"]["b"], 0.01)
        new: Tree = {}
        for i in (1, 2):
            x = _conv(x, p[f"conv{i}"]["w"], 2)
            if layer_norm:
                x = _layer_norm(x + p[f"conv{i}"]["b"], p[f"norm{i}"])
            else:
                x, new[f"norm{i}"] = batch_norm(x, p[f"norm{i}"], s[f"norm{i}"], training)
            x = jax.nn.leaky_relu(x, 0.01)
        x = x.reshape(x.shape[0], -1)
        return x @ p["dense"]["w"] + p["dense"]["b"], new

    return Network(init, apply)


class Adam(NamedTuple):
    """Adam over parameter trees (Kingma & Ba 2015), as optax.adam computes it."""

    lr: float
    b1: float
    b2: float = 0.999
    eps: float = 1e-8

    def init(self, params: Tree) -> Tree:
        def zeros() -> Tree:
            return jax.tree_util.tree_map(jnp.zeros_like, params)

        return {"t": jnp.zeros((), jnp.int32), "m": zeros(), "v": zeros()}

    def update(self, grads: Tree, state: Tree, params: Tree) -> tuple[Tree, Tree]:
        tmap = jax.tree_util.tree_map
        t = state["t"] + 1
        m = tmap(lambda m, g: self.b1 * m + (1 - self.b1) * g, state["m"], grads)
        v = tmap(lambda v, g: self.b2 * v + (1 - self.b2) * g * g, state["v"], grads)
        c1, c2 = 1 - self.b1 ** t, 1 - self.b2 ** t
        params = tmap(lambda p, m, v: p - self.lr * (m / c1) / (jnp.sqrt(v / c2) + self.eps),
                      params, m, v)
        return params, {"t": t, "m": m, "v": v}


def _bce_with_logits(logits: jax.Array, target: float) -> jax.Array:
    # log(1 + exp(-|x|)) form: finite for any logit
    return jnp.mean(jnp.maximum(logits, 0) - logits * target
                    + jnp.log1p(jnp.exp(-jnp.abs(logits))))


class GANLoop:
    """One iteration per `jax.jit` call: a critic step on a real batch and fakes from new
    noise (no gradient into the generator), then a generator step on new noise; the
    non-saturating loss, or the Wasserstein loss with a gradient penalty when
    `gradient_penalty > 0`.

    `data` is the training set as a float32 numpy array (NHWC images or points); every
    batch is indexed from it on the host.
    """

    def __init__(self, G: Network, D: Network, data: np.ndarray, batch_size: int,
                 latent_dim: int, lr: float = 2e-4, beta1: float = 0.5,
                 gradient_penalty: float = 0.0, seed: int = 0) -> None:
        self.G, self.D = G, D
        self.data = data
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.gp_weight = gradient_penalty
        self.opt_g, self.opt_d = Adam(lr, beta1), Adam(lr, beta1)
        self.rng = np.random.default_rng(seed)
        key, kg, kd = jax.random.split(jax.random.PRNGKey(seed), 3)
        g, gs = G.init(kg)
        d, ds = D.init(kd)
        self.state = {"g": g, "gs": gs, "d": d, "ds": ds, "opt_g": self.opt_g.init(g),
                      "opt_d": self.opt_d.init(d), "key": key}
        self.step = jax.jit(self.train_step, donate_argnums=0)

    def critic_loss(self, d: Tree, ds: Tree, real: jax.Array, fake: jax.Array, eps: jax.Array
                    ) -> tuple[jax.Array, Tree]:
        d_real, ds = self.D.apply(d, ds, real, True)
        d_fake, ds = self.D.apply(d, ds, fake, True)
        if not self.gp_weight:
            return _bce_with_logits(d_real, 1.0) + _bce_with_logits(d_fake, 0.0), ds
        x_hat = eps * real + (1 - eps) * fake
        grad = jax.grad(lambda x: jnp.sum(self.D.apply(d, ds, x, True)[0]))(x_hat)
        norm = jnp.sqrt(jnp.sum(grad ** 2, axis=tuple(range(1, grad.ndim))) + 1e-12)
        penalty = jnp.mean((norm - 1.0) ** 2)
        return jnp.mean(d_fake) - jnp.mean(d_real) + self.gp_weight * penalty, ds

    def generator_loss(self, g: Tree, gs: Tree, d: Tree, ds: Tree, z: jax.Array
                       ) -> tuple[jax.Array, tuple[Tree, Tree]]:
        fake, gs = self.G.apply(g, gs, z, True)
        scores, ds = self.D.apply(d, ds, fake, True)
        loss = -jnp.mean(scores) if self.gp_weight else _bce_with_logits(scores, 1.0)
        return loss, (gs, ds)

    def train_step(self, state: Tree, real: jax.Array) -> tuple[Tree, jax.Array, jax.Array]:
        """The critic's and the generator's updates; the new state and both losses."""
        key, k_z, k_eps, k_z2 = jax.random.split(state["key"], 4)
        n = real.shape[0]
        z = jax.random.normal(k_z, (n, self.latent_dim))
        fake, gs = self.G.apply(state["g"], state["gs"], z, True)
        eps = jax.random.uniform(k_eps, (n,) + (1,) * (real.ndim - 1))
        (d_loss, ds), grads = jax.value_and_grad(self.critic_loss, has_aux=True)(
            state["d"], state["ds"], real, jax.lax.stop_gradient(fake), eps)
        d, opt_d = self.opt_d.update(grads, state["opt_d"], state["d"])
        z2 = jax.random.normal(k_z2, (n, self.latent_dim))
        (g_loss, (gs, ds)), grads = jax.value_and_grad(self.generator_loss, has_aux=True)(
            state["g"], gs, d, ds, z2)
        g, opt_g = self.opt_g.update(grads, state["opt_g"], state["g"])
        new = {"g": g, "gs": gs, "d": d, "ds": ds, "opt_g": opt_g, "opt_d": opt_d, "key": key}
        return new, d_loss, g_loss

    def train(self, steps: int) -> tuple[float, float]:
        """`steps` iterations; the last critic and generator losses."""
        for _ in range(steps):
            idx = self.rng.integers(0, len(self.data), self.batch_size)
            self.state, d_loss, g_loss = self.step(self.state, self.data[idx])
        return float(d_loss), float(g_loss)


def dcgan_loop(images: np.ndarray, batch_size: int = 64, seed: int = 0
               ) -> GANLoop:
    """The DCGAN loop on NHWC `images` in [-1, 1]."""
    channels = images.shape[-1]
    return GANLoop(generator(channels=channels), critic(channels), images, batch_size,
                   LATENT_DIM, seed=seed)


def wgan_gp_loop(images: np.ndarray, batch_size: int = 64, seed: int = 0
                 ) -> GANLoop:
    """The WGAN-GP loop (layer-normalised critic, penalty 10, one critic step)."""
    channels = images.shape[-1]
    return GANLoop(generator(channels=channels), critic(channels, layer_norm=True), images,
                   batch_size, LATENT_DIM, gradient_penalty=10.0, seed=seed)
