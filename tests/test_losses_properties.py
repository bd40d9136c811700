"""Property tests of every loss (DESIGN invariant 2, STYLE.md 9).

Each backend is compared with the numpy reference (the same loss on float64 numpy arrays)
and with analytic values and gradients written here, for random shapes (batch 1 included,
patch maps), extreme logits (up to +-1e4), every reduction and optional weights.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from _helpers import native, tensor_type, to_numpy, value_and_grads
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gancore
import gancore.losses as gl

# --- analytic references ---------------------------------------------------------------


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-softplus(-x))


def logsumexp(x: np.ndarray) -> np.ndarray:
    top = np.max(x, axis=-1, keepdims=True)
    return top[..., 0] + np.log(np.sum(np.exp(x - top), axis=-1))


def softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(x - logsumexp(x)[..., None])


@dataclass
class Part:
    """One reduced term of a loss: ``reduce(w * term)``, with ``d term / d input``
    elementwise for each score input, and the term's sensitivity to float32 rounding."""

    term: np.ndarray
    derivs: dict[str, np.ndarray]
    weights: str | None = None
    scale: np.ndarray | None = None  # defaults to |term| + sum |x * d term/dx| + 1
    factor: float = 1.0  # a constant multiplying the reduced term (supervised_weight)


def _expand(w: np.ndarray, ndim: int) -> np.ndarray:
    return w if w.ndim == ndim else w.reshape((-1,) + (1,) * (ndim - 1))


def _reduce(x: np.ndarray, reduction: str) -> Any:
    return {"mean": np.mean, "sum": np.sum}[reduction](x) if reduction != "none" else x


def analytic(parts: list[Part], arrays: dict, weights: dict, reduction: str) -> tuple:
    """``(value, value_scale, grads, grad_scales)``: the loss, the scale of its float32
    rounding error, its gradient w.r.t. each score input (of the sum for reduction='none')
    and the scales of their rounding errors."""
    value, scale, grads, grad_scales = 0.0, 0.0, {}, {}
    for part in parts:
        w = weights.get(part.weights) if part.weights else None
        w = np.ones(()) if w is None else _expand(np.asarray(w, np.float64), part.term.ndim)
        mag = part.scale
        if mag is None:
            mag = np.abs(part.term) + 1.0
            for name, d in part.derivs.items():
                mag = mag + np.abs(arrays[name] * d)
        value = value + part.factor * _reduce(w * part.term, reduction)
        scale = scale + part.factor * np.max(_reduce(np.abs(w) * mag, reduction))
        n = part.term.size if reduction == "mean" else 1
        for name, d in part.derivs.items():
            wd = w.reshape(w.shape + (1,) * (d.ndim - w.ndim)) if w.ndim else w
            grads[name] = grads.get(name, 0.0) + part.factor * wd * d / n
            size = np.max(part.factor * np.abs(wd) * (np.abs(d) + 1.0) / n)
            grad_scales[name] = grad_scales.get(name, 0.0) + size
    return value, scale, grads, grad_scales


def _real_target(batch: int, options: dict, ndim: int) -> Any:
    """1 - smoothing, or 0 for flipped samples, as the loss documents it."""
    t = 1.0 - options.get("smoothing", 0.0)
    mask = options.get("flip_mask")
    if mask is None and options.get("flip_fraction", 0.0) > 0:
        mask = gl.label_flip_mask(batch, options["flip_fraction"], options["rng"])
    if mask is None:
        return t
    return np.where(mask, 0.0, t).reshape((-1,) + (1,) * (ndim - 1))


def _minimax_critic_parts(a: dict, o: dict) -> list[Part]:
    r, f = a["real"], a["fake"]
    t = _real_target(r.shape[0], o, r.ndim)
    real_term = t * softplus(-r) + (1 - t) * softplus(r)
    return [
        Part(real_term, {"real": sigmoid(r) - t}, "real_weights"),
        Part(softplus(f), {"fake": sigmoid(f)}, "fake_weights"),
    ]


def _ls_critic_parts(a: dict, o: dict) -> list[Part]:
    r, f = a["real"], a["fake"]
    t, s = _real_target(r.shape[0], o, r.ndim), o.get("scale", 0.5)
    return [
        Part(s * (r - t) ** 2, {"real": 2 * s * (r - t)}, "real_weights"),
        Part(s * f**2, {"fake": 2 * s * f}, "fake_weights"),
    ]


def _l1_parts(second: str) -> Callable[[dict, dict], list[Part]]:
    def parts(a: dict, o: dict) -> list[Part]:
        c, diff = o.get("weight", 10.0 if second == "reconstructed" else 5.0), a[second] - a["real"]
        sign = np.sign(diff)
        return [Part(c * np.abs(diff), {"real": -c * sign, second: c * sign}, "sample_weights")]

    return parts


def _ce_part(logits: np.ndarray, labels: np.ndarray, name: str, weights: str | None,
             factor: float = 1.0) -> Part:
    onehot = np.eye(logits.shape[1])[labels]
    term = logsumexp(logits) - np.sum(onehot * logits, axis=-1)
    # Log-softmax of float32 logits is only as exact as their largest magnitude.
    scale = np.abs(term) + np.max(np.abs(logits), axis=-1) + 1.0
    return Part(term, {name: softmax(logits) - onehot}, weights, scale, factor)


def _sgan_parts(a: dict, o: dict) -> list[Part]:
    r, f = a["real"], a["fake"]
    sw = o.get("supervised_weight", 1.0)
    return [
        _ce_part(a["labeled_logits"], a["labels"], "labeled_logits", None, sw),
        Part(softplus(-r), {"real": -sigmoid(-r)}),
        Part(softplus(f), {"fake": sigmoid(f)}),
    ]


@dataclass(frozen=True)
class Spec:
    """How to draw inputs for a public loss and compute it analytically."""

    name: str
    kind: str  # pair | single | l1 | classes | class_score | sgan
    parts: Callable[[dict, dict], list[Part]]
    weights: tuple[str, ...] = ()
    options: Callable[[int], st.SearchStrategy[dict]] = lambda batch: st.just({})
    reductions: tuple[str, ...] = gl.REDUCTIONS
    second: str = "fake"  # the other array of an l1 loss

    @property
    def fn(self) -> Callable[..., Any]:
        return getattr(gl, self.name)

    @property
    def scores(self) -> tuple[str, ...]:
        return {
            "pair": ("real", "fake"),
            "single": ("fake",),
            "l1": ("real", self.second),
            "classes": ("logits",),
            "class_score": ("class_logits",),
            "sgan": ("labeled_logits", "real", "fake"),
        }[self.kind]

    def weight_target(self, weights: str) -> str:
        """The score array whose batch (or shape) the weights argument follows."""
        return {"real_weights": "real", "fake_weights": "fake"}.get(weights, self.scores[-1]
                                                                    if self.kind != "l1"
                                                                    else "real")

    def __repr__(self) -> str:
        return self.name


def factors(high: float) -> st.SearchStrategy[float]:
    """A loss option such as a weight or a smoothing: 0, or not so small that float32 rounds
    it away."""
    return st.one_of(st.just(0.0), st.floats(2.0**-10, high, width=32))


def _target_options(batch: int, with_scale: bool = False) -> st.SearchStrategy[dict]:
    flip = st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {"flip_fraction": st.floats(0.0, 1.0), "rng": st.integers(0, 2**32 - 1)}
        ),
        st.fixed_dictionaries({"flip_mask": hnp.arrays(np.bool_, (batch,))}),
    )
    smoothing = st.one_of(st.just({}), st.fixed_dictionaries({"smoothing": factors(0.5)}))
    scale = st.fixed_dictionaries({"scale": factors(2.0)}) if with_scale else st.just({})
    return st.tuples(flip, smoothing, scale).map(lambda ds: {k: v for d in ds for k, v in
                                                           d.items()})


def _single(name: str, parts: Callable[[dict, dict], list[Part]], **kw: Any) -> Spec:
    return Spec(name, "single", parts, ("weights",), **kw)


def _pair(name: str, parts: Callable[[dict, dict], list[Part]], **kw: Any) -> Spec:
    return Spec(name, "pair", parts, ("real_weights", "fake_weights"), **kw)


def _fake_only(term: Callable, deriv: Callable) -> Callable[[dict, dict], list[Part]]:
    return lambda a, o: [Part(term(a["fake"], o), {"fake": deriv(a["fake"], o)}, "weights")]


SPECS = [
    _pair("minimax_critic_loss", _minimax_critic_parts, options=_target_options),
    _single("minimax_generator_loss", _fake_only(lambda f, o: -softplus(f),
                                                 lambda f, o: -sigmoid(f))),
    _single("nonsaturating_generator_loss", _fake_only(lambda f, o: softplus(-f),
                                                       lambda f, o: -sigmoid(-f))),
    _pair("wasserstein_critic_loss", lambda a, o: [
        Part(-a["real"], {"real": -np.ones_like(a["real"])}, "real_weights"),
        Part(a["fake"], {"fake": np.ones_like(a["fake"])}, "fake_weights"),
    ]),
    _single("wasserstein_generator_loss", _fake_only(lambda f, o: -f,
                                                     lambda f, o: -np.ones_like(f))),
    _pair("hinge_critic_loss", lambda a, o: [
        Part(np.maximum(1 - a["real"], 0), {"real": -1.0 * (1 - a["real"] > 0)}, "real_weights"),
        Part(np.maximum(1 + a["fake"], 0), {"fake": 1.0 * (1 + a["fake"] > 0)}, "fake_weights"),
    ]),
    _single("hinge_generator_loss", _fake_only(lambda f, o: -f, lambda f, o: -np.ones_like(f))),
    _pair("least_squares_critic_loss", _ls_critic_parts,
          options=lambda b: _target_options(b, with_scale=True)),
    _single("least_squares_generator_loss",
            _fake_only(lambda f, o: o.get("scale", 0.5) * (f - 1) ** 2,
                       lambda f, o: 2 * o.get("scale", 0.5) * (f - 1)),
            options=lambda b: st.fixed_dictionaries({"scale": factors(2.0)})),
    Spec("cycle_consistency_loss", "l1", _l1_parts("reconstructed"), ("sample_weights",),
         options=lambda b: st.fixed_dictionaries({"weight": factors(20.0)}),
         second="reconstructed"),
    Spec("identity_loss", "l1", _l1_parts("mapped"), ("sample_weights",), second="mapped"),
    Spec("softmax_cross_entropy", "classes",
         lambda a, o: [_ce_part(a["logits"], a["labels"], "logits", "weights")], ("weights",)),
    Spec("class_logits_to_score", "class_score",
         lambda a, o: [Part(logsumexp(a["class_logits"])[:, None],
                            {"class_logits": softmax(a["class_logits"])},
                            scale=np.max(np.abs(a["class_logits"]), axis=-1, keepdims=True) + 1)],
         reductions=("none",)),
    Spec("semi_supervised_critic_loss", "sgan", _sgan_parts, reductions=("mean", "sum"),
         options=lambda b: st.fixed_dictionaries({"supervised_weight": factors(3.0)})),
]
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
SCORE_SPECS = [s for s in SPECS if s.kind in {"pair", "single", "l1"}]
PAIR_SPECS = [s for s in SPECS if s.kind == "pair"]
WEIGHTED_SPECS = [s for s in SPECS if s.weights]


def test_every_public_loss_has_a_spec() -> None:
    # gradient_penalty, r1_penalty and clip_weights: test_gradient_penalty.py; the others:
    # test_losses.py.
    others = {"generic_only", "gradient_penalty", "r1_penalty", "clip_weights",
              "label_flip_mask"}
    functions = {n for n in gl.__all__ if inspect.isfunction(getattr(gl, n))}
    assert functions - others == set(SPEC_BY_NAME)


# --- strategies --------------------------------------------------------------------------

PATCHES = [(), (1,), (3, 3, 1), (1, 4, 4)]

# Extreme logits are what the stable forms are for; moderate ones exercise the curvature.
LOGITS = st.one_of(
    st.floats(-1e4, 1e4, width=32, allow_subnormal=False),
    st.floats(-30, 30, width=32, allow_subnormal=False),
    st.sampled_from([-1e4, 1e4, 0.0, 1.0, -1.0]),
)


def scores(shape: tuple[int, ...], elements: st.SearchStrategy = LOGITS) -> st.SearchStrategy:
    return hnp.arrays(np.float32, shape, elements=elements)


def weight_values(shape: tuple[int, ...], full: bool) -> st.SearchStrategy:
    elements = factors(4.0)
    choices = [st.none(), hnp.arrays(np.float32, shape[:1], elements=elements)]
    if full and len(shape) > 1:
        choices.append(hnp.arrays(np.float32, shape, elements=elements))
    return st.one_of(*choices)


@dataclass
class Case:
    arrays: dict[str, np.ndarray]
    reduction: str
    weights: dict[str, np.ndarray | None] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def kwargs(self, spec: Spec) -> dict[str, Any]:
        kw = dict(self.options)
        if spec.kind != "class_score":
            kw["reduction"] = self.reduction
        kw.update({k: v for k, v in self.weights.items() if v is not None})
        return kw

    def as_float64(self) -> Case:
        arrays = {k: v.astype(np.float64) if v.dtype.kind == "f" else v
                  for k, v in self.arrays.items()}
        weights = {k: None if v is None else v.astype(np.float64) for k, v in self.weights.items()}
        return Case(arrays, self.reduction, weights, self.options)


@st.composite
def cases(draw: Any, spec: Spec, patches: list[tuple[int, ...]] = PATCHES,
          reductions: tuple[str, ...] | None = None) -> Case:
    reduction = draw(st.sampled_from(reductions or spec.reductions))
    batch = draw(st.integers(1, 9))
    patch = draw(st.sampled_from(patches))
    arrays: dict[str, np.ndarray] = {}
    if spec.kind in {"pair", "sgan"}:
        other = batch if reduction == "none" else draw(st.integers(1, 9))
        arrays["real"] = draw(scores((batch, *patch)))
        arrays["fake"] = draw(scores((other, *patch)))
    elif spec.kind == "single":
        arrays["fake"] = draw(scores((batch, *patch)))
    elif spec.kind == "l1":
        arrays["real"] = draw(scores((batch, *patch)))
        arrays[spec.second] = draw(scores((batch, *patch)))
    if spec.kind in {"classes", "class_score", "sgan"}:
        k = draw(st.integers(1, 5))
        name = {"classes": "logits", "class_score": "class_logits"}.get(spec.kind,
                                                                        "labeled_logits")
        n = draw(st.integers(1, 9))
        arrays[name] = draw(scores((n, k)))
        if spec.kind != "class_score":
            arrays["labels"] = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    weights = {}
    for wname in spec.weights:
        shape = arrays[spec.weight_target(wname)].shape
        weights[wname] = draw(weight_values(shape, full=spec.kind != "classes"))
    options = draw(spec.options(batch))
    return Case(arrays, reduction, weights, options)


def reference(spec: Spec, case: Case) -> tuple[Any, float, dict, dict]:
    """The analytic loss (float64), its float32 error scale, gradients and their scales."""
    c64 = case.as_float64()
    return analytic(spec.parts(c64.arrays, case.options), c64.arrays, c64.weights,
                    case.reduction)


def numpy_loss(spec: Spec, case: Case) -> np.ndarray:
    """The gancore loss on float64 numpy arrays: the reference every backend must match."""
    c64 = case.as_float64()
    return np.asarray(spec.fn(**c64.arrays, **c64.kwargs(spec)))


def run(backend: Any, spec: Spec, case: Case) -> tuple[Any, dict[str, Any]]:
    return value_and_grads(backend, spec.fn, case.arrays, spec.scores, **case.kwargs(spec))


# --- 1. differential tests against the numpy reference ------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@given(data=st.data())
def test_loss_matches_numpy_reference(spec: Spec, backend: Any, data: st.DataObject) -> None:
    case = data.draw(cases(spec), label="case")
    expected, scale, expected_grads, grad_scales = reference(spec, case)
    oracle = numpy_loss(spec, case)
    # The numpy reference itself is the documented formula.
    np.testing.assert_allclose(oracle, expected, rtol=1e-9, atol=1e-12 * scale)

    out, grads = run(backend, spec, case)
    assert isinstance(out, tensor_type(backend))
    assert backend.ops.dtype_name(out) == "float32"
    value = to_numpy(backend, out)
    assert np.all(np.isfinite(value)), value
    assert value.shape == oracle.shape
    np.testing.assert_allclose(value, oracle, rtol=1e-5, atol=1e-5 * scale)
    for name, grad in grads.items():
        g = to_numpy(backend, grad)
        assert np.all(np.isfinite(g)), (name, g)
        assert g.shape == case.arrays[name].shape
        want = np.broadcast_to(expected_grads[name], g.shape)
        # Softmax gradients of float32 logits are only as exact as the logits' magnitude.
        cond = 1.0 + (np.max(np.abs(case.arrays[name])) if name.endswith("logits") else 0.0)
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5 * cond * grad_scales[name],
                                   err_msg=name)


def _fixed_case(spec: Spec, dtype: type) -> Case:
    """A deterministic small example (batch 3, a 2x2 patch map where allowed)."""
    rng = np.random.default_rng(0)
    shape = (3, 2, 2) if spec.kind in {"pair", "single", "l1"} else (3, 4)
    arrays = {name: (rng.normal(size=shape) * 3).astype(dtype) for name in spec.scores}
    if spec.kind in {"classes", "sgan"}:
        arrays["labels"] = np.array([0, 3, 1])
    return Case(arrays, spec.reductions[0])


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_float64_stays_float64_values_and_gradients(spec: Spec, backend: Any) -> None:
    case = _fixed_case(spec, np.float64)
    out, grads = run(backend, spec, case)
    assert backend.ops.dtype_name(out) == "float64"
    np.testing.assert_allclose(to_numpy(backend, out), numpy_loss(spec, case), rtol=1e-12,
                               atol=1e-12)
    _, _, expected_grads, _ = reference(spec, case)
    for name, grad in grads.items():
        assert backend.ops.dtype_name(grad) == "float64", name
        np.testing.assert_allclose(to_numpy(backend, grad), expected_grads[name], rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_numpy_in_numpy_out_in_the_same_dtype(spec: Spec, dtype: type) -> None:
    case = _fixed_case(spec, dtype)
    out = spec.fn(**case.arrays, **case.kwargs(spec))
    assert isinstance(out, (np.ndarray, np.generic))
    assert out.dtype == dtype
    expected, *_ = reference(spec, case)
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


# --- 2. invariants ------------------------------------------------------------------------


# The invariants are cheaper to break than the differential tests: half their examples.
invariant_settings = settings(max_examples=max(5, settings().max_examples // 2))


def call(backend: Any, spec: Spec, case: Case, **overrides: Any) -> np.ndarray:
    arrays = {k: native(backend, v) for k, v in case.arrays.items()}
    kwargs = {**case.kwargs(spec), **overrides}
    return to_numpy(backend, spec.fn(**arrays, **kwargs))


@pytest.mark.parametrize("spec", SCORE_SPECS, ids=repr)
@invariant_settings
@given(data=st.data())
def test_patch_map_equals_its_flattened_form(spec: Spec, any_backend: Any,
                                             data: st.DataObject) -> None:
    case = data.draw(cases(spec, patches=[(3, 3, 1), (1, 4, 4), (2, 3)]), label="case")
    flat = Case(
        {k: v.reshape(v.shape[0], -1) for k, v in case.arrays.items()},
        case.reduction,
        {k: v if v is None or v.ndim == 1 else v.reshape(v.shape[0], -1)
         for k, v in case.weights.items()},
        case.options,
    )
    _, scale, *_ = reference(spec, case)
    patch_value = call(any_backend, spec, case)
    flat_value = call(any_backend, spec, flat)
    np.testing.assert_allclose(patch_value.reshape(flat_value.shape), flat_value, rtol=1e-6,
                               atol=1e-6 * scale)


@pytest.mark.parametrize("spec", [s for s in SPECS if "none" in s.reductions and
                                  s.kind != "class_score"], ids=repr)
@invariant_settings
@given(data=st.data())
def test_none_keeps_the_shape_and_sum_and_mean_reduce_it(spec: Spec, any_backend: Any,
                                                         data: st.DataObject) -> None:
    case = data.draw(cases(spec, reductions=("none",)), label="case")
    _, scale, *_ = reference(spec, case)
    elementwise = call(any_backend, spec, case)
    first = case.arrays[spec.scores[0]]
    assert elementwise.shape == (first.shape if spec.kind != "classes" else first.shape[:1])
    total = call(any_backend, spec, case, reduction="sum")
    mean = call(any_backend, spec, case, reduction="mean")
    assert total.shape == mean.shape == ()
    np.testing.assert_allclose(total, np.sum(elementwise, dtype=np.float64), rtol=1e-5,
                               atol=1e-5 * scale * elementwise.size)
    np.testing.assert_allclose(mean, np.mean(elementwise, dtype=np.float64), rtol=1e-5,
                               atol=1e-5 * scale)


@pytest.mark.parametrize("spec", WEIGHTED_SPECS, ids=repr)
@invariant_settings
@given(data=st.data())
def test_weights_scale_linearly(spec: Spec, any_backend: Any, data: st.DataObject) -> None:
    case = data.draw(cases(spec), label="case")
    unweighted_case = Case(case.arrays, case.reduction, {}, case.options)
    _, scale, *_ = reference(spec, unweighted_case)
    ones = {w: np.ones(case.arrays[spec.weight_target(w)].shape[:1], np.float32)
            for w in spec.weights}
    np.testing.assert_allclose(call(any_backend, spec, unweighted_case, **ones),
                               call(any_backend, spec, unweighted_case),
                               rtol=1e-6, atol=1e-6 * scale)

    weights = {w: (v if v is not None else ones[w]) for w, v in case.weights.items()}
    _, scale, *_ = reference(spec, Case(case.arrays, case.reduction, weights, case.options))
    once = call(any_backend, spec, case, **weights)
    twice = call(any_backend, spec, case, **{w: 2 * v for w, v in weights.items()})
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-6, atol=1e-5 * scale)
    # Native weights are taken like numpy ones.
    native_weights = {w: native(any_backend, v) for w, v in weights.items()}
    np.testing.assert_allclose(call(any_backend, spec, case, **native_weights), once, rtol=1e-6,
                               atol=1e-6 * scale)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("spec", PAIR_SPECS, ids=repr)
def test_critic_losses_take_different_real_and_fake_batches(spec: Spec, reduction: str,
                                                            any_backend: Any) -> None:
    rng = np.random.default_rng(1)
    case = Case({"real": rng.normal(size=(3, 2)).astype(np.float32),
                 "fake": rng.normal(size=(7, 2)).astype(np.float32)}, reduction)
    expected, *_ = reference(spec, case)
    np.testing.assert_allclose(call(any_backend, spec, case), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(gancore.InvalidArgumentError, match=r"same shape for reduction='none'"):
        call(any_backend, spec, case, reduction="none")


# --- 4. label flipping and smoothing -------------------------------------------------------


@st.composite
def flip_cases(draw: Any) -> tuple[np.ndarray, np.ndarray, float, int, float, str]:
    batch = draw(st.integers(1, 9))
    patch = draw(st.sampled_from([(), (1,), (2, 2)]))
    real = draw(scores((batch, *patch)))
    fake = draw(scores((draw(st.integers(1, 9)), *patch)))
    fraction = draw(st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.25]))
    return real, fake, fraction, seed, smoothing, draw(st.sampled_from(["mean", "sum"]))


@pytest.mark.parametrize("loss", ["minimax_critic_loss", "least_squares_critic_loss"])
@given(case=flip_cases())
def test_label_flipping_matches_the_hand_computed_reference(
    loss: str, any_backend: Any, case: tuple
) -> None:
    real, fake, fraction, seed, smoothing, reduction = case
    mask = gl.label_flip_mask(real.shape[0], fraction, seed)
    # Flipped real samples take the fake label 0; the others 1 - smoothing.
    target = np.where(mask, 0.0, 1.0 - smoothing).reshape((-1,) + (1,) * (real.ndim - 1))
    r, f = real.astype(np.float64), fake.astype(np.float64)
    red = np.mean if reduction == "mean" else np.sum
    if loss == "minimax_critic_loss":
        expected = red(softplus(r) - target * r) + red(softplus(f))
        scale = red(np.abs(r) + 1) + red(np.abs(f) + 1)
    else:
        expected = 0.5 * (red((r - target) ** 2) + red(f**2))
        scale = red((np.abs(r) + 1) ** 2) + red(f**2 + 1)
    out = getattr(gl, loss)(native(any_backend, real), native(any_backend, fake),
                            flip_fraction=fraction, rng=seed, smoothing=smoothing,
                            reduction=reduction)
    np.testing.assert_allclose(to_numpy(any_backend, out), expected, rtol=1e-5,
                               atol=1e-5 * scale)


# --- 5. fused overrides are held to the generic loss ----------------------------------------


def test_overrides_are_public_losses(backend: Any) -> None:
    assert set(backend.ops.loss_overrides) <= set(SPEC_BY_NAME)


@given(data=st.data())
def test_overrides_match_the_generic_loss(backend: Any, data: st.DataObject) -> None:
    names = sorted(backend.ops.loss_overrides)
    if not names:
        pytest.skip(f"backend {backend.name} registers no fused loss")
    spec = SPEC_BY_NAME[data.draw(st.sampled_from(names), label="override")]
    case = data.draw(cases(spec), label="case")
    _, scale, _, grad_scales = reference(spec, case)
    fused, fused_grads = run(backend, spec, case)
    with gl.generic_only():
        generic, generic_grads = run(backend, spec, case)
    np.testing.assert_allclose(to_numpy(backend, fused), to_numpy(backend, generic), rtol=1e-5,
                               atol=1e-5 * scale)
    for name in spec.scores:
        np.testing.assert_allclose(to_numpy(backend, fused_grads[name]),
                                   to_numpy(backend, generic_grads[name]),
                                   rtol=1e-4, atol=1e-5 * grad_scales[name], err_msg=name)
