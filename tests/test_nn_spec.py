"""gancore.nn without any framework: shapes, validation, serialisation, init, numpy forward."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gancore import BackendUnsupportedError, InvalidArgumentError
from gancore.nn import (
    Activation,
    Add,
    BatchNorm,
    CategoricalCode,
    Concat,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GraphBuilder,
    Input,
    InstanceNorm,
    LayerNorm,
    Maxout,
    NetworkSpec,
    Node,
    Reshape,
    Upsample,
    buffer_names,
    check_state,
    forward_numpy,
    forward_numpy_training,
    init_state,
    parameter_shapes,
    sequential,
    trainable_names,
)

TIGHT = {"rtol": 1e-12, "atol": 1e-12}

# -- shape inference --------------------------------------------------------------------------

SHAPES = [
    (Dense(7), (5,), (7,)),
    (Reshape((2, 3, 4)), (24,), (2, 3, 4)),
    (Reshape((6, 4)), (2, 3, 4), (6, 4)),
    (Flatten(), (2, 3, 4), (24,)),
    (Conv2D(5, 3), (8, 8, 2), (6, 6, 5)),
    (Conv2D(5, 3, stride=2, padding=1), (8, 8, 2), (4, 4, 5)),
    (Conv2D(5, 4, stride=2, padding=(1, 2, 0, 1)), (8, 9, 2), (4, 4, 5)),
    (Conv2D(1, 1), (3, 4, 6), (3, 4, 1)),
    (ConvTranspose2D(3, 4, stride=2, padding=1), (4, 4, 8), (8, 8, 3)),
    (ConvTranspose2D(3, 3, stride=2, padding=1, output_padding=1), (4, 5, 8), (8, 10, 3)),
    (ConvTranspose2D(3, 4, stride=1), (1, 1, 8), (4, 4, 3)),
    (ConvTranspose2D(2, 1, stride=3, output_padding=2), (2, 2, 1), (6, 6, 2)),
    (BatchNorm(), (4, 4, 3), (4, 4, 3)),
    (BatchNorm(), (10,), (10,)),
    (LayerNorm(), (4, 4, 3), (4, 4, 3)),
    (InstanceNorm(), (4, 4, 3), (4, 4, 3)),
    (Activation("leaky_relu"), (3, 2), (3, 2)),
    (Dropout(0.5), (6,), (6,)),
    (Maxout(3), (12,), (4,)),
    (Maxout(2), (4, 4, 6), (4, 4, 3)),
    (Upsample(2), (3, 4, 5), (6, 8, 5)),
    (CategoricalCode(3), (5,), (5,)),
    (CategoricalCode(4), (4,), (4,)),
]


@pytest.mark.parametrize(("layer", "in_shape", "out_shape"), SHAPES, ids=lambda v: str(v))
def test_shape_inference(layer, in_shape, out_shape):
    spec = sequential("net", in_shape, [layer])
    assert spec.output_shape == out_shape
    assert spec.shapes() == {"x": in_shape, f"{layer.kind}_1": out_shape}


def test_shape_inference_multi_input_and_embedding():
    g = GraphBuilder("cond")
    z = g.input("z", (4, 4, 2))
    y = g.input("labels", (), "int64")
    seq = g.input("tokens", (3,), "int64")
    e = g.add(Embedding(10, 16), y)
    assert g.add(Embedding(10, 5), seq, name="tok") == "tok"
    img = g.add(Reshape((4, 4, 1)), e)
    cat = g.add(Concat(), z, img)
    summed = g.add(Add(), cat, cat)
    flat = g.add(Flatten(), summed)
    tok = g.add(Flatten(), "tok")
    spec = g.build(g.add(Concat(), flat, tok))
    shapes = spec.shapes()
    assert shapes["embedding_1"] == (16,)
    assert shapes["tok"] == (3, 5)
    assert shapes["concat_1"] == (4, 4, 3)
    assert shapes["add_1"] == (4, 4, 3)
    assert spec.output_shape == (48 + 15,)
    assert spec.dtypes()["labels"] == "int64"


def test_parameter_names_and_shapes():
    spec = sequential(
        "net",
        (6, 6, 2),
        [Conv2D(4, 3, use_bias=False), BatchNorm(), Flatten(), Dense(3), LayerNorm()],
    )
    assert parameter_shapes(spec) == {
        "conv2d_1.kernel": (3, 3, 2, 4),
        "batch_norm_1.gamma": (4,),
        "batch_norm_1.beta": (4,),
        "batch_norm_1.running_mean": (4,),
        "batch_norm_1.running_var": (4,),
        "dense_1.kernel": (64, 3),
        "dense_1.bias": (3,),
        "layer_norm_1.gamma": (3,),
        "layer_norm_1.beta": (3,),
    }
    assert trainable_names(spec) == [
        "conv2d_1.kernel",
        "batch_norm_1.gamma",
        "batch_norm_1.beta",
        "dense_1.kernel",
        "dense_1.bias",
        "layer_norm_1.gamma",
        "layer_norm_1.beta",
    ]
    assert buffer_names(spec) == ["batch_norm_1.running_mean", "batch_norm_1.running_var"]


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Conv2D(4, 0), r"Conv2D kernel_size must be an int >= 1; received 0"),
        (lambda: Conv2D(4, 3, stride=0), r"Conv2D stride must be an int >= 1; received 0"),
        (lambda: Conv2D(4, 3, padding=(1, 2)), r"padding must be an int >= 0 or a 4-tuple"),
        (lambda: Conv2D(4, 3, padding=-1), r"padding must be .*received -1"),
        (lambda: Conv2D(4, True), r"kernel_size must be an int >= 1; received True"),
        (lambda: Dense(0), r"Dense units must be an int >= 1; received 0"),
        (
            lambda: ConvTranspose2D(4, 3, stride=2, output_padding=2),
            r"output_padding must be < stride \(2\); received 2",
        ),
        (lambda: BatchNorm(momentum=1.5), r"BatchNorm momentum must be a number in \[0.0, 1.0\]"),
        (lambda: BatchNorm(eps=0), r"BatchNorm eps must be a number in \(0.0, inf\]"),
        (lambda: Activation("gelu"), r"Activation fn must be one of .*received 'gelu'"),
        (lambda: Dropout(1.0), r"Dropout rate must be a number in \[0.0, 1.0\)"),
        (lambda: Reshape((2, 0)), r"Reshape shape must be a tuple of 1 to 3 ints"),
        (lambda: Input("x", (4, 4, 4, 4)), r"Input 'x' shape must be a tuple of 1 to 3"),
        (lambda: Input("x.y", (4,)), r"Input name must be an identifier"),
        (lambda: Input("x", (4,), "float16"), r"dtype must be 'float32' or 'int64'"),
        (lambda: Node("a", Concat(), ("x",)), r"inputs must be 2 or more inputs"),
    ],
)
def test_layer_validation(make, match):
    with pytest.raises(InvalidArgumentError, match=match):
        make()


IMAGE = (Input("x", (8, 8, 3)),)


def _graph(*nodes, inputs=IMAGE, output=None):
    return NetworkSpec("g", inputs, nodes, output or nodes[-1].name)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: _graph(Node("a", Conv2D(4, 3), "missing")),
            r"node 'a' \(Conv2D\) inputs must name earlier nodes .*unknown 'missing'",
        ),
        (
            lambda: _graph(Node("a", Flatten(), "b"), Node("b", Flatten(), "x")),
            r"node 'a' .*unknown 'b'",
        ),
        (
            lambda: _graph(Node("a", Conv2D(4, 3), "x"), Node("a", Flatten(), "a")),
            r"node names must be unique .*'a' twice",
        ),
        (
            lambda: _graph(Node("x", Flatten(), "x")),
            r"node names must be unique and differ from input names",
        ),
        (
            lambda: _graph(Node("a", Conv2D(4, 3), "x"), Node("c", Concat(), ("a", "x"))),
            r"node 'c' \(Concat\): Concat inputs must agree on every axis but the last; "
            r"received shapes \(6, 6, 4\), \(8, 8, 3\)",
        ),
        (
            lambda: _graph(
                Node("a", Conv2D(4, 3), "x"),
                Node("s", Add(), ("a", "a")),
                Node("t", Add(), ("s", "x")),
            ),
            r"node 't' \(Add\): Add inputs must have the same shape",
        ),
        (
            lambda: _graph(Node("a", Conv2D(4, 9), "x")),
            r"node 'a' \(Conv2D\): Conv2D kernel_size must be <= the padded input size",
        ),
        (
            lambda: _graph(Node("d", Dense(4), "x")),
            r"node 'd' \(Dense\): Dense needs a per-sample input of rank 1",
        ),
        (
            lambda: _graph(Node("r", Reshape((5, 5)), "x")),
            r"node 'r' \(Reshape\): Reshape shape must have as many elements",
        ),
        (
            lambda: _graph(Node("m", Maxout(5), "x")),
            r"node 'm' \(Maxout\): Maxout pieces must divide",
        ),
        (
            lambda: _graph(Node("c", CategoricalCode(2), "x")),
            r"node 'c' \(CategoricalCode\): CategoricalCode needs a per-sample input of rank 1",
        ),
        (
            lambda: _graph(Node("e", Embedding(4, 2), "x")),
            r"node 'e' \(Embedding\) input 'x' must be int64; received float32",
        ),
        (
            lambda: _graph(Node("f", Flatten(), "y"), inputs=(Input("y", (3,), "int64"),)),
            r"node 'f' \(Flatten\) input 'y' must be float32; received int64",
        ),
        (
            lambda: _graph(Node("a", Flatten(), "x"), Node("b", Flatten(), "x"), output="b"),
            r"every input and node must feed the output 'b'; received 'a'",
        ),
        (
            lambda: _graph(Node("a", Flatten(), "x"), output="nope"),
            r"output must name a node; received 'nope'",
        ),
        (
            lambda: NetworkSpec(
                "g", (Input("x", (3,)),), (Node("a", Flatten(), "x"),), "a", init="he"
            ),
            r"init must be one of 'dcgan', 'glorot'; received 'he'",
        ),
    ],
)
def test_graph_validation(make, match):
    with pytest.raises(InvalidArgumentError, match=match):
        make()


def test_builder_rejects_duplicate_names():
    g = GraphBuilder("g")
    x = g.input("x", (3,))
    g.add(Dense(2), x, name="d")
    with pytest.raises(InvalidArgumentError, match=r"names must be unique; received 'd' twice"):
        g.add(Dense(2), x, name="d")
    with pytest.raises(InvalidArgumentError, match=r"names must be unique; received 'x' twice"):
        g.input("x", (3,))


# -- serialisation ----------------------------------------------------------------------------

paddings = st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 4))


@settings(max_examples=40, deadline=None)
@given(
    filters=st.integers(1, 8),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=paddings,
    fn=st.sampled_from(["relu", "leaky_relu", "tanh", "sigmoid", "identity"]),
    slope=st.floats(0.0, 1.0),
    momentum=st.floats(0.0, 1.0),
    use_bias=st.booleans(),
    init=st.sampled_from(["dcgan", "glorot"]),
    units=st.integers(1, 6),
)
def test_to_dict_round_trip(
    filters, kernel, stride, padding, fn, slope, momentum, use_bias, init, units
):
    g = GraphBuilder("round_trip", init)
    x = g.input("x", (6, 6, 2))
    y = g.input("labels", (), "int64")
    h = g.add(Conv2D(filters, kernel, stride, padding, use_bias), x)
    h = g.add(BatchNorm(momentum=momentum), h)
    h = g.add(Activation(fn, slope), h)
    h = g.add(ConvTranspose2D(2, 3, stride=2, padding=1, output_padding=1), h)
    h = g.add(Flatten(), h)
    e = g.add(Embedding(3, units), y)
    h = g.add(Concat(), h, e)
    spec = g.build(g.add(Maxout(1), g.add(Dense(units * 2), h)))
    d = spec.to_dict()
    text = json.dumps(d)
    again = NetworkSpec.from_dict(json.loads(text))
    assert again == spec
    assert json.dumps(again.to_dict()) == text
    assert again.shapes() == spec.shapes()


def test_from_dict_rejects_unknown_kind():
    d = sequential("net", (3,), [Dense(2)]).to_dict()
    d["nodes"][0]["layer"]["kind"] = "gelu"
    with pytest.raises(InvalidArgumentError, match=r"layer kind must be one of .*'gelu'"):
        NetworkSpec.from_dict(d)
    d["nodes"][0]["layer"] = {"kind": "dense", "units": 2, "bias": True}
    with pytest.raises(InvalidArgumentError, match=r"Dense fields must be among"):
        NetworkSpec.from_dict(d)


# -- initialisation ---------------------------------------------------------------------------

BIG = sequential(
    "big",
    (8, 8, 16),
    [Conv2D(32, 3), BatchNorm(), Flatten(), Dense(256), LayerNorm()],
)


def test_init_is_deterministic():
    a, b, c = init_state(BIG, 3), init_state(BIG, 3), init_state(BIG, 4)
    assert list(a) == list(parameter_shapes(BIG))
    for name in a:
        assert a[name].dtype == np.float32
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["conv2d_1.kernel"], c["conv2d_1.kernel"])
    assert not np.array_equal(a["batch_norm_1.gamma"], c["batch_norm_1.gamma"])


def test_dcgan_init_statistics():
    s = init_state(BIG, 0)
    for name in ("conv2d_1.kernel", "dense_1.kernel"):
        assert abs(s[name].mean()) < 0.002
        np.testing.assert_allclose(s[name].std(), 0.02, rtol=0.05)
    np.testing.assert_allclose(s["layer_norm_1.gamma"].mean(), 1.0, atol=0.01)
    np.testing.assert_allclose(s["layer_norm_1.gamma"].std(), 0.02, rtol=0.3)
    for name in ("conv2d_1.bias", "dense_1.bias", "batch_norm_1.beta", "batch_norm_1.running_mean"):
        np.testing.assert_array_equal(s[name], 0.0)
    np.testing.assert_array_equal(s["batch_norm_1.running_var"], 1.0)
    emb = init_state(sequential("e", (), [Embedding(100, 50)], input_dtype="int64"), 0)
    np.testing.assert_allclose(emb["embedding_1.embeddings"].std(), 1.0, rtol=0.05)


def test_glorot_init_statistics():
    spec = NetworkSpec.from_dict({**BIG.to_dict(), "init": "glorot"})
    s = init_state(spec, 0)
    # fans include the receptive field: conv 3*3*16 in, 3*3*32 out; dense 6*6*32 in, 256 out
    for name, fan_in, fan_out in (("conv2d_1.kernel", 144, 288), ("dense_1.kernel", 1152, 256)):
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(s[name]).max() <= limit
        np.testing.assert_allclose(np.abs(s[name]).max(), limit, rtol=0.01)
        np.testing.assert_allclose(s[name].std(), limit / np.sqrt(3), rtol=0.05)
    np.testing.assert_array_equal(s["batch_norm_1.gamma"], 1.0)
    np.testing.assert_array_equal(s["layer_norm_1.gamma"], 1.0)


def test_check_state_errors():
    spec = sequential("net", (3,), [Dense(2)])
    state = init_state(spec, 0)
    with pytest.raises(InvalidArgumentError, match=r"missing \['dense_1.bias'\], unknown \[\]"):
        check_state(spec, {"dense_1.kernel": state["dense_1.kernel"]})
    with pytest.raises(InvalidArgumentError, match=r"unknown \['extra'\]"):
        check_state(spec, {**state, "extra": np.zeros(1)})
    bad = {**state, "dense_1.kernel": np.zeros((2, 3))}
    with pytest.raises(
        InvalidArgumentError,
        match=r"state\['dense_1.kernel'\] must have shape \(3, 2\); "
        r"received \(2, 3\)",
    ):
        check_state(spec, bad)


# -- numpy forward: golden values -------------------------------------------------------------


def test_dense_golden():
    spec = sequential("d", (2,), [Dense(2)])
    state = {"dense_1.kernel": np.array([[1, 2], [3, 4]]), "dense_1.bias": np.array([0.5, -1])}
    out = forward_numpy(spec, state, np.array([[1.0, 10.0]]))
    np.testing.assert_allclose(out, [[31.5, 41.0]], **TIGHT)


def test_conv_1x1_golden():
    spec = sequential("c", (2, 2, 2), [Conv2D(1, 1)])
    x = np.arange(8, dtype=float).reshape(1, 2, 2, 2)
    state = {"conv2d_1.kernel": np.array([[[[1.0], [2.0]]]]), "conv2d_1.bias": np.array([0.5])}
    out = forward_numpy(spec, state, x)
    expected = x[..., :1] + 2 * x[..., 1:] + 0.5
    np.testing.assert_allclose(out, expected, **TIGHT)


def test_conv_asymmetric_padding_golden():
    # A 2x2 all-ones kernel on a 2x2 image padded 1 on top and left only: each output is the
    # sum of the window ending at that pixel.
    spec = sequential("c", (2, 2, 1), [Conv2D(1, 2, padding=(1, 0, 1, 0), use_bias=False)])
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    out = forward_numpy(spec, {"conv2d_1.kernel": np.ones((2, 2, 1, 1))}, x)
    np.testing.assert_allclose(out[0, :, :, 0], [[1, 3], [4, 10]], **TIGHT)


@pytest.mark.parametrize(
    ("padding", "output_padding", "stride", "kernel", "expected"),
    [
        (
            0,
            0,
            2,
            [[1, 10], [100, 1000]],
            [[1, 10, 2, 20], [100, 1000, 200, 2000], [3, 30, 4, 40], [300, 3000, 400, 4000]],
        ),
        # padding crops one row/column each side, output_padding gives one back at the end
        (1, 1, 2, [[1, 10], [100, 1000]], [[1000, 200, 2000], [30, 4, 40], [3000, 400, 4000]]),
        # output_padding > padding: the extra row and column receive nothing
        (0, 1, 2, [[1]], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]),
    ],
)
def test_conv_transpose_golden(padding, output_padding, stride, kernel, expected):
    kernel = np.array(kernel, dtype=float)
    k = kernel.shape[0]
    layer = ConvTranspose2D(1, k, stride, padding, output_padding)
    spec = sequential("t", (2, 2, 1), [layer])
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    state = {
        "conv_transpose2d_1.kernel": kernel.reshape(k, k, 1, 1),
        "conv_transpose2d_1.bias": np.array([0.25]),
    }
    out = forward_numpy(spec, state, x)
    np.testing.assert_allclose(out[0, :, :, 0], np.array(expected) + 0.25, **TIGHT)


def _conv_loops(x, kernel, stride, pads):
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    k = kernel.shape[0]
    out_h = (xp.shape[1] - k) // stride + 1
    out_w = (xp.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            patch = xp[:, i * stride : i * stride + k, j * stride : j * stride + k, :]
            out[:, i, j] = np.einsum("nabc,abco->no", patch, kernel)
    return out


def _conv_transpose_loops(x, kernel, stride, pad, extra):
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    out_h = (h - 1) * stride - 2 * pad + k + extra
    out_w = (w - 1) * stride - 2 * pad + k + extra
    out = np.zeros((n, out_h, out_w, kernel.shape[3]))
    for iy in range(h):
        for ix in range(w):
            for ky in range(k):
                for kx in range(k):
                    y, xx = iy * stride + ky - pad, ix * stride + kx - pad
                    if 0 <= y < out_h and 0 <= xx < out_w:
                        out[:, y, xx] += x[:, iy, ix] @ kernel[ky, kx]
    return out


@settings(max_examples=30, deadline=None)
@given(
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.tuples(*[st.integers(0, 2)] * 4),
    seed=st.integers(0, 2**16),
)
def test_conv_matches_definition(kernel, stride, padding, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 5, 6, 2))
    k = rng.normal(size=(kernel, kernel, 2, 3))
    spec = sequential("c", (5, 6, 2), [Conv2D(3, kernel, stride, padding, use_bias=False)])
    out = forward_numpy(spec, {"conv2d_1.kernel": k}, x)
    np.testing.assert_allclose(out, _conv_loops(x, k, stride, padding), rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_conv_transpose_matches_definition(kernel, stride, padding, extra, seed):
    extra = min(extra, stride - 1)
    if (2 - 1) * stride - 2 * padding + kernel + extra < 1:
        return  # no output; shape validation covers this case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 2, 3, 2))
    k = rng.normal(size=(kernel, kernel, 2, 3))
    layer = ConvTranspose2D(3, kernel, stride, padding, extra, use_bias=False)
    spec = sequential("t", (2, 3, 2), [layer])
    out = forward_numpy(spec, {"conv_transpose2d_1.kernel": k}, x)
    np.testing.assert_allclose(
        out, _conv_transpose_loops(x, k, stride, padding, extra), rtol=1e-10, atol=1e-10
    )


def test_batch_norm_golden():
    spec = sequential("b", (1,), [BatchNorm(momentum=0.1, eps=1e-5)])
    state = {
        "batch_norm_1.gamma": np.array([2.0]),
        "batch_norm_1.beta": np.array([0.5]),
        "batch_norm_1.running_mean": np.array([0.0]),
        "batch_norm_1.running_var": np.array([1.0]),
    }
    x = np.array([[1.0], [3.0]])
    # inference: running statistics
    np.testing.assert_allclose(
        forward_numpy(spec, state, x), 2 * x / np.sqrt(1 + 1e-5) + 0.5, **TIGHT
    )
    # training: batch mean 2, biased variance 1 normalise; unbiased variance 2 updates
    out, new = forward_numpy_training(spec, state, x)
    np.testing.assert_allclose(
        out, [[0.5 - 2 / np.sqrt(1 + 1e-5)], [0.5 + 2 / np.sqrt(1 + 1e-5)]], **TIGHT
    )
    np.testing.assert_allclose(forward_numpy(spec, state, x, training=True), out, **TIGHT)
    np.testing.assert_allclose(new["batch_norm_1.running_mean"], [0.2], rtol=1e-6)
    np.testing.assert_allclose(new["batch_norm_1.running_var"], [0.9 + 0.2], rtol=1e-6)
    np.testing.assert_array_equal(new["batch_norm_1.gamma"], [2.0])
    np.testing.assert_array_equal(state["batch_norm_1.running_mean"], [0.0])  # not mutated


def test_batch_norm_training_needs_two_values():
    spec = sequential("b", (3,), [BatchNorm()])
    with pytest.raises(InvalidArgumentError, match=r"node 'batch_norm_1': BatchNorm in training"):
        forward_numpy(spec, init_state(spec, 0), np.ones((1, 3)), training=True)


def test_maxout_golden():
    spec = sequential("m", (4,), [Maxout(2)])
    out = forward_numpy(spec, {}, np.array([[1.0, 5.0, 3.0, 2.0], [-1.0, -2.0, 0.0, 7.0]]))
    np.testing.assert_allclose(out, [[5.0, 3.0], [-1.0, 7.0]], **TIGHT)


def test_categorical_code_golden():
    spec = sequential("c", (5,), [CategoricalCode(3)])
    x = np.array([[0.5, -1.0, 0.2, 3.0, -4.0], [7.0, 8.0, -1.0, -2.0, -0.5]])
    out = forward_numpy(spec, {}, x)
    np.testing.assert_array_equal(out, [[0.5, -1.0, 0.0, 1.0, 0.0], [7.0, 8.0, 0.0, 0.0, 1.0]])


def test_categorical_code_checks_its_size():
    with pytest.raises(InvalidArgumentError, match=r"categories must be at most its input's 3 "
                       r"features; received 4"):
        sequential("c", (3,), [CategoricalCode(4)])
    with pytest.raises(InvalidArgumentError, match="categories"):
        CategoricalCode(1)


def test_layer_norm_golden():
    spec = sequential("l", (2,), [LayerNorm(eps=1e-5)])
    state = {"layer_norm_1.gamma": np.array([2.0, 3.0]), "layer_norm_1.beta": np.array([0.0, 1.0])}
    out = forward_numpy(spec, state, np.array([[1.0, 3.0]]))
    s = np.sqrt(1 + 1e-5)
    np.testing.assert_allclose(out, [[-2 / s, 3 / s + 1]], **TIGHT)


def test_layer_norm_image_uses_all_axes():
    spec = sequential("l", (1, 2, 2), [LayerNorm(eps=1e-5)])
    state = {"layer_norm_1.gamma": np.array([1.0, 2.0]), "layer_norm_1.beta": np.zeros(2)}
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    z = (x - 2.5) / np.sqrt(1.25 + 1e-5)
    np.testing.assert_allclose(forward_numpy(spec, state, x), z * [1.0, 2.0], **TIGHT)


def test_instance_norm_golden():
    spec = sequential("i", (2, 2, 2), [InstanceNorm(eps=1e-5)])
    state = {"instance_norm_1.gamma": np.array([1.0, 2.0]), "instance_norm_1.beta": [0.0, 1.0]}
    x = np.stack([np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 0.0], [0.0, 8.0]])], -1)
    out = forward_numpy(spec, state, x[None])
    ch0 = (x[..., 0] - 2.5) / np.sqrt(1.25 + 1e-5)
    ch1 = (x[..., 1] - 2.0) / np.sqrt(12.0 + 1e-5) * 2 + 1
    np.testing.assert_allclose(out[0], np.stack([ch0, ch1], -1), **TIGHT)
    plain = sequential("i", (2, 2, 2), [InstanceNorm(affine=False)])
    assert parameter_shapes(plain) == {}
    np.testing.assert_allclose(forward_numpy(plain, {}, x[None])[0, ..., 0], ch0, **TIGHT)


def test_reshape_and_flatten_are_nhwc_row_major():
    spec = sequential("r", (6,), [Reshape((1, 2, 3)), Flatten()])
    x = np.arange(6.0)[None]
    np.testing.assert_allclose(forward_numpy(spec, {}, x), x, **TIGHT)
    img = sequential("r", (6,), [Reshape((1, 2, 3)), Maxout(3)])
    np.testing.assert_allclose(forward_numpy(img, {}, x), [[[[2.0], [5.0]]]], **TIGHT)


def test_upsample_golden():
    spec = sequential("u", (2, 2, 1), [Upsample(2)])
    out = forward_numpy(spec, {}, np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1))
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    np.testing.assert_allclose(out[0, :, :, 0], expected, **TIGHT)


def test_activations_golden():
    x = np.array([[-2.0, 0.0, 3.0]])
    cases = {
        "relu": [0.0, 0.0, 3.0],
        "leaky_relu": [-0.2, 0.0, 3.0],
        "tanh": np.tanh(x[0]),
        "sigmoid": 1 / (1 + np.exp(-x[0])),
        "identity": x[0],
    }
    for fn, expected in cases.items():
        spec = sequential("a", (3,), [Activation(fn, negative_slope=0.1)])
        np.testing.assert_allclose(forward_numpy(spec, {}, x)[0], expected, **TIGHT)


def test_embedding_concat_add_golden():
    g = GraphBuilder("cond")
    z = g.input("z", (2,))
    y = g.input("labels", (), "int64")
    e = g.add(Embedding(3, 2), y, name="emb")
    spec = g.build(g.add(Concat(), g.add(Add(), z, e), e))
    table = np.array([[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]])
    out = forward_numpy(spec, {"emb.embeddings": table}, np.ones((2, 2)), np.array([2, 0]))
    np.testing.assert_allclose(out, [[21, 22, 20, 21], [1, 2, 0, 1]], **TIGHT)
    with pytest.raises(InvalidArgumentError, match=r"Embedding ids must be in \[0, 3\)"):
        forward_numpy(spec, {"emb.embeddings": table}, np.ones((1, 2)), np.array([3]))


def test_dropout_inference_identity_training_refused():
    spec = sequential("d", (3,), [Dropout(0.5)])
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(forward_numpy(spec, {}, x), x, **TIGHT)
    with pytest.raises(BackendUnsupportedError, match=r"Dropout only in inference"):
        forward_numpy(spec, {}, x, training=True)
    no_op = sequential("d", (3,), [Dropout(0.0)])
    np.testing.assert_allclose(forward_numpy(no_op, {}, x, training=True), x, **TIGHT)


def test_forward_checks_inputs():
    spec = sequential("net", (3,), [Dense(2)])
    state = init_state(spec, 0)
    with pytest.raises(InvalidArgumentError, match=r"inputs must be 1 arrays \(x\); received 2"):
        forward_numpy(spec, state, np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(InvalidArgumentError, match=r"input 'x' must have shape \(batch, 3\)"):
        forward_numpy(spec, state, np.ones((2, 4)))
