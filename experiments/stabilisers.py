"""The stabilisers' ablation: each remedy added alone to a plain GAN, side by side, on seeds.

**Grid** (``--part grid``): the 2-D grid of 25 Gaussians with the `grid` recipe's networks
(`pacgan_mlp`, hidden 300 / 100) and training settings (Adam 1e-3, batch 64, the linear
learning-rate decay over the second half), started from the plain non-saturating GAN:
no packing, no R1, no categorical code. Each row adds one remedy; the last is the `grid`
recipe's own combination. Scored with PacGAN's mode metrics on 2,500 samples (modes of
25, high-quality share, reverse KL; `gancore.evaluation.evaluate`).

**MNIST** (``--part mnist``): the `mnist-dcgan` recipe's DCGAN on a small subset of the
real MNIST test set's first stratified half (``--subset`` images; the half the feature
classifier is trained on), batch ``--mnist-batch``; each row adds one image-level remedy.
Scored by `evaluate` on ``--samples`` samples: classifier Frechet distance, the
Inception-style score and coverage.

Each run trains on one backend (``--backend``, default torch) with ``--threads`` CPU
threads, seeds interleaved (every variant of seed 0, then of seed 1, ...) so that other
load on the machine falls on all variants alike; ms/step is the training wall time over
the steps (the first, compiling step included). Results: ``<out>/runs.jsonl`` (one line a
run, appended as it ends; runs already there are skipped), ``<out>/stabilisers.json`` and
``<out>/stabilisers.md`` (median and worst seed per variant). ``--time-steps N`` instead
times every variant's steps back to back in one process (``<out>/timing.json``, the
tables' last column); ``--summarize`` only writes the tables. What docs/quality.md reports:

    python experiments/stabilisers.py --part grid --steps 2000 --seeds 0 1 2
    python experiments/stabilisers.py --part mnist --steps 250 --seeds 0 1 2 \\
        --data ../shared/data/mnist
    python experiments/stabilisers.py --part grid --steps 2000 --variants \
        "+ minibatch discrimination (100 x 5)"   # the row added later: one variant
    python experiments/stabilisers.py --part grid --steps 2000 --time-steps 100 \
        --time-rounds 5
    python experiments/stabilisers.py --part mnist --steps 250 --time-steps 10 \\
        --data ../shared/data/mnist
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

from _common import limit_threads, markdown_table, write_json

# The scored samples' noise seed is apart from the training seed's streams.
EVAL_SEED = 10_000

#: variant -> (training-config overrides, architecture options), on top of PLAIN_GRID.
PLAIN_GRID: tuple[dict[str, Any], dict[str, Any]] = (
    {"r1_penalty": 0.0, "r1_final": None, "checkpoint_every": 0},
    {"hidden": [300, 100], "categories": 0, "packing": 1},
)
GRID_VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "plain (non-saturating)": ({}, {}),
    "+ packing 2 (PacGAN2)": ({}, {"packing": 2}),
    "+ R1 (gamma 1)": ({"r1_penalty": 1.0}, {}),
    "+ categorical code (100)": ({}, {"categories": 100}),
    "+ feature matching (maxout_3)": ({"feature_matching": "maxout_3"}, {}),
    "+ minibatch discrimination (100 x 5)": ({}, {"minibatch_discrimination": 100}),
    "+ experience replay (1024, 0.5)": ({"replay": 1024, "replay_fraction": 0.5}, {}),
    "grid recipe (code + R1 1 -> 0.1)": ({"r1_penalty": 1.0, "r1_final": 0.1},
                                         {"categories": 100}),
}
MNIST_VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "plain DCGAN": ({}, {}),
    "+ spectral norm": ({}, {"spectral_norm": True}),
    "+ DiffAugment (color,translation,cutout)": (
        {"diffaugment": "color,translation,cutout"}, {}),
    "+ minibatch stddev": ({}, {"minibatch_stddev": True}),
    "+ feature matching (activation_3)": ({"feature_matching": "activation_3"}, {}),
}
VARIANTS = {"grid": GRID_VARIANTS, "mnist": MNIST_VARIANTS}

#: part -> [(metric key, column, digits, scale, worse is "min" or "max")]
METRICS = {
    "grid": [("modes", "modes /25", 0, 1.0, "min"), ("hq", "HQ %", 1, 100.0, "min"),
             ("reverse_kl", "rev-KL", 3, 1.0, "max")],
    "mnist": [("fd", "classifier FD", 1, 1.0, "max"), ("score", "score", 2, 1.0, "min"),
              ("coverage", "coverage", 2, 1.0, "min")],
}


def _grid_run(variant: str, seed: int, args: argparse.Namespace
              ) -> tuple[Any, dict[str, Any]]:
    from gancore.evaluation import evaluate
    from gancore.metrics import ModeReport
    from gancore.training import build_architecture, get_recipe, load_dataset, make_trainer

    config, options = GRID_VARIANTS[variant]
    recipe = get_recipe("grid").with_overrides(
        config={**PLAIN_GRID[0], **config, "steps": args.steps, "seed": seed},
        architecture_options={**PLAIN_GRID[1], **options})
    data = load_dataset(recipe.dataset, recipe.dataset_options)
    pair = build_architecture(recipe.architecture, tuple(data.shape),
                              recipe.architecture_options)
    trainer = make_trainer(pair, data, recipe.config, backend=args.backend)

    def score() -> dict[str, Any]:
        m = evaluate(trainer.sample(2500, seed=EVAL_SEED + seed), "grid").scores
        assert isinstance(m, ModeReport)
        return {"modes": m.modes_captured, "hq": m.high_quality_fraction,
                "reverse_kl": m.reverse_kl}

    return trainer, {"config": recipe.config.to_dict(),
                     "architecture_options": dict(recipe.architecture_options),
                     "score": score}


def _mnist_run(variant: str, seed: int, args: argparse.Namespace
               ) -> tuple[Any, dict[str, Any]]:
    from gancore.data import load_mnist
    from gancore.evaluation import ClassifierSettings, evaluate
    from gancore.training import build_architecture, get_recipe, make_trainer

    config, options = MNIST_VARIANTS[variant]
    data = load_mnist(args.data)
    train_part, _ = data.split(0.5, seed=0)
    subset = train_part.subset(np.arange(args.subset))
    recipe = get_recipe("mnist-dcgan").with_overrides(
        config={**config, "steps": args.steps, "seed": seed, "batch_size": args.mnist_batch,
                "sample_every": 0, "checkpoint_every": 0},
        architecture_options=options)
    pair = build_architecture(recipe.architecture, tuple(data.shape),
                              recipe.architecture_options)
    trainer = make_trainer(pair, subset, recipe.config, backend=args.backend)

    def score() -> dict[str, Any]:
        samples = trainer.sample(args.samples, seed=EVAL_SEED + seed)
        report = evaluate(samples, data, backend=args.backend, seed=seed,
                          num_samples=args.samples,
                          classifier=ClassifierSettings(backend=args.backend),
                          cache_dir=args.cache)
        d = report.to_dict()
        s, b = d["scores"], d["baseline"]
        return {"fd": s["frechet_distance"], "score": s["inception_score"],
                "coverage": s["prdc"]["coverage"],
                "baseline": {"fd": b["frechet_distance"], "score": b["inception_score"],
                             "coverage": b["prdc"]["coverage"]}}

    return trainer, {"config": recipe.config.to_dict(), "architecture_options": options,
                     "subset": args.subset, "samples": args.samples, "score": score}


def run_one(part: str, variant: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    trainer, info = (_grid_run if part == "grid" else _mnist_run)(variant, seed, args)
    start = time.perf_counter()
    trainer.fit(progress=False)
    seconds = time.perf_counter() - start
    scores = info.pop("score")()
    return {"part": part, "variant": variant, "seed": seed, "backend": args.backend,
            "threads": args.threads, "steps": trainer.step,
            "train_seconds": round(seconds, 2),
            "ms_per_step": round(1000 * seconds / trainer.step, 2), **info, **scores}


def time_steps(part: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """ms per training step of each variant, measured back to back in this process: each
    variant's trainer (seed 0) warms up for 5 steps, then ``--time-steps`` steps are timed,
    variants in turn, the turns repeated ``--time-rounds`` times, each round starting one
    variant further on (none is always first after the others' allocations); the median
    turn counts. Returns the medians (``ms_per_step``) and every round's times
    (``rounds_ms``), so that a noisy pass shows itself."""
    build = _grid_run if part == "grid" else _mnist_run
    trainers = {}
    for variant in VARIANTS[part]:
        trainers[variant] = build(variant, 0, args)[0]
        trainers[variant].fit(5, progress=False)
    order = list(trainers)
    times: dict[str, list[float]] = {v: [] for v in order}
    for turn in range(args.time_rounds):
        for variant in order[turn % len(order):] + order[:turn % len(order)]:
            start = time.perf_counter()
            trainers[variant].fit(args.time_steps, progress=False)
            times[variant].append(1000 * (time.perf_counter() - start) / args.time_steps)
    return {"ms_per_step": {v: float(np.median(t)) for v, t in times.items()},
            "rounds_ms": {v: [round(x, 2) for x in t] for v, t in times.items()}}


def _median_worst(values: list[float], worse: str) -> tuple[float, float]:
    return float(np.median(values)), float(min(values) if worse == "min" else max(values))


def summarize(runs: list[dict[str, Any]], part: str, timing: dict[str, Any]) -> str:
    metrics = METRICS[part]
    header = ["variant", "seeds", *(f"{col} (median / worst)" for _, col, *_ in metrics),
              "ms/step in the runs (median)", "ms/step back to back"]
    rows = []
    for variant in VARIANTS[part]:
        rs = [r for r in runs if r["part"] == part and r["variant"] == variant]
        if not rs:
            continue
        cells = []
        for key, _, digits, scale, worse in metrics:
            med, bad = _median_worst([scale * r[key] for r in rs], worse)
            cells.append(f"{med:.{digits}f} / {bad:.{digits}f}")
        ms = float(np.median([r["ms_per_step"] for r in rs]))
        timed = timing.get(part, {}).get("ms_per_step", {}).get(variant)
        rows.append([variant, str(len(rs)), *cells, f"{ms:.1f}",
                     "-" if timed is None else f"{timed:.1f}"])
    table = markdown_table(header, rows)
    if part == "mnist" and runs:
        mnist = [r for r in runs if r["part"] == "mnist"]
        if mnist:
            b = mnist[0]["baseline"]
            table += (f"\n\nReal held-out images scored the same way ({mnist[0]['samples']} "
                      f"of them): classifier FD {b['fd']:.2f}, score {b['score']:.2f}, "
                      f"coverage {b['coverage']:.2f}.")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["grid", "mnist"], required=True)
    parser.add_argument("--variants", nargs="+", help="default: every variant of the part")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default="../shared/data/mnist", help="MNIST IDX folder")
    parser.add_argument("--subset", type=int, default=1000)
    parser.add_argument("--mnist-batch", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--cache", default="experiments/results/cache")
    parser.add_argument("--summarize", action="store_true")
    parser.add_argument("--time-steps", type=int, default=0,
                        help="only time N steps of each variant back to back (timing.json)")
    parser.add_argument("--time-rounds", type=int, default=3)
    parser.add_argument("--out", default="experiments/results/stabilisers")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    timing_file = out / "timing.json"
    timing = json.loads(timing_file.read_text()) if timing_file.exists() else {}
    if args.time_steps:
        limit_threads(args.backend, args.threads)
        timing[args.part] = {"backend": args.backend, "threads": args.threads,
                             "steps": args.time_steps, "rounds": args.time_rounds,
                             **time_steps(args.part, args)}
        write_json(timing_file, timing)
    elif not args.summarize:
        unknown = set(args.variants or ()) - set(VARIANTS[args.part])
        if unknown:
            parser.error(f"--variants must be among {sorted(VARIANTS[args.part])}; "
                         f"received {sorted(unknown)}")
        limit_threads(args.backend, args.threads)
        done = ({(r["part"], r["variant"], r["seed"], r["steps"])
                 for r in map(json.loads, log.read_text().splitlines())}
                if log.exists() else set())
        for seed in args.seeds:
            for variant in args.variants or VARIANTS[args.part]:
                if (args.part, variant, seed, args.steps) in done:
                    continue
                result = run_one(args.part, variant, seed, args)
                print(json.dumps({k: result[k] for k in ("variant", "seed", "ms_per_step",
                                                         *(m[0] for m in METRICS[args.part]))}),
                      flush=True)
                with open(log, "a") as f:
                    f.write(json.dumps(result) + "\n")
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    write_json(out / "stabilisers.json", runs)
    text = "\n\n".join(f"### {part}\n\n{summarize(runs, part, timing)}" for part in VARIANTS
                       if any(r["part"] == part for r in runs))
    (out / "stabilisers.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
