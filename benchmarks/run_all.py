"""The full `gancore bench` run behind docs/benchmarks.md: every workload, backend and mode,
written to benchmarks/results/ (results.json, results.md, results.png).

    python benchmarks/run_all.py                # what the docs show (one thread)
    python benchmarks/run_all.py --threads 2    # any `gancore bench` option works here

One intra-op thread per framework by default: the reference machine has 2 cores shared
with other work, and with a thread per core every parallel op of a framework waits for the
thread that the OS lent to another process (docs/benchmarks.md shows what that costs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gancore import bench


def main(argv: list[str] | None = None) -> int:
    """Parse `gancore bench`'s options (results/ beside this file and one thread by
    default) and run."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_arguments(parser)
    parser.set_defaults(out=str(Path(__file__).resolve().parent / "results"), threads=1)
    return bench.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
