"""Floating-point work per training step, counted from the portable specs' shapes.

Counted: the multiply-adds of Dense, Conv2D and ConvTranspose2D layers (2 FLOPs each),
which are nearly all of a GAN's arithmetic; normalisation, activations and the optimizer
are left out, so the achieved rates are slight underestimates. A backward pass costs about
twice its forward pass (the gradients of the inputs and of the weights), so a forward pass
with gradient counts 3x; the gradient penalty's forward, input gradient and the backward
through both (double backward) count 9x the critic's forward pass.
"""

from __future__ import annotations

import math

from gancore.nn import Conv2D, ConvTranspose2D, Dense, NetworkSpec

#: Forward-pass multiples per step: (generator, critic) for each training workload.
#: GAN: critic step G (no grad) + D on real and fake with grad = 1 G + 6 D; generator step
#: G and D with grad = 3 G + 3 D. WGAN-GP adds the penalty, 9 D. CycleGAN: the generator
#: step runs 6 generator and 2 critic passes with grad (18 G + 6 D), the critic step 4
#: critic passes with grad (12 D).
PASSES: dict[str, tuple[int, int]] = {
    "dcgan": (4, 9),
    "wgan_gp": (4, 18),
    "cdcgan": (4, 9),
    "mixture": (4, 9),
    "cyclegan": (18, 18),
}


def forward_macs(spec: NetworkSpec) -> int:
    """Multiply-adds of one sample's forward pass through `spec`."""
    shapes = spec.shapes()
    total = 0
    for node in spec.nodes:
        layer = node.layer
        in_shape = shapes[node.inputs[0]]
        out_shape = shapes[node.name]
        if isinstance(layer, Dense):
            total += in_shape[-1] * layer.units
        elif isinstance(layer, Conv2D):
            # every output position sums kernel x kernel x input channels
            total += math.prod(out_shape) * layer.kernel_size**2 * in_shape[-1]
        elif isinstance(layer, ConvTranspose2D):
            # every input position scatters into kernel x kernel x output channels
            total += math.prod(in_shape) * layer.kernel_size**2 * layer.filters
    return total


def step_flops(workload: str, generator: NetworkSpec, critic: NetworkSpec, batch: int,
               reuse_fakes: bool = False) -> float:
    """FLOPs of one training step of `workload` at `batch` samples.

    With `reuse_fakes` the generator step trains on the critic step's fakes: the fakes'
    forward pass (kept with its graph) and the generator's backward pass remain, the second
    forward pass is gone, one generator pass fewer. A step that does less work is credited
    with less, so reusing fakes shows as a shorter step, not as a higher ceiling share.
    """
    g_passes, d_passes = PASSES[workload]
    if reuse_fakes:
        g_passes -= 1
    per_sample = g_passes * forward_macs(generator) + d_passes * forward_macs(critic)
    return 2.0 * per_sample * batch
