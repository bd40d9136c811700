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
    except InvalidArgumentError as e:
        print(f"gancore bench: {e}")
        return 2
    report = run_benchmarks(settings)
    paths = write_outputs(report, settings.out)
    print(console_table(report))
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0 if any(r.get("status") == "ok" for r in report["results"]) else 1
