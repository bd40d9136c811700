"""What the conformance suite leaves to the JAX backend's own tests: the joint update of
``reuse_fakes`` and of a fused step, convolutions as matrix products, devices and threads,
and that listing it imports no JAX (fused steps are held equal to two updates in
tests/test_training.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import load_backend
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_training import CASES, _SameNoiseTwice

import gancore
from gancore.training import make_trainer


@pytest.fixture(scope="module")
def jax_backend() -> Any:
    return load_backend("jax")


@pytest.mark.parametrize("case", ["cgan-r1"])
def test_reusing_the_critics_fakes_is_redrawing_the_same_noise(jax_backend: Any,
                                                               case: str) -> None:
    """The joint update's pullback through the carried fakes gives the generator the
    gradient a second generator pass on the same noise gives."""
    arch, data, config = CASES[case]
    config = attrs.evolve(config, steps=2, log_every=1)
    reused = make_trainer(arch(), data(), attrs.evolve(config, reuse_fakes=True),
                          backend="jax")
    reused.fit()
    redrawn = _SameNoiseTwice(arch(), data(), config, backend="jax")
    redrawn.fit()
    for name in ("generator", "critic"):
        got, want = reused.networks()[name].get_state(), redrawn.networks()[name].get_state()
        for param, value in want.items():
            if "running" in param and name == "generator":
                continue  # reused fakes pass the generator's batch norms once, not twice
            np.testing.assert_allclose(got[param], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}.{param}")


@pytest.mark.parametrize("reuse_fakes", [False, True])
def test_each_update_compiles_once(jax_backend: Any, reuse_fakes: bool) -> None:
    """The random key a compiled step takes is placed beside the networks' arrays, as the
    key it returns is: jit compiles once per placement, so a key fresh from `seed` or
    `set_random_state` would compile each update a second time."""
    arch, data, config = CASES["nonsaturating"]
    config = attrs.evolve(config, steps=2, log_every=1, reuse_fakes=reuse_fakes)
    trainer = make_trainer(arch(), data(), config, backend="jax")
    trainer.fit()
    jax_backend.set_random_state(jax_backend.random_state())  # as a restore does
    trainer.fit(2)
    updates = [trainer._joint[False]]  # reused fakes or a fused step: one program a step
    assert [u._step._cache_size() for u in updates] == [1] * len(updates)


def test_a_step_with_experience_replay_is_not_fused(jax_backend: Any) -> None:
    """The pool draws between the critic update and the generator's inputs."""
    arch, data, config = CASES["nonsaturating"]
    trainer = make_trainer(arch(), data(), attrs.evolve(config, replay=16), backend="jax")
    assert not trainer._fused and not trainer._joint


def test_devices_and_threads_are_checked(jax_backend: Any) -> None:
    assert jax_backend.resolve_device("cpu").platform == "cpu"
    with pytest.raises(gancore.InvalidArgumentError, match=r"device must be 'auto'.*'tpu'"):
        jax_backend.resolve_device("tpu")
    jax_backend.to_native(np.zeros(2))  # XLA has started: its thread pools are fixed
    with pytest.raises(gancore.GancoreError, match="before JAX runs its first computation"):
        jax_backend.set_threads(3)


_ONE_CORE = """
import os, time, gancore
cores = os.sched_getaffinity(0)
gancore.backend("jax").set_threads(1)
import jax, jax.numpy as jnp
a = jnp.ones((1024, 1024))
product = jax.jit(jnp.dot)
product(a, a).block_until_ready()
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(30):
    product(a, a).block_until_ready()
print((time.process_time() - cpu) / (time.perf_counter() - wall))
print(all(os.sched_getaffinity(int(t)) == cores for t in os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a process that may run on two cores or more")
def test_one_thread_runs_xla_on_one_core_and_ties_no_thread_to_it() -> None:
    """XLA sizes its CPU pool by the cores the process may use, not by its flags: with
    threads 1 its products keep one core busy (two on a 2-core machine before), and every
    thread may still run on every core."""
    result = subprocess.run([sys.executable, "-c", _ONE_CORE], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    busy, free = result.stdout.split()[-2:]
    assert float(busy) < 1.4, f"CPU time / wall time {busy}: more than one core was busy"
    assert free == "True"


def test_weight_clipping_needs_parameters_not_arrays(jax_backend: Any) -> None:
    with pytest.raises(gancore.InvalidArgumentError, match="JAX arrays cannot change"):
        jax_backend.ops.clip_([jax_backend.to_native(np.ones(3))], -0.1, 0.1)


def test_listing_the_jax_backend_imports_no_jax() -> None:
    script = ("import sys, gancore; "
              "assert 'jax' in gancore.backends(); "
              "info = {i.name: i for i in gancore.describe_backends()}['jax']; "
              "assert info.distribution == 'gancore-jax', info; "
              "import gancore_jax; "
              "assert 'jax' not in sys.modules and 'jaxlib' not in sys.modules")
    env = {**os.environ, "GANCORE_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def _product_and_xla(layer: Any, x: np.ndarray, kernel: np.ndarray) -> Any:
    """(value, first and second derivatives) of a scalar function of the layer's output, by
    the patch-matrix products and by XLA's convolution."""
    import jax
    import jax.numpy as jnp
    from gancore_jax import _nn

    def run(products: bool) -> Any:
        def f(x: Any, kernel: Any) -> Any:
            token = _nn._patches.set(products)
            try:
                forward = _nn._FORWARD[type(layer)]
                y, _ = forward(layer, {"kernel": kernel}, [x], True, None)
            finally:
                _nn._patches.reset(token)
            return jnp.sum(jnp.tanh(y) * jnp.arange(y.size).reshape(y.shape) / y.size)

        first = jax.grad(f, argnums=(0, 1))
        # The input gradient's norm, differentiated again: a gradient penalty's second order.
        second = jax.grad(lambda x, k: jnp.sum(first(x, k)[0] ** 2), argnums=1)
        return f(x, kernel), *first(x, kernel), second(x, kernel)

    return run(True), run(False)


def _assert_products_match_xla(layer: Any, kernel: int, size: int, channels: int,
                               seed: int) -> None:
    """The layer on a (2, size, size + 1, channels) input: products and XLA agree in value,
    first and second derivatives, to float32 rounding of their largest entry."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, size, size + 1, channels)).astype(np.float32)
    w = rng.normal(size=(kernel, kernel, channels, channels + 1)).astype(np.float32)
    products, xla = _product_and_xla(layer, x, w)
    for got, want in zip(products, xla, strict=True):
        want = np.asarray(want)
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5 * (1 + scale))


@settings(max_examples=15, deadline=None)
@given(kernel=st.integers(1, 5), stride=st.integers(1, 3), size=st.integers(1, 9),
       channels=st.integers(1, 4), pads=st.tuples(*[st.integers(0, 3)] * 4),
       transpose=st.booleans(), seed=st.integers(0, 2**16))
def test_convolutions_as_products_compute_xlas_convolutions(
        jax_backend: Any, kernel: int, stride: int, size: int, channels: int,
        pads: tuple[int, int, int, int], transpose: bool, seed: int) -> None:
    """On a CPU, gancore-jax runs convolutions as matrix products of patches: the same
    outputs, gradients and second-order gradients as `lax.conv_general_dilated`, for any
    kernel, stride, padding and output padding."""
    from gancore.nn import _layers as L

    if transpose:
        padding, extra = min(pads[0], kernel - 1), pads[1] % stride
        layer: Any = L.ConvTranspose2D(channels + 1, kernel, stride=stride, padding=padding,
                                       output_padding=extra, use_bias=False)
        if (size - 1) * stride - 2 * padding + kernel + extra < 1:
            return
    else:
        layer = L.Conv2D(channels + 1, kernel, stride=stride, padding=pads, use_bias=False)
        if size + pads[0] + pads[1] < kernel or size + pads[2] + pads[3] < kernel:
            return
    _assert_products_match_xla(layer, kernel, size, channels, seed)


@settings(max_examples=8, deadline=None)
@given(kernel=st.integers(1, 5), stride=st.integers(2, 3), size=st.integers(1, 7),
       channels=st.integers(1, 3), padding=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_strided_transposed_convolutions_by_phases_compute_xlas(
        jax_backend: Any, kernel: int, stride: int, size: int, channels: int, padding: int,
        seed: int) -> None:
    """A strided transposed convolution whose output sides divide by its stride runs as the
    stride**2 interleaved phases of its taps (the sub-pixel form): the same outputs, first
    and second derivatives as XLA's convolution, kernels smaller than the stride (phases
    with no tap) and taps shifted past the input's edge included."""
    from gancore.nn import _layers as L

    padding = min(padding, kernel - 1)
    # The output padding that makes both sides (size and size + 1 wide) divide by stride.
    out_h = (size - 1) * stride - 2 * padding + kernel
    extra = -out_h % stride
    out_w = size * stride - 2 * padding + kernel + extra
    assume(out_h + extra >= stride and out_w % stride == 0)
    layer = L.ConvTranspose2D(channels + 1, kernel, stride=stride, padding=padding,
                              output_padding=extra, use_bias=False)
    _assert_products_match_xla(layer, kernel, size, channels, seed)


@pytest.mark.parametrize(("kernel", "stride", "padding", "extra", "size"), [
    (4, 2, 1, 0, 7),   # DCGAN-style 4/2/1: 7 -> 14
    (5, 2, 2, 1, 7),   # GANs in Action's 'same' 5/2 with output padding: 7 -> 14
    (3, 2, 1, 1, 14),  # GANs in Action's 3/2: 14 -> 28
    (1, 2, 0, 1, 3),   # kernel smaller than the stride: three phases of four are zeros
])
def test_the_phase_form_takes_the_common_generator_layers(
        jax_backend: Any, monkeypatch: pytest.MonkeyPatch, kernel: int, stride: int,
        padding: int, extra: int, size: int) -> None:
    """The generator layers GAN code uses take the phase form, and agree with XLA."""
    from gancore_jax import _nn

    from gancore.nn import _layers as L

    layer = L.ConvTranspose2D(3, kernel, stride=stride, padding=padding,
                              output_padding=extra, use_bias=False)
    rng = np.random.default_rng(kernel)
    x = rng.normal(size=(2, size, size, 2)).astype(np.float32)
    w = rng.normal(size=(kernel, kernel, 2, 3)).astype(np.float32)
    calls = []
    original = _nn._interleave_phases

    def counted(*args: Any) -> Any:
        calls.append(args[2])
        return original(*args)

    monkeypatch.setattr(_nn, "_interleave_phases", counted)
    products, xla = _product_and_xla(layer, x, w)
    assert calls and calls[0] == stride
    for got, want in zip(products, xla, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-4)
