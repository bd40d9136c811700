"""The `gancore` command line: train, sample, eval, bench, recipes, backends, plugins.

Each subcommand imports what it needs when it runs, so `gancore backends` and
`gancore plugins` never import a deep-learning framework.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

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


_TRAIN_FLAGS = ("recipe", "backend", "steps", "seed", "out", "device", "arch", "loss",
                "dataset", "data_path", "batch_size", "compile", "sample_every",
                "checkpoint_every")


def _load_toml(path: str) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise GancoreError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise GancoreError(f"config file {path} is not valid TOML: {e}") from None


def _train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Flags over the TOML file over the recipe. Top-level TOML keys are the flags' names
    (``data_path`` for --data); tables [train], [architecture] and [data] hold training
    config, architecture options and dataset options."""
    settings: dict[str, Any] = {"train": {}, "architecture": {}, "data": {}}
    if args.config:
        loaded = _load_toml(args.config)
        allowed = set(_TRAIN_FLAGS) | set(settings)
        unknown = sorted(set(loaded) - allowed)
        if unknown:
            raise GancoreError(
                f"config keys must be among {', '.join(sorted(allowed))}; received "
                f"{', '.join(unknown)}"
            )
        for key, value in loaded.items():
            settings[key] = {**settings[key], **value} if key in ("train", "architecture",
                                                                  "data") else value
    for flag in _TRAIN_FLAGS:
        value = getattr(args, flag)
        if value is not None and value is not False:
            settings[flag] = value
    for key in ("loss", "batch_size", "sample_every", "checkpoint_every"):
        if key in settings:
            settings["train"][key] = settings.pop(key)
    return settings


def _cmd_train(args: argparse.Namespace) -> int:
    from gancore.training import train

    s = _train_settings(args)
    data_options = dict(s["data"])
    if s.get("data_path"):
        data_options["folder"] = s["data_path"]
    result = train(
        s.get("recipe", "dcgan"), backend=s.get("backend"), out_dir=s.get("out"),
        steps=s.get("steps"), seed=s.get("seed"), device=s.get("device", "auto"),
        progress=not args.no_progress, compile=bool(s.get("compile", False)),
        config=s["train"], architecture=s.get("arch"), architecture_options=s["architecture"],
        dataset=s.get("dataset"), dataset_options=data_options,
    )
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items() if k != "step")
    print(f"trained {result.trainer.step} steps on {result.trainer.backend.name} in "
          f"{result.seconds:.1f} s ({shown})")
    print(f"wrote {result.out_dir}/: samples.png, losses.png, metrics.jsonl, checkpoint/")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from gancore.training import load_checkpoint, save_samples

    ckpt = load_checkpoint(args.checkpoint)
    backend = args.backend or "numpy"
    if ckpt.architecture.kind == "cyclegan":
        if not args.input:
            raise GancoreError("a CycleGAN checkpoint translates images: pass --input FILE.npy")
        images = np.load(args.input, allow_pickle=False)
        out = ckpt.translate(images, backend=backend, device=args.device)
    else:
        out = ckpt.sample(args.n, backend=backend, labels=args.label, seed=args.seed,
                          device=args.device)
    save_samples(args.out, out)
    print(f"wrote {len(out)} samples from {args.checkpoint} on {backend} to {args.out}")
    return 0


def _cmd_recipes(args: argparse.Namespace) -> int:
    from gancore.training import RECIPES

    rows = [[r.name, r.config.algorithm, r.architecture, r.dataset, r.config.loss,
             str(r.config.steps), r.description] for r in RECIPES.values()]
    print(_table(rows, ["recipe", "algorithm", "architecture", "dataset", "loss", "steps",
                        "description"]))
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

    p = sub.add_parser("train", help="train a recipe (default: DCGAN on the 8x8 digits)")
    p.add_argument("--recipe", help="recipe name (see `gancore recipes`); default dcgan")
    p.add_argument("--backend", help="torch or tensorflow (default: torch if installed)")
    p.add_argument("--steps", type=int, help="generator steps")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--out", help="output folder (default runs/<recipe>-<backend>)")
    p.add_argument("--device", help="auto, cpu or cuda[:N]")
    p.add_argument("--arch", help="architecture (built-in or plugin) instead of the recipe's")
    p.add_argument("--loss", help="loss family (built-in or plugin) instead of the recipe's")
    p.add_argument("--dataset", help="dataset (built-in or plugin) instead of the recipe's")
    p.add_argument("--data", dest="data_path",
                   help="data folder for file-based datasets (MNIST, CIFAR-10, image folders)")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--sample-every", type=int, dest="sample_every")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every")
    p.add_argument("--compile", action="store_true", help="torch.compile / XLA steps")
    p.add_argument("--config", help="TOML file with any of these settings")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser("sample", help="draw samples from a checkpoint, on any backend")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npy (NHWC array)")
    p.add_argument("--backend", help="numpy (default), torch or tensorflow")
    p.add_argument("--device", default="auto")
    p.add_argument("--label", type=int, help="class of every sample (conditional models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input", help="CycleGAN: images to translate (.npy, NHWC in [-1, 1])")
    p.set_defaults(run=_cmd_sample)

    p = sub.add_parser("recipes", help="list the training recipes")
    p.set_defaults(run=_cmd_recipes)

    # gancore.bench and gancore.evaluation import only the standard library at import time.
    from gancore import bench, evaluation

    p = sub.add_parser("eval", help="score a checkpoint or samples against real data, "
                       "beside the real-versus-real baseline")
    evaluation.add_arguments(p)
    p.set_defaults(run=evaluation.run)

    p = sub.add_parser("bench", help="speed of every backend against hand-written loops")
    bench.add_arguments(p)
    p.set_defaults(run=bench.run)
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
