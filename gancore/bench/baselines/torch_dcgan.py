"""The DCGAN of "GANs in Action" chapter 4 and its WGAN-GP variant, as a plain PyTorch loop.

Generator: Dense 256*7*7 -> ConvTranspose 128 (14x14) -> BatchNorm -> LeakyReLU 0.01 ->
ConvTranspose 64 -> BatchNorm -> LeakyReLU 0.01 -> ConvTranspose 1 (28x28) -> tanh.
Critic: Conv 32/64/128 stride 2 with LeakyReLU 0.01 (BatchNorm after the second and third;
for WGAN-GP a layer norm there instead, since a gradient penalty needs per-sample
independence), Dense 1 on logits. BCEWithLogits (or the Wasserstein loss + gradient penalty
10), Adam 2e-4 beta1 0.5, batch 64; the loop as the PyTorch DCGAN example writes it.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn

LATENT_DIM = 100


def generator(latent_dim: int = LATENT_DIM, channels: int = 1) -> nn.Sequential:
    """z -> a 28x28 image in [-1, 1] (NCHW). No bias before a BatchNorm: it cancels it."""
    return nn.Sequential(
        nn.Linear(latent_dim, 256 * 7 * 7),
        nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(128),
        nn.LeakyReLU(0.01),
        nn.ConvTranspose2d(128, 64, 3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(64),
        nn.LeakyReLU(0.01),
        nn.ConvTranspose2d(64, channels, 3, stride=2, padding=1, output_padding=1),
        nn.Tanh(),
    )


def critic(channels: int = 1, layer_norm: bool = False) -> nn.Sequential:
    """A 28x28 image -> one logit. `layer_norm` swaps the BatchNorms for a layer norm over
    (C, H, W) with a per-channel scale and shift (WGAN-GP)."""

    def norm(c: int) -> nn.Module:
        return nn.GroupNorm(1, c) if layer_norm else nn.BatchNorm2d(c)

    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, stride=2, padding=1),
        nn.LeakyReLU(0.01),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=layer_norm),
        norm(64),
        nn.LeakyReLU(0.01),
        nn.Conv2d(64, 128, 3, stride=2, padding=1, bias=layer_norm),
        norm(128),
        nn.LeakyReLU(0.01),
        nn.Flatten(),
        nn.Linear(128 * 4 * 4, 1),
    )


class GANLoop:
    """One iteration as the PyTorch DCGAN example (pytorch/examples, dcgan/main.py) writes
    it: the critic's backward pass on the real batch, then on the fakes, its optimizer
    step, then the generator's step on the *same* fakes (the example reuses them: one
    generator forward pass per iteration). The Wasserstein loss with a gradient penalty
    (`gradient_penalty > 0`) follows the WGAN-GP reference code instead: one critic loss,
    new noise for the generator step.

    `data` is the training set as a float32 numpy array in the networks' layout (NCHW
    images or points); batches are indexed from it as a tensor, noise is drawn by torch.
    The optimizers are torch's defaults for the device (on the CPU, the per-parameter
    Adam).

    `compiled=True` is the loop a user writes after the PyTorch tutorials' advice,
    ``model = torch.compile(model)``: both networks run through `torch.compile`, the loop
    around them unchanged. AOT autograd cannot differentiate twice, so the gradient
    penalty's critic pass on the interpolates runs the uncompiled module (the same
    parameters).
    """

    def __init__(self, G: nn.Module, D: nn.Module, data: np.ndarray, batch_size: int,
                 latent_dim: int, lr: float = 2e-4, beta1: float = 0.5,
                 gradient_penalty: float = 0.0, seed: int = 0, compiled: bool = False) -> None:
        torch.manual_seed(seed)
        self.D_eager = D
        if compiled:  # an OptimizedModule, a Module in all but its annotation
            G, D = cast(nn.Module, torch.compile(G)), cast(nn.Module, torch.compile(D))
        self.G, self.D = G, D
        self.data = torch.from_numpy(np.array(data, np.float32))
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.gp_weight = gradient_penalty
        self.opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999))
        self.opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999))
        self.bce = nn.BCEWithLogitsLoss()
        self.real_label = torch.ones(batch_size, 1)
        self.fake_label = torch.zeros(batch_size, 1)

    def noise(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.latent_dim)

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """mean((||grad D(x_hat)|| - 1)^2), x_hat between real and fake (Gulrajani 2017)."""
        eps = torch.rand(len(real), *[1] * (real.dim() - 1))
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D_eager(x_hat).sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    def real_batch(self) -> torch.Tensor:
        return self.data[torch.randint(0, len(self.data), (self.batch_size,))]

    def nonsaturating_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        real = self.real_batch()
        self.D.zero_grad()
        d_real = self.bce(self.D(real), self.real_label)
        d_real.backward()
        fake = self.G(self.noise())
        d_fake = self.bce(self.D(fake.detach()), self.fake_label)
        d_fake.backward()
        self.opt_d.step()
        self.G.zero_grad()
        g_loss = self.bce(self.D(fake), self.real_label)
        g_loss.backward()
        self.opt_g.step()
        return d_real + d_fake, g_loss

    def wgan_gp_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        real = self.real_batch()
        self.D.zero_grad()
        with torch.no_grad():
            fake = self.G(self.noise())
        d_loss = self.D(fake).mean() - self.D(real).mean()
        d_loss = d_loss + self.gp_weight * self.gradient_penalty(real, fake)
        d_loss.backward()
        self.opt_d.step()
        self.G.zero_grad()
        g_loss = -self.D(self.G(self.noise())).mean()
        g_loss.backward()
        self.opt_g.step()
        return d_loss, g_loss

    def train(self, steps: int) -> tuple[float, float]:
        """`steps` iterations; the last critic and generator losses."""
        step = self.wgan_gp_step if self.gp_weight else self.nonsaturating_step
        for _ in range(steps):
            d_loss, g_loss = step()
        return d_loss.item(), g_loss.item()


def _nchw(images: np.ndarray) -> np.ndarray:
    # A PyTorch user's dataset is NCHW already: the conversion happens once, at load time.
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)


def dcgan_loop(images: np.ndarray, batch_size: int = 64, seed: int = 0,
               compiled: bool = False) -> GANLoop:
    """The DCGAN loop on NHWC `images` in [-1, 1] (`compiled`: through `torch.compile`)."""
    channels = images.shape[-1]
    return GANLoop(generator(channels=channels), critic(channels), _nchw(images), batch_size,
                   LATENT_DIM, seed=seed, compiled=compiled)


def wgan_gp_loop(images: np.ndarray, batch_size: int = 64, seed: int = 0,
                 compiled: bool = False) -> GANLoop:
    """The WGAN-GP loop (layer-normalised critic, penalty 10, one critic step)."""
    channels = images.shape[-1]
    return GANLoop(generator(channels=channels), critic(channels, layer_norm=True),
                   _nchw(images), batch_size, LATENT_DIM, gradient_penalty=10.0, seed=seed,
                   compiled=compiled)
