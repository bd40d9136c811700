"""PacGAN's 2-D mixture networks (Lin et al. 2018; fjxmlzn/PacGAN) in the plain JAX loop.

The networks of `torch_pacgan` as pure JAX functions of parameter dicts: generator
[Dense 400 (no bias) -> BatchNorm (PyTorch's momentum 0.05, eps 1e-4) -> ReLU] x 4 ->
Dense 2; critic [Dense 1000 -> maxout of 5] x 3 -> Dense 1. Non-saturating loss, Adam 1e-4
beta1 0.8, batch 100, in `jax_dcgan`'s jitted loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gancore.bench.baselines.jax_dcgan import (
    GANLoop,
    Network,
    Tree,
    batch_norm,
    norm_params,
    norm_stats,
    weight,
)

LATENT_DIM = 2


def _dense(key: jax.Array, fan_in: int, units: int, bias: bool = True) -> Tree:
    params = {"w": weight(key, (fan_in, units), fan_in)}
    if bias:
        params["b"] = jnp.zeros(units)
    return params


def generator(dim: int = 2, hidden: int = 400, layers: int = 4) -> Network:
    """Noise -> a point."""

    def init(key: jax.Array) -> tuple[Tree, Tree]:
        k = jax.random.split(key, layers + 1)
        widths = [LATENT_DIM, *[hidden] * layers]
        params: Tree = {f"dense{i}": _dense(k[i], widths[i], hidden, bias=False)
                        for i in range(layers)}
        params.update({f"bn{i}": norm_params(hidden) for i in range(layers)})
        params["out"] = _dense(k[layers], hidden, dim)
        return params, {f"bn{i}": norm_stats(hidden) for i in range(layers)}

    def apply(p: Tree, s: Tree, z: jax.Array, training: bool) -> tuple[jax.Array, Tree]:
        x, new = z, {}
        for i in range(layers):
            # PyTorch's momentum 0.05 on the new value is 0.95 on the old one.
            x, new[f"bn{i}"] = batch_norm(x @ p[f"dense{i}"]["w"], p[f"bn{i}"], s[f"bn{i}"],
                                          training, momentum=0.95, eps=1e-4)
            x = jax.nn.relu(x)
        return x @ p["out"]["w"] + p["out"]["b"], new

    return Network(init, apply)


def critic(dim: int = 2, hidden: int = 200, layers: int = 3, pieces: int = 5) -> Network:
    """A point -> one logit."""

    def init(key: jax.Array) -> tuple[Tree, Tree]:
        k = jax.random.split(key, layers + 1)
        widths = [dim, *[hidden] * layers]
        params = {f"dense{i}": _dense(k[i], widths[i], hidden * pieces) for i in range(layers)}
        params["out"] = _dense(k[layers], hidden, 1)
        return params, {}

    def apply(p: Tree, s: Tree, x: jax.Array, training: bool) -> tuple[jax.Array, Tree]:
        for i in range(layers):
            y = x @ p[f"dense{i}"]["w"] + p[f"dense{i}"]["b"]
            x = jnp.max(y.reshape(y.shape[0], hidden, pieces), axis=-1)  # maxout
        return x @ p["out"]["w"] + p["out"]["b"], s

    return Network(init, apply)


def mixture_loop(points: np.ndarray, batch_size: int = 100, seed: int = 0
                 ) -> GANLoop:
    """The non-saturating GAN loop on `points` of shape (N, 2)."""
    return GANLoop(generator(points.shape[1]), critic(points.shape[1]),
                   np.ascontiguousarray(points, dtype=np.float32), batch_size, LATENT_DIM,
                   lr=1e-4, beta1=0.8, seed=seed)
