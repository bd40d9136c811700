"""The 2-D samples of `pacgan_table.py` runs over the mixture's modes, for docs/quality.md.

    python experiments/plot_mixtures.py --tag recipe --seed 0 --out docs/images/pacgan.png

One panel per (recipe, backend) found in ``--results``: 2,500 generated points, the modes'
means, and a circle of three standard deviations around each (PacGAN's high-quality zone).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="experiments/results/pacgan")
    parser.add_argument("--tag", default="recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/images/pacgan-samples.png")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gancore.data import GaussianMixture2D
    from gancore.metrics import mode_metrics

    panels = []
    for recipe in ("ring", "grid"):
        for backend in ("torch", "tensorflow"):
            path = Path(args.results) / f"samples-{args.tag}-{recipe}-{backend}-{args.seed}.npy"
            if path.is_file():
                panels.append((recipe, backend, np.load(path)))
    if not panels:
        raise SystemExit(f"no samples-{args.tag}-*-{args.seed}.npy under {args.results}")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), squeeze=False)
    for ax, (recipe, backend, points) in zip(axes[0], panels, strict=True):
        mixture = getattr(GaussianMixture2D, recipe)()
        m = mode_metrics(points, mixture.means, mixture.std)
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, color="tab:blue")
        for mean in mixture.means:
            ax.add_patch(plt.Circle(tuple(mean), 3 * mixture.std, fill=False, color="tab:red",
                                    lw=0.8))
        ax.set_aspect("equal")
        ax.set_title(f"{recipe}, {backend}, seed {args.seed}\n{m.modes_captured} modes, "
                     f"{100 * m.high_quality_fraction:.1f} % HQ, rev-KL {m.reverse_kl:.3f}",
                     fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
