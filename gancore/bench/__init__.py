"""`gancore bench`: the same GAN workloads on every installed backend, against hand-written
loops, as a table, JSON, Markdown and a PNG chart.

Workloads: the forward and backward pass of every loss (batch 64 and 1024), and full
training steps (critic + generator) of the DCGAN 28x28, WGAN-GP, the conditional DCGAN, a
small CycleGAN and PacGAN's 2-D mixture MLPs, in each execution mode (torch eager and
torch.compile; tf.function with and without XLA). The DCGAN, WGAN-GP and mixture steps are
measured in interleaved rounds with the hand-written loops of `gancore.bench.baselines` (on
TensorFlow, also with the same loop run eagerly, the reference of the compiled paths).
Each (backend, mode) runs in its own process, so a failing or too slow compile becomes a
row of the table. The method and the meaning of every column: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse

from gancore._errors import InvalidArgumentError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `gancore bench`'s options to `parser`."""
    parser.add_argument("--quick", action="store_true",
                        help="tiny batches, few short repeats, default modes: under 2 minutes")
    parser.add_argument("--backend", nargs="+", metavar="NAME",
                        help="backends to measure (default: every installed one)")
    parser.add_argument("--workloads", nargs="+", metavar="NAME",
                        help="losses, dcgan, wgan_gp, cdcgan, cyclegan, mixture (default: all)")
    parser.add_argument("--losses", nargs="+", metavar="NAME",
                        help="the losses of the losses workload (default: every one)")
    parser.add_argument("--modes", nargs="+", metavar="MODE",
                        help="eager, compile, function, xla (default: all; --quick: each "
                             "backend's default)")
    parser.add_argument("--out", default="bench-results",
                        help="folder for results.json, results.md, results.png "
                             "(default: bench-results)")
    parser.add_argument("--repeats", type=int, help="timed repeats (default 9; --quick 5)")
    parser.add_argument("--min-time", type=float, metavar="SECONDS",
                        help="length of one repeat of a training step (default 1; --quick 0.1)")
    parser.add_argument("--threads", type=int,
                        help="intra-op threads of each framework (default: one per core; "
                             "--quick 1)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="instead: data-parallel scaling of N workers against one process "
                             "at the same global batch (torch and tensorflow; dcgan and "
                             "wgan_gp)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="longest a job may take, compilation included, before it is "
                             "recorded as a timeout (default 900; --quick 120)")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark `args` describe, print the table, write the files.

    Returns 0 when at least one job succeeded, 1 when none did, 2 on a bad option.
    """
    from gancore.bench._harness import BenchSettings, console_table, run_benchmarks, write_outputs

    try:
        settings = BenchSettings.from_args(args)
        if getattr(args, "workers", None) is not None:
            return _run_scaling(args, settings)
    except InvalidArgumentError as e:
        print(f"gancore bench: {e}")
        return 2
    report = run_benchmarks(settings)
    paths = write_outputs(report, settings.out)
    print(console_table(report))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0 if any(r.get("status") == "ok" for r in report["results"]) else 1


def _run_scaling(args: argparse.Namespace, settings: object) -> int:
    """`gancore bench --workers N`: the scaling table, workers.json and workers.md."""
    import json

    from gancore.bench._workers import WORKLOADS, run_scaling, scaling_table

    workloads = tuple(w for w in (args.workloads or WORKLOADS) if w in WORKLOADS)
    if not workloads:
        raise InvalidArgumentError(
            f"workloads must include one of {', '.join(WORKLOADS)} with --workers; received "
            f"{', '.join(args.workloads)}"
        )
    quick = bool(args.quick)
    report = run_scaling(
        settings.backends, args.workers, workloads=workloads,  # type: ignore[attr-defined]
        batch=16 if quick else 64, rounds=args.repeats or (1 if quick else 3),
        warmup=1 if quick else 3, steps=3 if quick else 20,
        timeout=settings.timeout_s)  # type: ignore[attr-defined]
    out = settings.out  # type: ignore[attr-defined]
    out.mkdir(parents=True, exist_ok=True)
    (out / "workers.json").write_text(json.dumps(report, indent=2))
    table = scaling_table(report)
    (out / "workers.md").write_text(
        f"# Data-parallel scaling, {report['workers']} workers, global batch "
        f"{report['batch']}\n\n{table}\n")
    print(table)
    print(f"\nwrote {out / 'workers.json'}, {out / 'workers.md'}")
    return 0 if any("error" not in r for r in report["rows"]) else 1
