"""DCGAN, WGAN-GP and the conditional GAN on MNIST, scored against the real baseline.

The real MNIST test set (10,000 images) is split in two stratified halves
(`Dataset.split(0.5, seed=0)`, the split `gancore.evaluation.evaluate` makes). Each GAN is
trained on the first half with gancore's recipe (its architecture and training config;
``--steps`` shortens it), on each backend. `evaluate` then scores 5,000 samples of the
checkpoint in the feature space of gancore's classifier, trained on the same first half
(one classifier, trained once on torch and cached, scores every model); the baseline is
the held-out half scored the same way. Results: ``<out>/runs.jsonl`` (one line per run),
``<out>/mnist.json``, ``<out>/mnist.md``; sample grids under ``--images``.

    python experiments/mnist_quality.py --data ../shared/data/mnist \\
        --backends torch tensorflow --steps mnist-dcgan=1000 mnist-wgan-gp=300 \\
        mnist-cgan=1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import limit_threads, markdown_table, run_per_backend, write_json

RECIPES = ("mnist-dcgan", "mnist-wgan-gp", "mnist-cgan")


def run_one(recipe_name: str, backend: str, steps: int | None, args: argparse.Namespace
            ) -> dict[str, Any]:
    from gancore.data import load_mnist
    from gancore.evaluation import ClassifierSettings, evaluate
    from gancore.training import build_architecture, get_recipe, make_trainer, save_samples

    data = load_mnist(args.data)
    train_part, _ = data.split(0.5, seed=0)
    overrides: dict[str, Any] = {"seed": args.seed}
    if steps:
        overrides["steps"] = steps
    recipe = get_recipe(recipe_name).with_overrides(config=overrides)
    pair = build_architecture(recipe.architecture, tuple(data.shape),
                              recipe.architecture_options)
    trainer = make_trainer(pair, train_part, recipe.config, backend=backend)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    checkpoint = trainer.save(Path(args.checkpoints) / f"{recipe_name}-{backend}")
    report = evaluate(checkpoint, data, backend=backend, seed=args.seed,
                      classifier=ClassifierSettings(backend=args.classifier_backend),
                      cache_dir=args.cache)
    print(report.table(), flush=True)
    labels = None if pair.num_classes is None else [k % 10 for k in range(64)]
    picture = Path(args.images) / f"quality-{recipe_name}-{backend}.png"
    save_samples(picture, trainer.sample(64, labels=labels, seed=args.seed))
    return {"recipe": recipe_name, "backend": backend, "seed": args.seed,
            "steps": trainer.step, "n_critic": recipe.config.n_critic,
            "train_seconds": round(seconds, 1), "picture": str(picture),
            "report": report.to_dict()}


def _cell(scores: dict[str, Any], key: str) -> str:
    if key == "inception_score":
        return f"{scores[key]:.2f} ± {scores['inception_score_std']:.2f}"
    if key == "conditional_accuracy":
        value = scores.get(key)
        return "-" if value is None else f"{100 * value:.1f} %"
    if key in ("precision", "recall", "density", "coverage"):
        return f"{scores['prdc'][key]:.2f}"
    return f"{scores[key]:.2f}"


KEYS = ("frechet_distance", "inception_score", "precision", "recall", "density", "coverage",
        "conditional_accuracy")


def summarize(runs: list[dict[str, Any]]) -> str:
    header = ["model", "backend", "steps", "train time", "classifier FD", "score",
              "precision", "recall", "density", "coverage", "cond. accuracy"]
    rows = []
    first = runs[0]["report"]
    rows.append(["real held-out half (baseline)", "-", "-", "-",
                 *(_cell(first["baseline"], k) for k in KEYS[:-1]), "-"])
    for r in runs:
        scores = r["report"]["scores"]
        rows.append([r["recipe"], r["backend"], str(r["steps"]),
                     f"{r['train_seconds'] / 60:.1f} min", *(_cell(scores, k) for k in KEYS)])
    c = first["classifier"]
    note = (f"\nFeature classifier {c['key'][:16]}: trained once on {c['settings']['backend']} "
            f"({c['settings']['steps']} steps) on {c['num_train']} real images, test accuracy "
            f"{100 * c['test_accuracy']:.2f} % on the {c['num_test']} held out; every model's "
            f"features are computed on its own backend.")
    return markdown_table(header, rows) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/mnist", help="MNIST IDX folder")
    parser.add_argument("--backends", nargs="+", default=["torch", "tensorflow"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--steps", nargs="*", default=[], metavar="RECIPE=STEPS",
                        help="generator steps per recipe (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--classifier-backend", default="torch")
    parser.add_argument("--cache", default="experiments/results/cache")
    parser.add_argument("--checkpoints", default="experiments/results/mnist/checkpoints")
    parser.add_argument("--images", default="docs/images")
    parser.add_argument("--out", default="experiments/results/mnist")
    args = parser.parse_args()
    steps = {k: int(v) for k, _, v in (s.partition("=") for s in args.steps)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if len(args.backends) == 1:
        backend = args.backends[0]
        limit_threads(backend, args.threads)
        for recipe in args.recipes:
            result = run_one(recipe, backend, steps.get(recipe), args)
            with open(out / "runs.jsonl", "a") as f:
                f.write(json.dumps(result) + "\n")
    else:
        run_per_backend(__file__, args.backends)
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    latest = {(r["recipe"], r["backend"]): r for r in runs}
    ordered = [latest[k] for k in sorted(latest, key=lambda k: (RECIPES.index(k[0]), k[1]))]
    write_json(out / "mnist.json", ordered)
    (out / "mnist.md").write_text(summarize(ordered) + "\n")
    print(summarize(ordered))


if __name__ == "__main__":
    main()
