"""The `gancore` command line: train, sample, eval, bench, recipes, backends, plugins.

Each subcommand imports what it needs when it runs, so `gancore backends` and
`gancore plugins` never import a deep-learning framework.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from gancore._errors import GancoreError

__all__ = ["main"]


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_backends(args: argparse.Namespace) -> int:
    from gancore._backend import describe_backends

    rows = []
    for info in describe_backends():
        rows.append([info.name, info.framework, info.framework_version or "not installed",
                     ",".join(info.devices), f"{info.distribution} {info.version}"])
    print(_table(rows, ["backend", "framework", "version", "devices", "provided by"]))
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from gancore import _registry

    rows = []
    for group in _registry.GROUPS:
        for info in _registry.list_plugins(group):
            try:
                _registry.load_plugin(group, info.name)
                status = "ok"
            except GancoreError as e:
                status = f"broken: {e}"
            rows.append([group, info.name, info.distribution, info.version, status])
    print(_table(rows, ["group", "name", "distribution", "version", "loads"]))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gancore", description="GANs written once, run on PyTorch or TensorFlow."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("backends", help="list the installed backends (imports no framework)")
    p.set_defaults(run=_cmd_backends)
    p = sub.add_parser("plugins", help="list every plugin and whether it loads")
    p.set_defaults(run=_cmd_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return int(args.run(args))
    except GancoreError as e:
        print(f"gancore: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
