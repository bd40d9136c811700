"""PacGAN's 2-D mixture networks (Lin et al. 2018; fjxmlzn/PacGAN) in the plain TensorFlow loop.

The networks of `torch_pacgan` as Keras layers: generator [Dense 400 (no bias) ->
BatchNorm -> ReLU] x 4 -> Dense 2; critic [Dense 1000 -> maxout of 5] x 3 -> Dense 1.
Non-saturating loss, Adam 1e-4 beta1 0.8, batch 100.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gancore.bench.baselines.tf_dcgan import GANLoop

LATENT_DIM = 2


class Maxout(layers.Layer):
    """The max over `pieces` consecutive features (Goodfellow et al. 2013)."""

    def __init__(self, pieces: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.pieces = pieces

    def call(self, x: tf.Tensor) -> tf.Tensor:
        units = x.shape[-1] // self.pieces
        return tf.reduce_max(tf.reshape(x, [-1, units, self.pieces]), axis=-1)


def generator(dim: int = 2, hidden: int = 400, layers_: int = 4) -> keras.Sequential:
    """Noise -> a point."""
    body: list[layers.Layer] = [keras.Input((LATENT_DIM,))]
    for _ in range(layers_):
        # Keras' momentum weighs the old value: PyTorch's 0.05 is Keras' 0.95.
        body += [layers.Dense(hidden, use_bias=False),
                 layers.BatchNormalization(momentum=0.95, epsilon=1e-4), layers.ReLU()]
    return keras.Sequential([*body, layers.Dense(dim)])


def critic(dim: int = 2, hidden: int = 200, layers_: int = 3, pieces: int = 5
           ) -> keras.Sequential:
    """A point -> one logit."""
    body: list[layers.Layer] = [keras.Input((dim,))]
    for _ in range(layers_):
        body += [layers.Dense(hidden * pieces), Maxout(pieces)]
    return keras.Sequential([*body, layers.Dense(1)])


def mixture_loop(points: np.ndarray, batch_size: int = 100, seed: int = 0, eager: bool = False,
                 jit_compile: bool = False) -> GANLoop:
    """The non-saturating GAN loop on `points` of shape (N, 2)."""
    return GANLoop(generator(points.shape[1]), critic(points.shape[1]),
                   np.ascontiguousarray(points, dtype=np.float32), batch_size, LATENT_DIM,
                   lr=1e-4, beta1=0.8, seed=seed, eager=eager, jit_compile=jit_compile)
