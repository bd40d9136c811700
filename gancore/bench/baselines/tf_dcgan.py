"""The DCGAN of "GANs in Action" chapter 4 and its WGAN-GP variant, as a plain TensorFlow
loop: Keras layers, each step a `tf.function` with a `tf.GradientTape` and a Keras Adam
(or, with `eager=True`, the same steps run op by op, as before a user adds `tf.function`).

The networks are those of `torch_dcgan` (NHWC, Keras "same" padding); batch norms take
PyTorch's momentum and epsilon so that both frameworks compute the same thing.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers

LATENT_DIM = 100


def _batch_norm() -> layers.Layer:
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)


def generator(latent_dim: int = LATENT_DIM, channels: int = 1) -> keras.Sequential:
    """z -> a 28x28 image in [-1, 1] (NHWC). No bias before a BatchNorm: it cancels it."""
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(256 * 7 * 7),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 3, strides=2, padding="same", use_bias=False),
        _batch_norm(),
        layers.LeakyReLU(0.01),
        layers.Conv2DTranspose(64, 3, strides=1, padding="same", use_bias=False),
        _batch_norm(),
        layers.LeakyReLU(0.01),
        layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="tanh"),
    ])


def critic(channels: int = 1, layer_norm: bool = False) -> keras.Sequential:
    """A 28x28 image -> one logit. `layer_norm` swaps the BatchNorms for a layer norm over
    (H, W, C) with a per-channel scale and shift (WGAN-GP)."""

    def norm() -> layers.Layer:
        return layers.GroupNormalization(groups=1, epsilon=1e-5) if layer_norm else _batch_norm()

    return keras.Sequential([
        keras.Input((28, 28, channels)),
        layers.Conv2D(32, 3, strides=2, padding="same"),
        layers.LeakyReLU(0.01),
        layers.Conv2D(64, 3, strides=2, padding="same", use_bias=layer_norm),
        norm(),
        layers.LeakyReLU(0.01),
        layers.Conv2D(128, 3, strides=2, padding="same", use_bias=layer_norm),
        norm(),
        layers.LeakyReLU(0.01),
        layers.Flatten(),
        layers.Dense(1),
    ])


class GANLoop:
    """One iteration: a critic step, then a generator step (non-saturating loss, or the
    Wasserstein loss with a gradient penalty when `gradient_penalty > 0`), each one
    `tf.function` unless `eager`, and with `jit_compile` ``tf.function(jit_compile=True)``
    (XLA, as TensorFlow's XLA guide shows it).

    `data` is the training set as a float32 numpy array (NHWC images or points); every
    batch is indexed from it, like the noise drawn in numpy.
    """

    def __init__(self, G: keras.Model, D: keras.Model, data: np.ndarray, batch_size: int,
                 latent_dim: int, lr: float = 2e-4, beta1: float = 0.5,
                 gradient_penalty: float = 0.0, seed: int = 0, eager: bool = False,
                 jit_compile: bool = False) -> None:
        tf.random.set_seed(seed)
        self.G, self.D = G, D
        self.data = data
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.gp_weight = gradient_penalty
        self.opt_g = keras.optimizers.Adam(lr, beta_1=beta1)
        self.opt_d = keras.optimizers.Adam(lr, beta_1=beta1)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.rng = np.random.default_rng(seed)
        compiled = ((lambda step: step) if eager
                    else functools.partial(tf.function, jit_compile=True) if jit_compile
                    else tf.function)
        self.critic_update = compiled(self.critic_step)
        self.generator_update = compiled(self.generator_step)

    def noise(self) -> np.ndarray:
        return self.rng.standard_normal((self.batch_size, self.latent_dim)).astype(np.float32)

    def gradient_penalty(self, real: tf.Tensor, fake: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
        """mean((||grad D(x_hat)|| - 1)^2), x_hat between real and fake (Gulrajani 2017)."""
        eps = tf.reshape(eps, [-1] + [1] * (len(real.shape) - 1))
        x_hat = eps * real + (1.0 - eps) * fake
        with tf.GradientTape() as tape:
            tape.watch(x_hat)
            scores = self.D(x_hat, training=True)
        grad = tape.gradient(scores, x_hat)
        axes = list(range(1, len(real.shape)))
        norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=axes) + 1e-12)
        return tf.reduce_mean((norm - 1.0) ** 2)

    def critic_step(self, real: tf.Tensor, z: tf.Tensor, eps: tf.Tensor | None = None
                    ) -> tf.Tensor:
        fake = self.G(z, training=True)
        with tf.GradientTape() as tape:
            d_real = self.D(real, training=True)
            d_fake = self.D(fake, training=True)
            if self.gp_weight:
                loss = tf.reduce_mean(d_fake) - tf.reduce_mean(d_real)
                loss += self.gp_weight * self.gradient_penalty(real, fake, eps)
            else:
                loss = self.bce(tf.ones_like(d_real), d_real) + self.bce(
                    tf.zeros_like(d_fake), d_fake
                )
        grads = tape.gradient(loss, self.D.trainable_variables)
        self.opt_d.apply_gradients(zip(grads, self.D.trainable_variables, strict=True))
        return loss

    def generator_step(self, z: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            d_fake = self.D(self.G(z, training=True), training=True)
            if self.gp_weight:
                loss = -tf.reduce_mean(d_fake)
            else:
                loss = self.bce(tf.ones_like(d_fake), d_fake)
        grads = tape.gradient(loss, self.G.trainable_variables)
        self.opt_g.apply_gradients(zip(grads, self.G.trainable_variables, strict=True))
        return loss

    def train(self, steps: int) -> tuple[float, float]:
        """`steps` iterations; the last critic and generator losses."""
        for _ in range(steps):
            idx = self.rng.integers(0, len(self.data), self.batch_size)
            eps = self.rng.random(self.batch_size).astype(np.float32) if self.gp_weight else None
            d_loss = self.critic_update(self.data[idx], self.noise(), eps)
            g_loss = self.generator_update(self.noise())
        return float(d_loss), float(g_loss)


def dcgan_loop(images: np.ndarray, batch_size: int = 64, seed: int = 0, eager: bool = False,
               jit_compile: bool = False) -> GANLoop:
    """The DCGAN loop on NHWC `images` in [-1, 1]."""
    channels = images.shape[-1]
    return GANLoop(generator(channels=channels), critic(channels), images, batch_size,
                   LATENT_DIM, seed=seed, eager=eager, jit_compile=jit_compile)


def wgan_gp_loop(images: np.ndarray, batch_size: int = 64, seed: int = 0, eager: bool = False,
                 jit_compile: bool = False) -> GANLoop:
    """The WGAN-GP loop (layer-normalised critic, penalty 10, one critic step)."""
    channels = images.shape[-1]
    return GANLoop(generator(channels=channels), critic(channels, layer_norm=True), images,
                   batch_size, LATENT_DIM, gradient_penalty=10.0, seed=seed, eager=eager,
                   jit_compile=jit_compile)
