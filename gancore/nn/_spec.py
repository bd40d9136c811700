"""A network as a small graph of portable layers: `Input`, `Node`, `NetworkSpec`.

A spec is validated when it is built: names are unique identifiers, every node's inputs
exist before it, shapes agree (shape inference runs at construction), and every node and
input feeds the output. Shapes are per sample, NHWC for images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from gancore._errors import InvalidArgumentError
from gancore.nn._layers import Layer, layer_from_dict

__all__ = ["INITS", "GraphBuilder", "Input", "NetworkSpec", "Node", "sequential"]

Shape = tuple[int, ...]

INITS = ("dcgan", "glorot")
DTYPES = ("float32", "int64")
SPEC_FORMAT = 1

# Names become parameter names (`<node>.kernel`), so they must not contain dots.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_name(what: str, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidArgumentError(
            f"{what} must be an identifier (letters, digits, underscores; no dots); "
            f"received {value!r}"
        )


def _as_tuple(value: Any) -> Any:
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, (list, tuple)) else value


@attrs.frozen
class Input:
    """A named network input: per-sample `shape` (NHWC for images) and dtype.

    Float inputs have rank 1 to 3; integer inputs (labels, `Input("labels", (), "int64")`)
    rank 0 to 2.
    """

    name: str
    shape: tuple[int, ...] = attrs.field(converter=_as_tuple)
    dtype: str = "float32"

    def __attrs_post_init__(self) -> None:
        _check_name("Input name", self.name)
        if self.dtype not in DTYPES:
            raise InvalidArgumentError(
                f"Input dtype must be 'float32' or 'int64'; received {self.dtype!r}"
            )
        ranks = (1, 2, 3) if self.dtype == "float32" else (0, 1, 2)
        if (
            not isinstance(self.shape, tuple)
            or len(self.shape) not in ranks
            or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in self.shape
            )
        ):
            raise InvalidArgumentError(
                f"Input {self.name!r} shape must be a tuple of {ranks[0]} to {ranks[-1]} ints "
                f">= 1 for dtype {self.dtype}; received {self.shape!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@attrs.frozen
class Node:
    """A layer applied to named inputs (earlier nodes or network inputs)."""

    name: str
    layer: Layer
    inputs: tuple[str, ...] = attrs.field(converter=_as_tuple)

    def __attrs_post_init__(self) -> None:
        _check_name("Node name", self.name)
        if not isinstance(self.layer, Layer):
            raise InvalidArgumentError(
                f"Node {self.name!r} layer must be a gancore.nn layer; received {self.layer!r}"
            )
        arity = self.layer.arity
        n = len(self.inputs)
        if (arity is None and n < 2) or (arity is not None and n != arity):
            wanted = "2 or more inputs" if arity is None else f"{arity} input"
            raise InvalidArgumentError(
                f"Node {self.name!r} ({type(self.layer).__name__}) inputs must be {wanted}; "
                f"received {self.inputs!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"name": self.name, "layer": self.layer.to_dict(), "inputs": list(self.inputs)}


@attrs.frozen
class NetworkSpec:
    """A network: named inputs, nodes in execution order, the output node, the init scheme.

    `init` is "dcgan" (kernels N(0, 0.02), norm gamma N(1, 0.02)) or "glorot"
    (glorot-uniform kernels, gamma 1); see `init_state`.
    """

    name: str
    inputs: tuple[Input, ...] = attrs.field(converter=_as_tuple)
    nodes: tuple[Node, ...] = attrs.field(converter=_as_tuple)
    output: str
    init: str = "dcgan"
    _shapes: dict[str, Shape] = attrs.field(init=False, eq=False, repr=False)
    _dtypes: dict[str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(
                f"NetworkSpec name must be a non-empty str; received {self.name!r}"
            )
        if self.init not in INITS:
            raise InvalidArgumentError(
                f"NetworkSpec init must be one of 'dcgan', 'glorot'; received {self.init!r}"
            )
        if not self.inputs or not all(isinstance(i, Input) for i in self.inputs):
            raise InvalidArgumentError(
                f"NetworkSpec inputs must be one or more Input; received {self.inputs!r}"
            )
        if not self.nodes or not all(isinstance(n, Node) for n in self.nodes):
            raise InvalidArgumentError(
                f"NetworkSpec nodes must be one or more Node; received {self.nodes!r}"
            )
        shapes, dtypes = _infer(self.inputs, self.nodes)
        if self.output not in shapes:
            raise InvalidArgumentError(
                f"NetworkSpec output must name a node; received {self.output!r}"
            )
        if dtypes[self.output] != "float32":
            raise InvalidArgumentError(
                f"NetworkSpec output must be a float tensor; received {self.output!r} "
                f"({dtypes[self.output]})"
            )
        _check_all_used(self.inputs, self.nodes, self.output)
        object.__setattr__(self, "_shapes", shapes)
        object.__setattr__(self, "_dtypes", dtypes)

    def shapes(self) -> dict[str, Shape]:
        """Per-sample shape of every input and node, by name, in graph order."""
        return dict(self._shapes)

    def dtypes(self) -> dict[str, str]:
        """Dtype ("float32" or "int64") of every input and node, by name."""
        return dict(self._dtypes)

    @property
    def output_shape(self) -> Shape:
        """Per-sample shape of the output."""
        return self._shapes[self.output]

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """Per-sample shapes of the inputs, in `inputs` order."""
        return tuple(i.shape for i in self.inputs)

    def node(self, name: str) -> Node:
        """The node called `name`."""
        for n in self.nodes:
            if n.name == name:
                return n
        names = ", ".join(n.name for n in self.nodes)
        raise InvalidArgumentError(f"node name must be one of {names}; received {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; `NetworkSpec.from_dict` rebuilds an equal spec."""
        return {
            "format": SPEC_FORMAT,
            "name": self.name,
            "init": self.init,
            "inputs": [i.to_dict() for i in self.inputs],
            "nodes": [n.to_dict() for n in self.nodes],
            "output": self.output,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkSpec:
        """The spec a `to_dict()` dict describes (validated like any other)."""
        if not isinstance(d, dict):
            raise InvalidArgumentError(f"spec must be a dict; received {type(d).__name__}")
        if d.get("format", SPEC_FORMAT) != SPEC_FORMAT:
            raise InvalidArgumentError(
                f"spec format must be {SPEC_FORMAT}; received {d.get('format')!r}"
            )
        try:
            inputs = tuple(
                Input(i["name"], i["shape"], i.get("dtype", "float32")) for i in d["inputs"]
            )
            nodes = tuple(
                Node(n["name"], layer_from_dict(n["layer"]), n["inputs"]) for n in d["nodes"]
            )
            return cls(d["name"], inputs, nodes, d["output"], d.get("init", "dcgan"))
        except (KeyError, TypeError) as e:
            raise InvalidArgumentError(
                f"spec dict must have name, inputs, nodes and output as written by "
                f"NetworkSpec.to_dict; received keys {sorted(d)} ({e!r})"
            ) from e


def _infer(
    inputs: Sequence[Input], nodes: Sequence[Node]
) -> tuple[dict[str, Shape], dict[str, str]]:
    shapes: dict[str, Shape] = {}
    dtypes: dict[str, str] = {}
    for inp in inputs:
        if inp.name in shapes:
            raise InvalidArgumentError(f"input names must be unique; received {inp.name!r} twice")
        shapes[inp.name] = inp.shape
        dtypes[inp.name] = inp.dtype
    for node in nodes:
        where = f"node {node.name!r} ({type(node.layer).__name__})"
        if node.name in shapes:
            raise InvalidArgumentError(
                f"node names must be unique and differ from input names; "
                f"received {node.name!r} twice"
            )
        for src in node.inputs:
            if src not in shapes:
                raise InvalidArgumentError(
                    f"{where} inputs must name earlier nodes or network inputs; "
                    f"received unknown {src!r}"
                )
            if dtypes[src] != node.layer.input_dtype:
                raise InvalidArgumentError(
                    f"{where} input {src!r} must be {node.layer.input_dtype}; "
                    f"received {dtypes[src]}"
                )
        in_shapes = tuple(shapes[s] for s in node.inputs)
        try:
            out = node.layer.output_shape(in_shapes)
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"{where}: {e}") from None
        if not 1 <= len(out) <= 3:
            raise InvalidArgumentError(
                f"{where} output must have a per-sample rank of 1 to 3; received shape {out}"
            )
        shapes[node.name] = out
        dtypes[node.name] = "float32"
    return shapes, dtypes


def _check_all_used(inputs: Sequence[Input], nodes: Sequence[Node], output: str) -> None:
    # A node that does not feed the output has parameters that never get a gradient: almost
    # always a wiring mistake, so it is refused rather than silently carried.
    used = {output}
    for node in reversed(nodes):
        if node.name in used:
            used.update(node.inputs)
    for name in [i.name for i in inputs] + [n.name for n in nodes]:
        if name not in used:
            raise InvalidArgumentError(
                f"every input and node must feed the output {output!r}; received {name!r}, "
                f"which does not"
            )


class GraphBuilder:
    """Builds a `NetworkSpec` step by step; `add` returns the new node's name.

    >>> g = GraphBuilder("critic")
    >>> x = g.input("x", (8, 8, 1))
    >>> y = g.add(Conv2D(4, 3, padding=1), x)
    >>> spec = g.build(g.add(Flatten(), y))
    """

    def __init__(self, name: str, init: str = "dcgan") -> None:
        self.name = name
        self.init = init
        self._inputs: list[Input] = []
        self._nodes: list[Node] = []
        self._taken: set[str] = set()

    def input(self, name: str, shape: Iterable[int], dtype: str = "float32") -> str:
        """Declare a network input; returns its name."""
        inp = Input(name, tuple(shape), dtype)
        self._claim(name)
        self._inputs.append(inp)
        return name

    def add(self, layer: Layer, *inputs: str, name: str | None = None) -> str:
        """Apply `layer` to the named inputs; returns the node's name (`<kind>_<n>` if None)."""
        if name is None:
            count = 1 + sum(type(n.layer) is type(layer) for n in self._nodes)
            name = f"{layer.kind}_{count}"
            while name in self._taken:
                count += 1
                name = f"{layer.kind}_{count}"
        node = Node(name, layer, inputs)
        self._claim(name)
        self._nodes.append(node)
        return name

    def build(self, output: str | None = None) -> NetworkSpec:
        """The validated spec; `output` defaults to the last node added."""
        if output is None:
            if not self._nodes:
                raise InvalidArgumentError(
                    "GraphBuilder.build needs at least one node added; received none"
                )
            output = self._nodes[-1].name
        return NetworkSpec(self.name, tuple(self._inputs), tuple(self._nodes), output, self.init)

    def _claim(self, name: str) -> None:
        if name in self._taken:
            raise InvalidArgumentError(f"names must be unique; received {name!r} twice")
        self._taken.add(name)


def sequential(
    name: str,
    input_shape: Iterable[int],
    layers: Iterable[Layer],
    init: str = "dcgan",
    input_dtype: str = "float32",
) -> NetworkSpec:
    """A chain of layers on one input called "x"; nodes are named `<kind>_<n>`."""
    g = GraphBuilder(name, init)
    last = g.input("x", tuple(input_shape), input_dtype)
    for layer in layers:
        last = g.add(layer, last)
    return g.build(last)
