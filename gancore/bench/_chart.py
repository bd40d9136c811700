"""The PNG chart: gancore's speed relative to the hand-written loops, and the fraction of
the machine's matmul ceiling each training step reaches. matplotlib's Agg canvas, no
pyplot (no global state, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gancore.bench._report import RATIO_TARGET

_COLORS = {"ratio": "#1f77b4", "eager_ratio": "#ff7f0e", "compiled_ratio": "#2ca02c",
           "gancore": "#1f77b4", "baseline": "#bbbbbb"}

_TICKS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)


def _label(r: dict[str, Any]) -> str:
    return f"{r['backend']} {r['workload']} {r['mode']}"


def write_chart(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Two panels from the ok training rows: (left) gancore's steps per second over the
    hand-written loop's, and over the hand-written eager loop's where that is another loop
    (TensorFlow's, without tf.function), and over the same loop compiled as gancore's step
    is (torch.compile, XLA), median with the min-max range of the interleaved rounds;
    (right) % of the ceiling, gancore beside the hand-written loop."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train = [r for r in rows if r["loss"] is None and r.get("status") == "ok"]
    paired = [r for r in train if "ratio" in r]
    fig = Figure(figsize=(11, 2.0 + 0.36 * max(len(train), 3)), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)

    markers = [("ratio", "vs the hand-written loop")]
    if any("eager_baseline" in r for r in paired):
        markers.append(("eager_ratio", "vs the hand-written eager loop (TensorFlow)"))
    if any("compiled_ratio" in r for r in paired):
        markers.append(("compiled_ratio", "vs the hand-written loop compiled alike"))
    offsets = {1: [0.0], 2: [-0.15, 0.15], 3: [-0.2, 0.0, 0.2]}[len(markers)]
    for (key, label), offset in zip(markers, offsets, strict=True):
        shown = [(i, r[key]) for i, r in enumerate(paired)
                 if key == "ratio" or (key == "eager_ratio" and "eager_baseline" in r)
                 or (key == "compiled_ratio" and key in r)]
        if not shown:
            continue
        med = [s["median"] for _, s in shown]
        err = [[s["median"] - s["min"] for _, s in shown],
               [s["max"] - s["median"] for _, s in shown]]
        left.errorbar(med, [i + offset for i, _ in shown], xerr=err, fmt="o",
                      color=_COLORS[key], capsize=3, label=label)
    left.axvline(1.0, color="black", lw=0.8)
    left.axvline(RATIO_TARGET, color="red", lw=0.8, ls="--", label=f"target {RATIO_TARGET}x")
    left.set_yticks(range(len(paired)), [_label(r) for r in paired], fontsize=8)
    left.set_ylim(len(paired) - 0.5, -0.5)
    left.set_xscale("log", base=2)
    low, high = left.get_xlim()
    ticks = [t for t in _TICKS if low <= t <= high]
    left.set_xticks(ticks, [f"{t:g}" for t in ticks])
    left.minorticks_off()
    left.grid(axis="x", lw=0.3)
    left.set_xlabel("gancore's steps/s over the hand-written loop's\n(median, min-max of the "
                    "interleaved rounds; log scale; > 1: gancore faster)")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                ncol=min(2, len(markers) + 1))

    y = list(range(len(train)))
    for offset, side in ((-0.2, "gancore"), (0.2, "baseline")):
        values = [100 * ((r.get(side) or {}).get("ceiling_fraction") or 0.0) for r in train]
        right.barh([v + offset for v in y], values, height=0.4, color=_COLORS[side],
                   label="hand-written loop" if side == "baseline" else side)
    right.set_yticks(y, [_label(r) for r in train], fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("% of the dense float32 matmul ceiling")
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.savefig(str(path))
