"""`gancore eval`: the command-line face of `evaluate` (arguments and the run).

Only the standard library is imported here; `run` imports the rest when it runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gancore.evaluation._defaults import CLASSIFIER_STEPS, MIXTURE_SAMPLES

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``gancore eval`` to `parser`."""
    parser.add_argument("source", help="a checkpoint folder, a .npy array of samples (NHWC in "
                        "[-1, 1], or (n, 2) points) or a folder of images")
    parser.add_argument("--dataset", help="real data to score against: ring, grid, digits, "
                        "mnist, fashion_mnist, cifar10, image_folder or a dataset plugin "
                        "(default: the checkpoint's)")
    parser.add_argument("--data", dest="data_path", help="folder of file-based datasets "
                        "(MNIST IDX files, CIFAR-10 batches, an image folder's root)")
    parser.add_argument("--labels", help="FILE.npy: the class each sample was requested for "
                        "(conditional accuracy of a .npy or folder of samples)")
    parser.add_argument("--n", type=int, dest="num_samples", help="samples drawn from a "
                        f"checkpoint (default {MIXTURE_SAMPLES} for mixtures, the held-out "
                        "part's size for images)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn samples")
    parser.add_argument("--backend", help="torch or tensorflow (default: torch if installed)")
    parser.add_argument("--classifier-steps", type=int, dest="classifier_steps",
                        help=f"training steps of the feature classifier (default "
                        f"{CLASSIFIER_STEPS})")
    parser.add_argument("--classifier-backend", dest="classifier_backend",
                        help="backend that trains the feature classifier (default: --backend)")
    parser.add_argument("--cache", dest="cache_dir", help="classifier cache folder (default "
                        "$GANCORE_CACHE/classifiers or ~/.cache/gancore/classifiers)")
    parser.add_argument("--json", dest="json_path", help="also write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table, write the JSON when asked; returns the exit status."""
    from gancore.evaluation._classifier import ClassifierSettings
    from gancore.evaluation._evaluate import evaluate

    options = {}
    if args.data_path:
        options["root" if args.dataset == "image_folder" else "folder"] = args.data_path
    chosen = {"steps": args.classifier_steps,
              "backend": args.classifier_backend or args.backend}
    settings = ClassifierSettings(**{k: v for k, v in chosen.items() if v is not None})
    report = evaluate(
        args.source, args.dataset, dataset_options=options, labels=args.labels,
        num_samples=args.num_samples, backend=args.backend, seed=args.seed,
        classifier=settings, cache_dir=args.cache_dir,
    )
    print(report.table())
    if args.json_path:
        path = Path(args.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {path}")
    return 0
