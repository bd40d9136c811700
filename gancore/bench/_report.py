"""Results as JSON, a Markdown report and a console table, with gancore's speed targets
checked against them: its trainer as fast as a hand-written loop of the same networks, a
compiled path faster than that loop, and a quick `import gancore`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gancore.bench._catalog import (
    BASELINE_STYLE,
    BASELINES,
    COMPILED_TWINS,
    EAGER_TWINS,
    MODE_NOTES,
    TRAIN_MODES,
    WORKLOADS,
)
from gancore.bench._machine import MATMUL_SIZE

#: gancore's trainer against the hand-written loop, in steps per second: the library may
#: cost at most 3 % of a step.
RATIO_TARGET = 0.97
#: `import gancore`, seconds.
IMPORT_TARGET = 0.2
#: The compiled execution modes (the others: eager).
COMPILED_MODES = ("compile", "function", "xla", "jit")
#: The measured sides of a training row: gancore, the hand-written loop, (where that loop
#: compiles its steps) the same loop run eagerly, and (in a compiled mode that has one) the
#: same loop compiled as gancore's step is.
SIDES = ("gancore", "baseline", "eager_baseline", "compiled_baseline")
#: How the compiled twin of each (backend, mode) compiles, for the report.
COMPILED_STYLE = {("torch", "compile"): "torch.compile", ("tensorflow", "xla"): "XLA"}


def _rate(flops: float, step_s: float, ceiling: float | None) -> dict[str, float | None]:
    gflops = flops / step_s / 1e9
    return {"gflops": gflops, "ceiling_fraction": gflops / ceiling if ceiling else None}


def derive(row: dict[str, Any], ceiling: float | None) -> None:
    """Add steps/s, samples/s, GFLOP/s and the fraction of the ceiling to an ok row's sides,
    and the first step's extra time (compilation, tracing) as `compile_s`."""
    if row.get("status") != "ok":
        return
    for side in SIDES:
        data = row.get(side)
        if data is None:
            continue
        step = data["step_s"]["median"]
        data["steps_per_s"] = 1.0 / step
        data["samples_per_s"] = row["batch"] / step
        data["compile_s"] = max(0.0, data["first_step_s"] - step)
        if row.get("flops_per_step"):
            data.update(_rate(row["flops_per_step"], step, ceiling))


def _target(goal: str, row: dict[str, Any], key: str, threshold: float, strict: bool
            ) -> dict[str, Any]:
    ratio = row.get(key) if row.get("status") == "ok" else None
    measured = None if ratio is None else ratio["median"]
    met = measured is not None and (measured > threshold if strict else measured >= threshold)
    return {"target": goal, "measured": measured,
            "range": None if ratio is None else [ratio["min"], ratio["max"]], "met": met}


def targets(rows: Sequence[dict[str, Any]], import_s: float) -> list[dict[str, Any]]:
    """Each of gancore's speed targets with its measured value (the median of the
    interleaved ratios; None where the job failed) and whether it is met:

    - every path (eager and compiled) at >= 0.97x the hand-written loop's steps/s, on
      every workload that has one;
    - every compiled path at >= 0.97x the same hand-written loop compiled by the same
      compiler (`COMPILED_TWINS`), where the mode has such a twin;
    - every compiled path (torch.compile; tf.function, with and without XLA) faster than
      the hand-written eager loop, where there is a hand-written loop;
    - the stronger form on TensorFlow: XLA faster than the hand-written loop as a user
      writes it, each step already in tf.function (on PyTorch the two coincide);
    - `import gancore` under 0.2 s.
    """
    out = []
    for r in rows:
        if r["loss"] is not None or (r["backend"], r["workload"]) not in BASELINES:
            continue
        where = f"{r['backend']} {r['workload']} {r['mode']}"
        default = r["mode"] == TRAIN_MODES[r["backend"]][0]
        out.append(_target(f"{where}: gancore >= {RATIO_TARGET}x the hand-written loop's "
                           f"steps/s", r, "ratio", RATIO_TARGET, strict=False))
        style = COMPILED_STYLE.get((r["backend"], r["mode"]))
        if (r["backend"], r["mode"]) in COMPILED_TWINS:
            out.append(_target(f"{where}: gancore >= {RATIO_TARGET}x the hand-written loop "
                               f"compiled alike ({style})", r, "compiled_ratio", RATIO_TARGET,
                               strict=False))
        eager_reference = BASELINE_STYLE[r["backend"]] == "eager" or r["backend"] in EAGER_TWINS
        if r["mode"] in COMPILED_MODES and eager_reference:
            out.append(_target(f"{where}: compiled gancore faster than the hand-written eager "
                               f"loop", r, "eager_ratio", 1.0, strict=True))
        if r["mode"] in COMPILED_MODES and BASELINE_STYLE[r["backend"]] != "eager" and not default:
            out.append(_target(f"{where}: compiled gancore faster than the hand-written "
                               f"{BASELINE_STYLE[r['backend']]} loop", r, "ratio", 1.0,
                               strict=True))
    out += _ceiling_targets(rows)
    out.append({"target": f"import gancore < {IMPORT_TARGET} s", "measured": import_s,
                "range": None, "met": import_s < IMPORT_TARGET})
    return out


def _ceiling_targets(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """gancore's DCGAN step, on each backend's default path, at the share of the machine's
    matmul ceiling that the best hand-written loop of any framework reaches."""
    dcgan = [r for r in rows if r["loss"] is None and r["workload"] == "dcgan"
             and r.get("status") == "ok" and r["mode"] == TRAIN_MODES[r["backend"]][0]]
    best = max(((r["baseline"].get("ceiling_fraction") or 0.0, r["backend"]) for r in dcgan
                if "baseline" in r), default=None)
    if best is None or not best[0]:
        return []
    out = []
    for r in dcgan:
        share = r["gancore"].get("ceiling_fraction")
        out.append({"target": f"{r['backend']} dcgan {r['mode']}: gancore within "
                              f"{RATIO_TARGET}x of the best hand-written loop's ceiling share "
                              f"({100 * best[0]:.0f} %, {best[1]})",
                    "measured": share, "range": None,
                    "met": share is not None and share >= best[0] * RATIO_TARGET})
    return out


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")


def _span(s: dict[str, float], scale: float = 1.0, digits: int = 0) -> str:
    f = f"{{:.{digits}f}}"
    return (f"{f.format(s['median'] * scale)} ({f.format(s['min'] * scale)}-"
            f"{f.format(s['max'] * scale)})")


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _failure(row: dict[str, Any]) -> str:
    return f"**{row['status']}**: {row.get('error', '')}".replace("|", "\\|")


def _ratio(row: dict[str, Any], key: str) -> str:
    return "—" if key not in row else _span(row[key], digits=3) + "x"


def _handwritten(row: dict[str, Any]) -> str:
    parts = []
    compiled = COMPILED_STYLE.get((row["backend"], row["mode"]), "compiled")
    for side, style in (("baseline", row.get("baseline_style")), ("eager_baseline", "eager"),
                        ("compiled_baseline", compiled)):
        if side in row:
            frac = row[side].get("ceiling_fraction")
            share = "" if frac is None else f", {100 * frac:.0f} %"
            parts.append(f"{_span(row[side]['step_s'], 1e3)} {style}{share}")
    return "<br>".join(parts) or "—"


def training_table(rows: Sequence[dict[str, Any]], markdown: bool = True) -> str:
    """One line per training job: gancore's step, throughput, rate, memory, and the
    hand-written loops beside it with gancore's speed relative to each (> 1: gancore is
    faster). `markdown=False` gives the terminal's version (one line per cell)."""
    header = ["backend", "workload", "mode", "batch", "step ms, median (min-max)", "samples/s",
              "GFLOP/s", "% ceiling", "peak RSS MiB (growth)", "hand-written ms, % ceiling",
              "gancore / hand-written", "gancore / hand-written eager",
              "gancore / hand-written compiled alike", "compile s"]
    lines = []
    for r in rows:
        if r["loss"] is not None:
            continue
        head = [r["backend"], r["workload"], r["mode"], str(r["batch"])]
        if r.get("status") != "ok":
            lines.append([*head, _failure(r), *["—"] * 9])
            continue
        g = r["gancore"]
        frac = g.get("ceiling_fraction")
        mem = g["memory"]
        hand = _handwritten(r)
        lines.append([
            *head, _span(g["step_s"], 1e3), _num(g["samples_per_s"]), _num(g.get("gflops"), 1),
            "—" if frac is None else f"{100 * frac:.0f} %",
            f"{mem['peak_mib']:,.0f} ({mem['growth_mib']:+,.0f})",
            hand if markdown else hand.replace("<br>", "; "),
            _ratio(r, "ratio"), _ratio(r, "eager_ratio"), _ratio(r, "compiled_ratio"),
            _num(g["compile_s"], 1),
        ])
    return _table(header, lines)


def loss_table(rows: Sequence[dict[str, Any]]) -> str:
    """Microseconds per forward + backward pass: one line per (loss, batch), one column per
    backend and mode."""
    losses = [r for r in rows if r["loss"] is not None]
    columns = list(dict.fromkeys((r["backend"], r["mode"]) for r in losses))
    cells: dict[tuple[str, int], dict[tuple[str, str], str]] = {}
    for r in losses:
        text = (_num(r["gancore"]["step_s"]["median"] * 1e6) if r.get("status") == "ok"
                else r["status"])
        cells.setdefault((r["loss"], r["batch"]), {})[(r["backend"], r["mode"])] = text
    header = ["loss", "batch", *(f"{b} {m}" for b, m in columns)]
    body = [[loss, str(batch), *(c.get(col, "—") for col in columns)]
            for (loss, batch), c in cells.items()]
    return _table(header, body)


def _machine(report: dict[str, Any]) -> str:
    m = report["machine"]
    ceilings = ", ".join(f"{k} {v:.0f}" for k, v in report["matmul_gflops"].items())
    threads = "; ".join(
        f"{name}: {info.get('version')}, {info.get('intra_op_threads')} intra-op / "
        f"{info.get('inter_op_threads')} inter-op threads"
        for name, info in report["frameworks"].items()
    )
    imp = report["import_time"]
    return "\n".join([
        f"- CPU: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable); "
        f"{m['platform']}; Python {m['python']}",
        f"- Frameworks: {threads or 'none measured'}",
        f"- Dense float32 matmul {MATMUL_SIZE}x{MATMUL_SIZE}, best of 5, in the benchmark's "
        f"threads, GFLOP/s: {ceilings}; ceiling = {_num(report['ceiling_gflops'])} GFLOP/s",
        f"- `import gancore`: {_span(imp['seconds'], 1e3)} ms over {imp['seconds']['n']} fresh "
        f"interpreters; frameworks imported: {', '.join(imp['frameworks_imported']) or 'none'}; "
        f"of which its required dependencies alone (`import {', '.join(imp['dependencies'])}`): "
        f"{_span(imp['dependencies_seconds'], 1e3)} ms",
        f"- Load average (1 min) at start / end: {report['load_average']}",
        "- Settings: " + ", ".join(
            f"{k} {','.join(map(str, v)) if isinstance(v, list | tuple) else v}"
            for k, v in report["settings"].items()
        ),
    ])


def _goal(t: dict[str, Any]) -> str:
    if t["measured"] is None:
        return "n/a (the job failed)"
    if "ceiling share" in t["target"]:
        return f"{100 * t['measured']:.0f} %"
    text = f"{t['measured']:.3f}"
    if t.get("range"):
        text += f"x, rounds {t['range'][0]:.3f}-{t['range'][1]:.3f}x"
    else:
        text += " s"
    return text


def markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    rows = report["results"]
    modes = "\n".join(f"- `{k}`: {v}" for k, v in MODE_NOTES.items())
    workloads = "\n".join(f"- `{w.name}`: {w.description}" for w in WORKLOADS.values())
    goals = "\n".join(
        f"- {'met' if t['met'] else '**missed**'}: {t['target']} (measured {_goal(t)})"
        for t in report["targets"]
    )
    styles = "; ".join(f"{b}: {s}" for b, s in BASELINE_STYLE.items())
    parts = ["# gancore bench", "", "## Machine", "", _machine(report), "", "## Targets", "",
             goals, "", "## Training steps", "", training_table(rows), "",
             "Ratios are the median (min-max) over interleaved rounds of the hand-written "
             "loop's time over gancore's: > 1 means gancore is faster. The hand-written loop "
             f"runs as a user writes it in each framework ({styles}); \"hand-written "
             "eager\" is the same loop run op by op (on PyTorch, the same loop); \"compiled "
             "alike\" is the same loop compiled by the compiler of gancore's mode "
             "(torch.compile on both networks; each step in tf.function(jit_compile=True)).",
             "",
             workloads, "", modes, ""]
    if any(r["loss"] is not None for r in rows):
        parts += ["## Losses: µs per forward + backward", "", loss_table(rows), ""]
    return "\n".join(parts)
