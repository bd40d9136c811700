"""PacGAN's Table 1 protocol (Lin et al. 2018) with gancore's `ring` and `grid` recipes.

Each run trains a recipe on one backend from one seed, then scores 2,500 samples with
PacGAN's mode metrics (modes captured, high-quality share, reverse KL; see
`gancore.metrics.mode_metrics`). Results go to ``<out>/runs.jsonl`` (one line per run,
written as soon as the run ends), ``<out>/pacgan.json`` and ``<out>/pacgan.md``.

    python experiments/pacgan_table.py --backends torch tensorflow --seeds 0 1 2 3 4

Runs started apart (say one torch and one TensorFlow process side by side, each with
``--backends NAME``) append to the same ``runs.jsonl``; ``--summarize`` then writes the
table from it without training.

Overrides for tuning: ``--steps``, ``--config '{"batch_size": 128}'`` (training config),
``--arch-options '{"packing": 2}'``, ``--eval-every 500`` (mode metrics along the way).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt, limit_threads, markdown_table, run_per_backend, write_json

# PacGAN, Table 1 (10 runs, mean ± standard error), as quoted in the project's anchors.
PAPER_ROWS = {
    "GAN": ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09", "17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
    "PacGAN2": ("7.9 ± 0.1", "95.6 ± 2.0", "0.07 ± 0.03", "23.8 ± 0.7", "91.3 ± 0.8",
                "0.13 ± 0.04"),
    "PacGAN4": ("7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02", "24.8 ± 0.2", "93.6 ± 0.6",
                "0.04 ± 0.01"),
}
NUM_SAMPLES = 2500
# The scored samples' noise seed is apart from the training seed's streams.
EVAL_SEED = 10_000


def run_one(recipe_name: str, backend: str, seed: int, args: argparse.Namespace
            ) -> tuple[dict[str, Any], np.ndarray]:
    from gancore.evaluation import evaluate
    from gancore.metrics import ModeReport
    from gancore.training import build_architecture, get_recipe, load_dataset, make_trainer

    overrides = {**json.loads(args.config), "seed": seed}
    if args.steps:
        overrides["steps"] = args.steps
    recipe = get_recipe(recipe_name).with_overrides(
        config=overrides, architecture_options=json.loads(args.arch_options))
    data = load_dataset(recipe.dataset, recipe.dataset_options)
    pair = build_architecture(recipe.architecture, tuple(data.shape),
                              recipe.architecture_options)

    def score() -> dict[str, Any]:
        samples = trainer.sample(NUM_SAMPLES, seed=EVAL_SEED + seed)
        m = evaluate(samples, recipe.dataset).scores
        assert isinstance(m, ModeReport)
        return {"modes": m.modes_captured, "hq": m.high_quality_fraction,
                "reverse_kl": m.reverse_kl}

    trainer = make_trainer(pair, data, recipe.config, backend=backend, compile=args.compile)
    total, every = recipe.config.steps, args.eval_every or recipe.config.steps
    trajectory, seconds = [], 0.0
    while trainer.step < total:
        start = time.perf_counter()
        trainer.fit(min(every, total - trainer.step))
        seconds += time.perf_counter() - start
        trajectory.append({"step": trainer.step, "seconds": round(seconds, 1), **score()})
        print(f"  {recipe_name} {backend} seed {seed} step {trainer.step}: "
              f"{trajectory[-1]}", flush=True)
    result = {
        "recipe": recipe_name, "backend": backend, "seed": seed, "tag": args.tag,
        "config": recipe.config.to_dict(), "architecture_options": dict(
            recipe.architecture_options),
        "threads": args.threads, "compile": args.compile,
        "train_seconds": round(seconds, 1), **trajectory[-1],
        "trajectory": trajectory,
    }
    return result, trainer.sample(NUM_SAMPLES, seed=EVAL_SEED + seed)


def _limit_threads(backend: str, threads: int) -> None:
    """`limit_threads`, and for JAX its backend's `set_threads` (XLA fixes its CPU thread
    pool when it starts, so before the first computation)."""
    limit_threads(backend, threads)
    if backend == "jax":
        import gancore

        gancore.backend("jax").set_threads(threads)


def _cell(values: list[float], digits: int, scale: float = 1.0) -> str:
    """``mean ± se`` over seeds; one seed's value alone (it has no spread to show)."""
    if len(values) == 1:
        return f"{scale * values[0]:.{digits}f}"
    return fmt(values, digits, scale)


def summarize(runs: list[dict[str, Any]]) -> str:
    header = ["method", "ring modes /8", "ring HQ %", "ring rev-KL", "grid modes /25",
              "grid HQ %", "grid rev-KL"]
    rows = [[f"PacGAN paper: {name}", *cells] for name, cells in PAPER_ROWS.items()]
    for backend in sorted({r["backend"] for r in runs}):
        cells, seeds, times = [], [], []
        for recipe in ("ring", "grid"):
            rs = [r for r in runs if r["backend"] == backend and r["recipe"] == recipe]
            if not rs:
                cells += ["-"] * 3
                continue
            seeds.append(f"{recipe} {len(rs)} seeds" if len(rs) > 1
                         else f"{recipe} seed {rs[0]['seed']}")
            times.append(f"{recipe} {_cell([r['train_seconds'] / 60 for r in rs], 1)} min")
            cells += [_cell([r["modes"] for r in rs], 1), _cell([r["hq"] for r in rs], 1, 100),
                      _cell([r["reverse_kl"] for r in rs], 3)]
        rows.append([f"gancore, {backend} ({', '.join(seeds)}; {', '.join(times)})",
                     *cells])
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["torch", "tensorflow"])
    parser.add_argument("--recipes", nargs="+", default=["ring", "grid"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int)
    parser.add_argument("--config", default="{}", help="training-config overrides (JSON)")
    parser.add_argument("--arch-options", default="{}", help="architecture options (JSON)")
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true",
                        help="compiled steps (torch.compile; tf.function with XLA)")
    parser.add_argument("--summarize", action="store_true",
                        help="only write pacgan.json / pacgan.md from <out>/runs.jsonl")
    parser.add_argument("--tag", default="recipe")
    parser.add_argument("--out", default="experiments/results/pacgan")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.summarize:
        pass
    elif len(args.backends) > 1:
        run_per_backend(__file__, args.backends)
    else:
        backend = args.backends[0]
        _limit_threads(backend, args.threads)
        for recipe in args.recipes:
            for seed in args.seeds:
                result, samples = run_one(recipe, backend, seed, args)
                with open(out / "runs.jsonl", "a") as f:
                    f.write(json.dumps(result) + "\n")
                np.save(out / f"samples-{args.tag}-{recipe}-{backend}-{seed}.npy", samples)
        return
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    runs = [r for r in runs if r["tag"] == args.tag]
    write_json(out / "pacgan.json", runs)
    (out / "pacgan.md").write_text(summarize(runs) + "\n")
    print(summarize(runs))


if __name__ == "__main__":
    main()
