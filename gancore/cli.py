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

from gancore._errors import GancoreError, TrainingStopped

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
                "checkpoint_every", "keep_checkpoints", "overwrite")


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
    from gancore.training import resume, train

    s = _train_settings(args)
    data_options = dict(s["data"])
    if s.get("data_path"):
        data_options["folder"] = s["data_path"]
    common = {"steps": s.get("steps"), "device": s.get("device", "auto"),
              "progress": not args.no_progress, "compile": bool(s.get("compile", False)),
              "keep_checkpoints": s.get("keep_checkpoints", 3)}
    if args.resume:
        _check_resume_flags(args.resume, s, data_options)
        result = resume(args.resume, backend=s.get("backend"), config=s["train"], **common)
        verb = "resumed and trained to"
    else:
        result = train(
            s.get("recipe", "dcgan"), backend=s.get("backend"), out_dir=s.get("out"),
            seed=s.get("seed"), config=s["train"], architecture=s.get("arch"),
            architecture_options=s["architecture"], dataset=s.get("dataset"),
            dataset_options=data_options, overwrite=bool(s.get("overwrite", False)), **common,
        )
        verb = "trained"
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items() if k != "step")
    print(f"{verb} {result.trainer.step} steps on {result.trainer.backend.name} in "
          f"{result.seconds:.1f} s ({shown})")
    print(f"wrote {result.out_dir}/: samples.png, losses.png, metrics.jsonl, checkpoint/")
    return 0


def _check_resume_flags(run_dir: str, s: dict[str, Any], data_options: dict[str, Any]) -> None:
    """With --resume, a flag that names the run (recipe, architecture, data, seed, ...) must
    agree with the run's own settings: a different value would make another run."""
    import os

    from gancore.training._run_folder import RunFolder

    if s.get("out") is not None:
        raise GancoreError(f"--out cannot be given with --resume: the run writes {run_dir}")
    if s.get("overwrite"):
        raise GancoreError("--overwrite cannot be given with --resume: choose one")
    saved = RunFolder(run_dir).settings()["settings"]
    if "folder" in data_options:
        data_options["folder"] = os.path.abspath(data_options["folder"])
    given = {"--recipe": (s.get("recipe"), saved.get("recipe")),
             "--arch": (s.get("arch"), saved.get("architecture")),
             "--dataset": (s.get("dataset"), saved.get("dataset")),
             "[architecture]": (s["architecture"] or None, saved.get("architecture_options")),
             "--data / [data]": (data_options or None, saved.get("dataset_options"))}
    for flag, (value, run_value) in given.items():
        if value is not None and value != run_value:
            raise GancoreError(
                f"{flag} cannot change when resuming {run_dir}: the run has {run_value!r}; "
                f"received {value!r}"
            )
    if s.get("seed") is not None:
        s["train"]["seed"] = s["seed"]


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
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every",
                   help="write a step-numbered checkpoint every N steps (0: only at the end)")
    p.add_argument("--keep-checkpoints", type=int, dest="keep_checkpoints",
                   help="how many numbered checkpoints to keep (default 3)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its latest checkpoint (--steps may "
                        "raise its length; --backend may change)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run that --out holds (its outputs only)")
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
    except TrainingStopped as e:
        print(f"gancore: {e}", file=sys.stderr)
        return 128 + e.signal
    except GancoreError as e:
        print(f"gancore: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
