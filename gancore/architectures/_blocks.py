"""Small graph-building helpers shared by the builders: chains of layers, inputs, and
TensorFlow's "same" padding written out explicitly."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from gancore.nn import BatchNorm, GraphBuilder, InstanceNorm, Layer, NetworkSpec

__all__ = [
    "chain",
    "critic_inputs",
    "drop_cancelled_biases",
    "generator_inputs",
    "same_padding",
    "same_pads",
]

Shape = tuple[int, ...]


def chain(g: GraphBuilder, x: str, layers: Iterable[Layer | None]) -> str:
    """Apply `layers` one after the other from node `x` (None entries are skipped, so an
    optional normalisation can sit in a layer list); returns the last node's name."""
    for layer in layers:
        if layer is not None:
            x = g.add(layer, x)
    return x


def same_padding(size: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's "same" for one axis of a convolution.

    The output has ceil(size / stride) positions; when the total padding is odd, TensorFlow
    puts the extra row at the end (bottom/right), which PyTorch's symmetric padding cannot
    express; hence explicit (top, bottom, left, right) tuples in the specs.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2


def same_pads(shape: Shape, kernel_size: int, stride: int) -> tuple[int, int, int, int]:
    """Conv2D padding (top, bottom, left, right) reproducing TensorFlow's "same" on an
    (h, w, c) input."""
    top, bottom = same_padding(shape[0], kernel_size, stride)
    left, right = same_padding(shape[1], kernel_size, stride)
    return top, bottom, left, right


def generator_inputs(g: GraphBuilder, latent_dim: int, conditional: bool) -> tuple[str, str | None]:
    """Declare `z` and, for a conditional generator, `labels`; returns their names."""
    z = g.input("z", (latent_dim,))
    return z, (g.input("labels", (), "int64") if conditional else None)


def critic_inputs(g: GraphBuilder, shape: Shape, conditional: bool) -> tuple[str, str | None]:
    """Declare `x` and, for a conditional critic, `labels`; returns their names."""
    x = g.input("x", shape)
    return x, (g.input("labels", (), "int64") if conditional else None)


def drop_cancelled_biases(spec: NetworkSpec) -> NetworkSpec:
    """The spec without the biases that a following BatchNorm or InstanceNorm cancels.

    The norm subtracts the (batch or per-sample) mean of each channel, so a bias feeding
    only norms changes no output and gets an exactly zero gradient; an optimizer like Adam
    would then move it by rounding noise. PyTorch's DCGAN example drops them too.
    """
    consumers: dict[str, list[Layer]] = {}
    for node in spec.nodes:
        for src in node.inputs:
            consumers.setdefault(src, []).append(node.layer)
    cancelled = {
        name for name, layers in consumers.items()
        if all(isinstance(layer, (BatchNorm, InstanceNorm)) for layer in layers)
    }
    nodes = tuple(
        attrs.evolve(node, layer=attrs.evolve(node.layer, use_bias=False))  # type: ignore[misc]
        if node.name in cancelled and getattr(node.layer, "use_bias", False) else node
        for node in spec.nodes
    )
    return attrs.evolve(spec, nodes=nodes)
