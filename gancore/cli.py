"""The `gancore` command line: train, sample, eval, bench, recipes, backends, plugins.

Each subcommand imports what it needs when it runs, so `gancore backends` and
`gancore plugins` never import a deep-learning framework.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

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
                "dataset", "data_path", "data_a", "data_b", "batch_size", "compile",
                "sample_every",
                "checkpoint_every", "keep_checkpoints", "overwrite", "threads", "workers",
                "sync_batch_norm", "stream", "hflip", "diffaugment", "replay",
                "replay_fraction", "feature_matching", "noise")


#: Types of the top-level keys of a TOML config (the flags' names).
_FLAG_TYPES: dict[str, tuple[type, str]] = {
    **{k: (str, "a string") for k in ("recipe", "backend", "out", "device", "arch", "loss",
                                      "dataset", "data_path", "data_a", "data_b", "diffaugment",
                                      "feature_matching", "noise")},
    **{k: (int, "an int") for k in ("steps", "seed", "batch_size", "sample_every",
                                    "checkpoint_every", "keep_checkpoints", "workers",
                                    "replay")},
    **{k: (bool, "true or false") for k in ("compile", "overwrite", "sync_batch_norm",
                                            "stream", "hflip")},
    **{k: (dict, "a table") for k in ("train", "architecture", "data")},
    "threads": ((int, str), "an int or 'auto'"),
    "replay_fraction": ((int, float), "a number"),
}
#: The flags that measure a run in epochs, and TensorBoard's (TOML keys like the others).
_TRAIN_FLAGS += ("epochs", "sample_every_epochs", "checkpoint_every_epochs", "tensorboard")
_FLAG_TYPES.update({"epochs": ((int, float), "a number"), "tensorboard": (bool, "true or false"),
                    **{k: (int, "an int") for k in ("sample_every_epochs",
                                                    "checkpoint_every_epochs")}})


def _load_toml(path: str) -> dict[str, Any]:
    import os
    import tomllib

    from gancore.data._limits import MAX_CONFIG_BYTES

    name = f"config file {path!r}"
    try:
        if os.path.isdir(path):
            raise GancoreError(f"{name} must be a TOML file; received a folder")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise GancoreError(f"config file not found: {path}") from None
    except OSError as e:
        raise GancoreError(f"{name} cannot be read: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise GancoreError(f"{name} must be at most {MAX_CONFIG_BYTES} bytes; received more")
    try:
        loaded = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise GancoreError(f"{name} is not UTF-8 text (a binary file?): {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise GancoreError(f"{name} is not valid TOML: {e}") from None
    except RecursionError:
        raise GancoreError(f"{name} nests arrays or tables too deep") from None
    for key, value in loaded.items():
        kind, wanted = _FLAG_TYPES.get(key, (object, ""))
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise GancoreError(
                f"{name}: {key} must be {wanted}; received {type(value).__name__} {value!r}"
            )
    return loaded


def _train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Flags over the TOML file over the recipe. Top-level TOML keys are the flags' names
    (``data_path`` for --data); tables [train], [architecture] and [data] hold training
    config, architecture options and dataset options."""
    settings: dict[str, Any] = {"train": {}, "architecture": {}, "data": {}}
    if args.config:
        allowed = set(_TRAIN_FLAGS) | set(settings)
        loaded = _load_toml(args.config)
        unknown = sorted(set(loaded) - allowed)
        if unknown:
            raise GancoreError(
                f"config keys must be among {', '.join(sorted(allowed))}; received "
                f"{', '.join(unknown)} in {args.config!r}"
            )
        for key, value in loaded.items():
            settings[key] = {**settings[key], **value} if key in ("train", "architecture",
                                                                  "data") else value
    for flag in _TRAIN_FLAGS:
        value = getattr(args, flag)
        if value is not None and value is not False:
            settings[flag] = value
    for key in ("loss", "batch_size", "sample_every", "checkpoint_every", "hflip",
                "diffaugment", "replay", "replay_fraction", "feature_matching", "noise"):
        if key in settings:
            settings["train"][key] = settings.pop(key)
    return settings


def _cmd_train(args: argparse.Namespace) -> int:
    from gancore.training import resume, train

    s = _train_settings(args)
    workers = s.get("workers", 1)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise GancoreError(f"workers must be an int >= 1; received {workers!r}")
    if workers > 1 and not os.environ.get("GANCORE_LAUNCHER"):
        return _launch(args, s, workers)
    data_options = dict(s["data"])
    if s.get("data_path"):
        data_options["folder"] = s["data_path"]
    if s.get("data_a") or s.get("data_b"):
        if not (s.get("data_a") and s.get("data_b")) or s.get("data_path"):
            raise GancoreError("--data-a and --data-b go together (a CycleGAN's two domains), "
                               "without --data")
        data_options["folder"], data_options["folder_b"] = s["data_a"], s["data_b"]
    if s.get("stream"):
        data_options["stream"] = True
    common = {"steps": s.get("steps"), "device": s.get("device", "auto"),
              "progress": not args.no_progress, "compile": bool(s.get("compile", False)),
              "keep_checkpoints": s.get("keep_checkpoints", 3), "threads": s.get("threads")}
    sync = s.get("sync_batch_norm")
    tensorboard = s.get("tensorboard")
    if args.resume:
        common["sync_batch_norm"] = sync
        common["tensorboard"] = tensorboard
        if any(s.get(k) is not None for k in _EPOCH_FLAGS):
            raise GancoreError("--epochs and --*-every-epochs cannot be given with --resume: "
                               "resume with --steps (run.json says the steps per epoch)")
        _check_resume_flags(args.resume, s, data_options)
        result = resume(args.resume, backend=s.get("backend"), config=s["train"], **common)
        verb = "resumed and trained to"
    else:
        result = train(
            s.get("recipe", "dcgan"), backend=s.get("backend"), out_dir=s.get("out"),
            seed=s.get("seed"), config=s["train"], architecture=s.get("arch"),
            architecture_options=s["architecture"], dataset=s.get("dataset"),
            dataset_options=data_options, overwrite=bool(s.get("overwrite", False)),
            sync_batch_norm=bool(sync), tensorboard=bool(tensorboard),
            epochs=_epochs(s), **common,
        )
        verb = "trained"
    workers_of = result.trainer.workers
    if not workers_of.is_main:
        return 0
    if workers_of.distributed:
        verb += f" (on {workers_of.world_size} workers)"
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items() if k != "step")
    print(f"{verb} {result.trainer.step} steps on {result.trainer.backend.name} in "
          f"{result.seconds:.1f} s ({shown})")
    print(f"wrote {result.out_dir}/: samples.png, losses.png, metrics.jsonl, checkpoint/")
    return 0


_EPOCH_FLAGS = ("epochs", "sample_every_epochs", "checkpoint_every_epochs")


def _epochs(s: dict[str, Any]) -> Any:
    """--epochs, --sample-every-epochs and --checkpoint-every-epochs as an `Epochs`."""
    from gancore.training import Epochs

    given = {k.removesuffix("_epochs") if k != "epochs" else k: s.get(k) for k in _EPOCH_FLAGS}
    if given["epochs"] is not None and s.get("steps") is not None:
        raise GancoreError(f"--epochs and --steps cannot both be given: choose one; received "
                           f"--epochs {given['epochs']} and --steps {s['steps']}")
    return Epochs(**given)


def _launch(args: argparse.Namespace, s: dict[str, Any], workers: int) -> int:
    """--workers N: this command as N local workers (see gancore.distributed)."""
    from gancore.distributed import launch_local
    from gancore.training import default_backend

    backend = s.get("backend")
    if backend is None and args.resume:
        from gancore.training._run_folder import RunFolder

        backend = RunFolder(args.resume).settings().get("backend")
    backend = backend or default_backend()
    return launch_local(args.argv, backend, workers)


def _check_resume_flags(run_dir: str, s: dict[str, Any], data_options: dict[str, Any]) -> None:
    """With --resume, a flag that names the run (recipe, architecture, data, seed, ...) must
    agree with the run's own settings: a different value would make another run."""
    from gancore.training._run_folder import RunFolder

    if s.get("out") is not None:
        raise GancoreError(f"--out cannot be given with --resume: the run writes {run_dir}")
    if s.get("overwrite"):
        raise GancoreError("--overwrite cannot be given with --resume: choose one")
    saved = RunFolder(run_dir).settings()["settings"]
    for key in ("folder", "folder_b"):
        if key in data_options:
            data_options[key] = os.path.abspath(data_options[key])
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

    from gancore.data._npy import read_npy
    from gancore.training import load_checkpoint, save_samples

    ckpt = load_checkpoint(args.checkpoint)
    backend = args.backend or "numpy"
    kind = ckpt.architecture.kind
    if kind == "cyclegan":
        if not args.input:
            raise GancoreError("a CycleGAN checkpoint translates images: pass --input FILE.npy")
        images = read_npy(args.input, kinds="f", ndim=(4,), what="--input")
        if not images.size or not (np.all(np.isfinite(images)) and images.min() >= -1
                                   and images.max() <= 1):
            got = (f"values from {images.min():g} to {images.max():g}" if images.size
                   else f"shape {images.shape}")
            raise GancoreError(
                f"--input {args.input!r} must hold one or more finite images in [-1, 1]; "
                f"received {got}"
            )
        out = ckpt.translate(images, backend=backend, device=args.device)
    else:
        if args.input:
            raise GancoreError(
                f"--input is for CycleGAN checkpoints, which translate images; "
                f"{args.checkpoint!r} is a {kind!r} model, which samples from noise: drop "
                f"--input"
            )
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


class _UsageError(Exception):
    """A command line argparse refuses (its message names the argument)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one `gancore: error:` line (see `main`), not usage text
    and `sys.exit` from inside the parser."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {self.prog} --help)")


class _Version(argparse.Action):
    """--version: the installed gancore's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print gancore's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        import gancore

        print(f"gancore {gancore.__version__}")
        parser.exit()


def _threads(text: str) -> int | str:
    """--threads: an int >= 1 or 'auto'."""
    if text == "auto":
        return text
    return int(_int_in(1)(text))


def _int_in(low: int, high: int | None = None) -> Any:
    """An argparse type: an int in [low, high], said in gancore's words when it is not."""
    allowed = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {allowed}; received {text!r}")
        return value

    return parse


_SEED = _int_in(0, 2**64 - 1)


def _positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0; received {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gancore", description="GANs written once, run on PyTorch or TensorFlow."
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show Python's traceback (for bug reports) instead "
                             "of one line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("backends", help="list the installed backends (imports no framework)")
    p.set_defaults(run=_cmd_backends)
    p = sub.add_parser("plugins", help="list every plugin and whether it loads")
    p.set_defaults(run=_cmd_plugins)

    p = sub.add_parser("train", help="train a recipe (default: DCGAN on the 8x8 digits)")
    p.add_argument("--recipe", help="recipe name (see `gancore recipes`); default dcgan")
    p.add_argument("--backend", help="torch or tensorflow (default: torch if installed)")
    p.add_argument("--steps", type=_int_in(1), help="generator steps")
    p.add_argument("--seed", type=_SEED, help="random seed (0 to 2**64 - 1)")
    p.add_argument("--out", help="output folder (default runs/<recipe>-<backend>)")
    p.add_argument("--device", help="auto, cpu or cuda[:N]")
    p.add_argument("--arch", help="architecture (built-in or plugin) instead of the recipe's "
                   "(of the recipe's architecture options only latent_dim and num_classes "
                   "carry over)")
    p.add_argument("--loss", help="loss family (built-in or plugin) instead of the recipe's")
    p.add_argument("--dataset", help="dataset (built-in or plugin) instead of the recipe's")
    p.add_argument("--data", dest="data_path",
                   help="data folder for file-based datasets (MNIST, CIFAR-10, image folders)")
    p.add_argument("--data-a", dest="data_a", metavar="DIR",
                   help="CycleGAN: the folder of domain A's images (with --data-b)")
    p.add_argument("--data-b", dest="data_b", metavar="DIR",
                   help="CycleGAN: the folder of domain B's images (unpaired with A's)")
    p.add_argument("--stream", action="store_true", default=None,
                   help="read the data's files lazily, a few batches ahead, instead of loading "
                        "them into memory (image_folder, mnist, fashion_mnist, npy)")
    p.add_argument("--batch-size", type=_int_in(1), dest="batch_size")
    p.add_argument("--noise", choices=("normal", "uniform"),
                   help="the generator's input noise: normal (default) or uniform in [-1, 1]")
    p.add_argument("--hflip", action="store_true", default=None,
                   help="mirror each real image with probability 1/2")
    p.add_argument("--diffaugment", metavar="POLICY",
                   help="DiffAugment of real and fake samples, e.g. color,translation,cutout")
    p.add_argument("--replay", type=_int_in(0), metavar="N",
                   help="experience replay: a pool of N past fakes for the critic (0: off)")
    p.add_argument("--replay-fraction", type=float, dest="replay_fraction",
                   help="share of the critic's fakes taken from the pool (default 0.5)")
    p.add_argument("--feature-matching", dest="feature_matching", metavar="NODE",
                   help="feature matching: the generator matches the batch mean of this "
                        "critic node's output on real and fake samples")
    p.add_argument("--sample-every", type=_int_in(0), dest="sample_every")
    p.add_argument("--checkpoint-every", type=_int_in(0), dest="checkpoint_every",
                   help="write a step-numbered checkpoint every N steps (0: only at the end)")
    p.add_argument("--epochs", type=_positive_number,
                   help="train for N passes of the critic over the data instead of --steps")
    p.add_argument("--sample-every-epochs", type=_int_in(0), dest="sample_every_epochs",
                   help="a fixed-noise sample grid every N epochs")
    p.add_argument("--checkpoint-every-epochs", type=_int_in(0),
                   dest="checkpoint_every_epochs", help="a checkpoint every N epochs")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write TensorBoard events to OUT/tensorboard (needs tensorboardX: "
                        "pip install \"gancore[tensorboard]\")")
    p.add_argument("--keep-checkpoints", type=_int_in(1), dest="keep_checkpoints",
                   help="how many numbered checkpoints to keep (default 3)")
    p.add_argument("--threads", type=_threads,
                   help="the framework's threads: N, or auto (default: $GANCORE_THREADS, else "
                        "auto: the cores the load average says are free)")
    p.add_argument("--workers", type=_int_in(1),
                   help="train on N local worker processes (data-parallel, torch.distributed "
                        "or tf.distribute); under torchrun or TF_CONFIG the launcher decides")
    p.add_argument("--sync-batch-norm", action="store_true", dest="sync_batch_norm",
                   help="with several workers: batch norm over the global batch")
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
    p.add_argument("--n", type=_int_in(1), default=64,
                   help="number of samples (their bytes are limited: MAX_SAMPLE_BYTES, 2 GiB)")
    p.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npy (NHWC array)")
    p.add_argument("--backend", help="numpy (default), torch or tensorflow")
    p.add_argument("--device", default="auto")
    p.add_argument("--label", type=_int_in(0),
                   help="class of every sample (conditional models)")
    p.add_argument("--seed", type=_SEED, default=0, help="random seed (0 to 2**64 - 1)")
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
    """Run the command line; returns the exit status.

    Every error ends in one line on stderr, ``gancore: error: ...``: status 2 for what the
    user can fix (a gancore error, a refused argument, a file that cannot be read or
    written), 1 for anything else (a bug: ``--debug`` shows its traceback), 128 + the
    signal for a training stopped by SIGINT or SIGTERM, 130 for Ctrl-C elsewhere.
    """
    debug = False
    try:
        args = _parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        debug = args.debug
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return int(args.run(args))
    except TrainingStopped as e:
        print(f"gancore: {_one_line(e)}", file=sys.stderr)
        return 128 + e.signal
    except _UsageError as e:
        return _fail(str(e), 2)
    except GancoreError as e:
        if debug:
            raise
        return _fail(str(e), 2)
    except OSError as e:
        if debug:
            raise
        where = f"{e.filename}: " if e.filename else ""
        return _fail(f"{where}{e.strerror or e}", 2)
    except KeyboardInterrupt:
        if debug:
            raise
        print("gancore: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        return _fail(f"unexpected {type(e).__name__}: {e} (a bug in gancore or a plugin: "
                     f"rerun with --debug for the traceback, and report it)", 1)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _fail(message: str, status: int) -> int:
    print(f"gancore: error: {_one_line(message)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
