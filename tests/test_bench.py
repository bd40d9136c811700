"""`gancore bench`: the plan, the counting, the failure handling, and a quick run per backend
that writes every output. No test asserts a time (STYLE.md 10)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import ALL_FRAMEWORKS, load_backend

from gancore import InvalidArgumentError, bench
from gancore.architectures import dcgan
from gancore.bench._catalog import (
    BASELINE_STYLE,
    BASELINES,
    COMPILED_TWINS,
    EAGER_TWINS,
    WORKLOADS,
    Job,
    check_names,
    plan_jobs,
)
from gancore.bench._flops import PASSES, forward_macs, step_flops
from gancore.bench._losses import CASES, public_losses
from gancore.bench._measure import MemoryProbe, Summary, measure_interleaved, speedup
from gancore.bench._runner import Group


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_every_public_loss_has_benchmark_inputs() -> None:
    assert set(public_losses()) == set(CASES)


def test_plan_expands_workloads_modes_and_batches() -> None:
    jobs = plan_jobs(("torch", "tensorflow"), ("losses", "dcgan"), None, ("hinge_critic_loss",),
                     quick=False)
    keys = {(j.backend, j.workload, j.mode, j.batch) for j in jobs}
    assert ("torch", "dcgan", "compile", 64) in keys
    assert ("tensorflow", "dcgan", "xla", 64) in keys
    assert ("tensorflow", "losses", "eager", 1024) in keys
    assert ("tensorflow", "dcgan", "eager", 64) not in keys  # TF trains in tf.function
    assert [j.id for j in jobs] == list(range(len(jobs)))
    assert [j.backend for j in jobs] == sorted((j.backend for j in jobs), key="torch".__ne__)


def test_quick_plan_takes_each_backends_default_mode() -> None:
    jobs = plan_jobs(("torch", "tensorflow"), tuple(WORKLOADS), None, ("hinge_critic_loss",),
                     quick=True)
    assert {(j.backend, j.mode) for j in jobs} == {("torch", "eager"),
                                                   ("tensorflow", "function")}
    assert {j.batch for j in jobs if j.workload == "dcgan"} == set(WORKLOADS["dcgan"].quick_batches)


def test_names_are_checked_with_what_is_allowed() -> None:
    assert check_names("workloads", ["mixture,dcgan"], list(WORKLOADS)) == ("dcgan", "mixture")
    with pytest.raises(InvalidArgumentError, match=r"workloads must be among .*received gan"):
        check_names("workloads", ["gan"], list(WORKLOADS))


def test_bad_option_returns_2(tmp_path: Path) -> None:
    assert bench.run(_args("--workloads", "nope", "--out", str(tmp_path))) == 2


def test_dcgan_flops_from_the_spec_shapes() -> None:
    arch = dcgan((28, 28, 1))
    # Dense 100x12544 + ConvT 7*7*256*9*128 + ConvT 14*14*128*9*64 + ConvT 14*14*64*9*1
    assert forward_macs(arch.generator) == 1_254_400 + 14_450_688 + 14_450_688 + 112_896
    # Conv 14*14*32*9*1 + Conv 7*7*64*9*32 + Conv 4*4*128*9*64 + Dense 2048
    assert forward_macs(arch.critic) == 56_448 + 903_168 + 1_179_648 + 2_048
    g, d = PASSES["dcgan"]
    expected = 2 * 64 * (g * forward_macs(arch.generator) + d * forward_macs(arch.critic))
    assert step_flops("dcgan", arch.generator, arch.critic, 64) == expected
    # reused fakes: the generator's second forward pass is not run, and not counted
    reused = step_flops("dcgan", arch.generator, arch.critic, 64, reuse_fakes=True)
    assert expected - reused == 2 * 64 * forward_macs(arch.generator)


def test_summary_and_interleaved_rounds() -> None:
    s = Summary.of([3.0, 1.0, 2.0])
    assert (s.median, s.min, s.max, s.n) == (2.0, 1.0, 3.0, 3)
    assert s.inverse().to_dict() == {"median": 0.5, "min": 1 / 3, "max": 1.0, "n": 3}
    calls: list[str] = []
    runs = {name: (lambda n, name=name: calls.append(name)) for name in "abc"}
    sides, rounds = measure_interleaved(runs, steps=2, repeats=4)
    # every round runs each side once; the order rotates, and the next cycle of rotations
    # runs backwards, so no side always goes first, or always after the same neighbour
    assert calls == [*"abc", *"bca", *"cab", *"cba"]
    calls.clear()
    measure_interleaved(runs, steps=1, repeats=6)
    assert ["".join(calls[i:i + 3]) for i in range(0, 18, 3)] == ["abc", "bca", "cab", "cba",
                                                                  "acb", "bac"]
    assert {name: r.step_s.n for name, r in sides.items()} == {"a": 4, "b": 4, "c": 4}
    wall, cpu = speedup(rounds, "a", "b")
    assert wall.n == cpu.n == 4 and wall.min > 0


def test_interleaved_rounds_in_slices_run_every_step_in_turns() -> None:
    calls: list[tuple[str, int]] = []
    runs = {name: (lambda n, name=name: calls.append((name, n))) for name in "ab"}
    sides, rounds = measure_interleaved(runs, steps=5, repeats=2, slices=2)
    # each round: both sides' first parts, then both sides' second parts; 3 + 2 = 5 steps
    assert calls == [("a", 3), ("b", 3), ("a", 2), ("b", 2), ("b", 3), ("a", 3), ("b", 2),
                     ("a", 2)]
    assert len(rounds) == 2 and {r.step_s.n for r in sides.values()} == {2}
    calls.clear()
    measure_interleaved(runs, steps=1, repeats=1, slices=4)  # never a part of 0 steps
    assert calls == [("a", 1), ("b", 1)]


def test_memory_probe_reports_a_phase() -> None:
    probe = MemoryProbe()
    probe.begin()
    block = bytearray(32 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident
    memory = probe.end()
    assert memory["peak_mib"] >= memory["rss_start_mib"] > 0
    if probe.resettable:
        assert memory["growth_mib"] >= 16


_FAKE_CHILD = """
import json, sys, time
payload = json.load(sys.stdin)
print(json.dumps({"event": "info", "info": {"framework": "fake"}}), flush=True)
for job in payload["jobs"]:
    print(json.dumps({"event": "start", "id": job["id"]}), flush=True)
    if job["workload"] == "hang":
        time.sleep(60)
    if job["workload"] == "crash":
        print("boom", file=sys.stderr)
        sys.exit(3)
    print(json.dumps({"event": "result", "id": job["id"], "result": {"status": "ok"}}),
          flush=True)
"""


def test_a_hanging_or_crashing_job_becomes_a_row_and_the_rest_runs() -> None:
    jobs = [Job(i, "fake", w, "eager", 1) for i, w in enumerate(["a", "hang", "crash", "b"])]
    results: dict[int, dict[str, Any]] = {}
    group = Group("fake", jobs, {}, timeout=2.0,
                  report=lambda job, result: results.__setitem__(job.id, result),
                  command=[sys.executable, "-c", _FAKE_CHILD])
    assert group.run() == {"framework": "fake"}
    assert [results[i]["status"] for i in range(4)] == ["ok", "timeout", "crashed", "ok"]
    assert "exit code 3: boom" in results[2]["error"]


@pytest.mark.parametrize("name", ALL_FRAMEWORKS)
def test_quick_run_writes_json_markdown_and_chart(name: str, tmp_path: Path) -> None:
    backend = load_backend(name)
    losses = ("gradient_penalty", "minimax_critic_loss")
    args = _args("--quick", "--backend", backend.name, "--workloads", "losses", "mixture",
                 "--losses", *losses, "--repeats", "1", "--out", str(tmp_path))
    assert bench.run(args) == 0

    report = json.loads((tmp_path / "results.json").read_text())
    for key in ("machine", "frameworks", "matmul_gflops", "ceiling_gflops", "import_time",
                "load_average", "settings", "targets", "results"):
        assert key in report
    assert report["machine"]["logical_cpus"] >= 1
    assert report["import_time"]["frameworks_imported"] == []
    rows = report["results"]
    assert {r["loss"] for r in rows if r["loss"]} == set(losses)
    assert all(r["status"] == "ok" for r in rows), [r.get("error") for r in rows]
    (train,) = [r for r in rows if r["workload"] == "mixture"]
    assert (backend.name, "mixture") in BASELINES
    sides = ["gancore", "baseline"]
    ratios = ["ratio", "cpu_ratio"]
    if backend.name in EAGER_TWINS:  # the compiled loop's eager twin
        sides.append("eager_baseline")
    if backend.name in EAGER_TWINS or BASELINE_STYLE[backend.name] == "eager":
        ratios.append("eager_ratio")
    else:
        assert "eager_ratio" not in train
    for side in sides:
        for key in ("step_s", "steps_per_s", "samples_per_s", "gflops", "ceiling_fraction",
                    "memory", "compile_s"):
            assert key in train[side], (side, key)
    for key in ratios:
        assert {"median", "min", "max", "n"} <= set(train[key])
    assert train["flops_per_step"] > 0
    assert {"target", "measured", "met"} <= set(report["targets"][-1])
    assert report["targets"][-1]["target"].startswith("import gancore")
    assert report["import_time"]["dependencies_seconds"]["n"] >= 1

    text = (tmp_path / "results.md").read_text()
    assert "| backend | workload | mode |" in text and "mixture" in text
    assert "## Losses" in text and "gradient_penalty" in text
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("name, mode", sorted(COMPILED_TWINS))
def test_a_compiled_mode_is_also_compared_with_the_loop_compiled_alike(
        name: str, mode: str, tmp_path: Path) -> None:
    backend = load_backend(name)
    args = _args("--quick", "--backend", backend.name, "--workloads", "mixture", "--modes",
                 mode, "--repeats", "1", "--out", str(tmp_path))
    assert bench.run(args) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    (row,) = report["results"]
    assert row["status"] == "ok", row.get("error")
    assert row["mode"] == mode
    for side in ("gancore", "baseline", "compiled_baseline"):
        assert row[side]["steps_per_s"] > 0 and row[side]["ceiling_fraction"] > 0
    assert {"median", "min", "max", "n"} <= set(row["compiled_ratio"])
    (goal,) = [t for t in report["targets"] if "compiled alike" in t["target"]]
    assert goal["measured"] == row["compiled_ratio"]["median"]
    assert goal["met"] == (goal["measured"] >= 0.97)
    text = (tmp_path / "results.md").read_text()
    assert "gancore / hand-written compiled alike" in text
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")


def test_the_compiled_torch_loop_computes_what_the_eager_one_does() -> None:
    """The torch.compile twin of the hand-written loop is the same loop: from one seed, its
    losses after three iterations are the eager loop's (to float32 rounding)."""
    load_backend("torch")
    import torch

    from gancore.bench.baselines import torch_pacgan

    points = np.random.default_rng(0).normal(size=(400, 2)).astype(np.float32)
    losses = []
    for compiled in (False, True):
        torch.manual_seed(3)  # the networks' initial weights (drawn before the loop's seed)
        loop = torch_pacgan.mixture_loop(points, batch_size=50, seed=3, compiled=compiled)
        losses.append(loop.train(3))
    eager, compiled = losses
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("workload", ["dcgan", "wgan_gp", "mixture"])
def test_the_hand_written_jax_loops_have_gancores_networks(workload: str) -> None:
    """The JAX loop's networks have as many trainable values, in the same shapes, as the
    architecture gancore runs for the workload: both sides do the same work. (Shapes by
    abstract evaluation: nothing compiles.)"""
    load_backend("jax")
    import jax

    from gancore.bench._training import setup
    from gancore.bench.baselines import jax_dcgan, jax_pacgan
    from gancore.nn import parameter_shapes, trainable_names

    networks = {"dcgan": (jax_dcgan.generator(), jax_dcgan.critic()),
                "wgan_gp": (jax_dcgan.generator(), jax_dcgan.critic(layer_norm=True)),
                "mixture": (jax_pacgan.generator(), jax_pacgan.critic())}
    s = setup(Job(0, "jax", workload, "jit", 4))
    assert s.baseline is not None and s.eager_baseline is None
    specs = (s.architecture.generator, s.architecture.critic)
    for net, spec in zip(networks[workload], specs, strict=True):
        params, _ = jax.eval_shape(net.init, jax.random.key_data(jax.random.key(0)))
        shapes = parameter_shapes(spec)
        want = sorted(shapes[name] for name in trainable_names(spec))
        assert sorted(tuple(a.shape) for a in jax.tree_util.tree_leaves(params)) == want


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_workers_scaling_writes_each_configuration(name: str, tmp_path: Path) -> None:
    """`gancore bench --workers 2`: one process on one and two threads, two workers of one
    thread, the same global batch; steps/s of each round, the efficiency, the bytes."""
    backend = load_backend(name)
    args = _args("--workers", "2", "--quick", "--backend", backend.name, "--workloads",
                 "dcgan", "--out", str(tmp_path))
    assert bench.run(args) == 0
    report = json.loads((tmp_path / "workers.json").read_text())
    (row,) = report["rows"]
    assert "error" not in row, row.get("error")
    assert report["configs"] == ["1 process, 1 thread", "1 process, 2 threads",
                                 "2 workers, 1 thread each"]
    for config in report["configs"]:
        assert len(row[config]["rounds"]) == 1 and row[config]["median"] > 0
    single = row["1 process, 1 thread"]["median"]
    assert row["efficiency"] == pytest.approx(
        row["2 workers, 1 thread each"]["median"] / (2 * single))
    # The DCGAN 28x28's trainable float32 parameters: critic once (1 critic step) plus
    # generator, counted from the specs.
    from gancore.nn import parameter_shapes, trainable_names

    arch = dcgan((28, 28, 1))
    count = sum(int(np.prod(parameter_shapes(spec)[n])) for spec in (arch.critic,
                arch.generator) for n in trainable_names(spec))
    assert row["allreduce_bytes_per_step"] == 4 * count
    assert "2 workers, 1 thread each (steps/s)" in (tmp_path / "workers.md").read_text()


def test_workers_scaling_refuses_one_worker(tmp_path: Path) -> None:
    assert bench.run(_args("--workers", "1", "--out", str(tmp_path))) == 2
