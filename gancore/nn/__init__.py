"""Portable network architectures: a network described once, built natively by each backend.

A `NetworkSpec` is a small graph of portable layers. `init_state` draws its parameters in
numpy from one seed in a canonical layout (the checkpoint format); each backend's
`build_network(spec, state, device)` builds the network natively and loads them, so the
same spec and seed give the same outputs on every backend. `forward_numpy` is the
float64 reference they are tested against. Shapes are per sample, NHWC for images.
"""

from __future__ import annotations

from gancore.nn._init import (
    CanonicalLayouts,
    buffer_names,
    check_state,
    init_state,
    parameter_shapes,
    trainable_names,
)
from gancore.nn._layers import (
    Activation,
    Add,
    AvgPool2D,
    BatchNorm,
    CategoricalCode,
    Concat,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalSumPool,
    InstanceNorm,
    Layer,
    LayerNorm,
    Maxout,
    MinibatchDiscrimination,
    MinibatchStdDev,
    Reshape,
    SelfAttention,
    SpectralConv2D,
    SpectralDense,
    Upsample,
    layer_from_dict,
)
from gancore.nn._numpy_forward import forward_numpy, forward_numpy_training, node_index
from gancore.nn._spec import GraphBuilder, Input, NetworkSpec, Node, sequential

__all__ = [
    "Activation",
    "Add",
    "AvgPool2D",
    "BatchNorm",
    "CanonicalLayouts",
    "CategoricalCode",
    "Concat",
    "Conv2D",
    "ConvTranspose2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalSumPool",
    "GraphBuilder",
    "Input",
    "InstanceNorm",
    "Layer",
    "LayerNorm",
    "Maxout",
    "MinibatchDiscrimination",
    "MinibatchStdDev",
    "NetworkSpec",
    "Node",
    "Reshape",
    "SelfAttention",
    "SpectralConv2D",
    "SpectralDense",
    "Upsample",
    "buffer_names",
    "check_state",
    "forward_numpy",
    "forward_numpy_training",
    "init_state",
    "layer_from_dict",
    "node_index",
    "parameter_shapes",
    "sequential",
    "trainable_names",
]
