"""One small network per portable layer kind, for the conformance suite.

Known kinds have a hand-picked example (its inputs and options chosen to take the layer's
every path: asymmetric padding, output padding, rank-2 inputs). A kind added to
`gancore.nn` later joins on its own: its required integer fields are filled with 2 and
the example is the first input shape (an image, a sequence, features) its shape rule
accepts. Each example is the layer between a Dense or Conv2D that feeds it and nothing
after it, so its input gradient and its parameters both matter.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.nn import _layers as L
from gancore.nn._spec import GraphBuilder, NetworkSpec, sequential

__all__ = ["layer_example", "layer_inputs"]

_IMAGE, _SEQUENCE, _FEATURES = (6, 6, 4), (5, 4), (8,)


def _chain(kind: str, shape: tuple[int, ...], *layers: L.Layer) -> NetworkSpec:
    return sequential(f"conformance-{kind}", shape, layers)


def _graph(kind: str, arity: int) -> NetworkSpec:
    g = GraphBuilder(f"conformance-{kind}")
    x = g.input("x", _IMAGE)
    branches = [g.add(L.Conv2D(3, 3, padding=1), x) for _ in range(arity)]
    return g.build(g.add(L.LAYER_KINDS[kind](), *branches))


def _embedding() -> NetworkSpec:
    g = GraphBuilder("conformance-embedding")
    ids = g.input("labels", (3, 3), "int64")
    x = g.input("x", (3, 3, 2))
    return g.build(g.add(L.Concat(), x, g.add(L.Embedding(5, 3), ids)))


_KNOWN: dict[str, Any] = {
    "dense": lambda: _chain("dense", _FEATURES, L.Dense(5)),
    "reshape": lambda: _chain("reshape", _FEATURES, L.Dense(12), L.Reshape((2, 2, 3))),
    "flatten": lambda: _chain("flatten", _IMAGE, L.Conv2D(3, 3, padding=1), L.Flatten()),
    "conv2d": lambda: _chain("conv2d", _IMAGE, L.Conv2D(3, 3, stride=2,
                                                         padding=(1, 0, 2, 1))),
    "conv_transpose2d": lambda: _chain("conv_transpose2d", _IMAGE,
                                       L.ConvTranspose2D(3, 4, stride=2, padding=1,
                                                         output_padding=1)),
    "batch_norm": lambda: _chain("batch_norm", _IMAGE, L.Conv2D(3, 3, padding=1),
                                 L.BatchNorm(momentum=0.2)),
    "layer_norm": lambda: _chain("layer_norm", _SEQUENCE, L.LayerNorm()),
    "instance_norm": lambda: _chain("instance_norm", _IMAGE, L.InstanceNorm()),
    "activation": lambda: _chain("activation", _FEATURES, L.Dense(6),
                                 L.Activation("leaky_relu", negative_slope=0.2),
                                 L.Activation("sigmoid"), L.Activation("tanh"),
                                 L.Activation("relu")),
    "dropout": lambda: _chain("dropout", _FEATURES, L.Dense(6), L.Dropout(0.5)),
    "embedding": _embedding,
    "maxout": lambda: _chain("maxout", _FEATURES, L.Dense(6), L.Maxout(3)),
    "categorical_code": lambda: _chain("categorical_code", _FEATURES,
                                       L.CategoricalCode(3), L.Dense(4)),
    "upsample": lambda: _chain("upsample", (3, 3, 2), L.Upsample(2)),
    "concat": lambda: _graph("concat", 2),
    "add": lambda: _graph("add", 3),
}


def _filled(cls: type[L.Layer]) -> L.Layer:
    """The layer with its defaults, and 2 for each required field."""
    required = {f.name: 2 for f in attrs.fields(cls)  # type: ignore[arg-type]
                if f.default is attrs.NOTHING}
    return cls(**required)


def layer_example(kind: str) -> NetworkSpec:
    """A small network around one layer of `kind` (any of `gancore.nn` LAYER_KINDS)."""
    if kind not in L.LAYER_KINDS:
        raise InvalidArgumentError(
            f"kind must be one of {', '.join(L.LAYER_KINDS)}; received {kind!r}")
    if kind in _KNOWN:
        return _KNOWN[kind]()
    cls = L.LAYER_KINDS[kind]
    if cls.arity is None:
        return _graph(kind, 2)
    layer = _filled(cls)
    problems = []
    for shape in (_IMAGE, _FEATURES, _SEQUENCE):
        try:
            layer.output_shape((shape,))
        except InvalidArgumentError as e:
            problems.append(str(e))
            continue
        lead = L.Conv2D(4, 3, padding=1) if len(shape) == 3 else L.Dense(shape[-1])
        return _chain(kind, shape, lead, layer) if len(shape) != 2 else _chain(kind, shape,
                                                                                layer)
    raise InvalidArgumentError(
        f"layer kind {kind!r} needs a conformance example in gancore.conformance._examples "
        f"(none of the standard inputs fits it: {'; '.join(problems)})"
    )


def layer_inputs(spec: NetworkSpec, batch: int, seed: int) -> list[np.ndarray]:
    """Random inputs for `spec`: standard normal floats, integer ids below 5."""
    rng = np.random.default_rng(seed)
    out = []
    for inp in spec.inputs:
        shape = (batch, *inp.shape)
        if inp.dtype == "int64":
            out.append(rng.integers(0, 5, shape).astype(np.int64))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out
