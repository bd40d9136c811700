"""The run: settings, the machine, the jobs in child processes, the report files."""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gancore._backend import describe_backends
from gancore._errors import InvalidArgumentError
from gancore.bench import _machine
from gancore.bench._catalog import MODES, TRAIN_MODES, WORKLOADS, Job, check_names, plan_jobs
from gancore.bench._chart import write_chart
from gancore.bench._losses import public_losses
from gancore.bench._report import derive, markdown, targets, training_table, write_json
from gancore.bench._runner import Group


def installed_backends() -> tuple[str, ...]:
    """The backends `gancore bench` can drive whose framework is installed (no import)."""
    found = {i.name for i in describe_backends() if i.framework_version is not None}
    return tuple(b for b in TRAIN_MODES if b in found)


@attrs.frozen
class BenchSettings:
    """One run's choices. Quick runs use the workloads' quick batches, fewer and shorter
    repeats, each backend's default mode only, and one thread per framework unless told
    otherwise (on a busy machine, a framework's threads stall one another at every parallel
    op; a quick run must finish in a predictable time). `threads` None keeps the frameworks'
    defaults (one per core)."""

    backends: tuple[str, ...]
    workloads: tuple[str, ...]
    losses: tuple[str, ...]
    modes: tuple[str, ...] | None
    quick: bool
    repeats: int
    warmup: int
    min_repeat_s: float
    timeout_s: float
    threads: int | None
    out: Path

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchSettings:
        """From `gancore bench`'s options (see `add_arguments`)."""
        quick = bool(args.quick)
        installed = installed_backends()
        backends = check_names("backend", args.backend, list(installed))
        if not backends:
            raise InvalidArgumentError(
                "backend must be an installed backend with a bench driver (torch, tensorflow, "
                "jax); install one with: pip install \"gancore[torch]\""
            )
        repeats = args.repeats or (5 if quick else 9)
        if repeats < 1:
            raise InvalidArgumentError(f"repeats must be >= 1; received {repeats}")
        threads = args.threads or (1 if quick else None)
        if threads is not None and threads < 1:
            raise InvalidArgumentError(f"threads must be >= 1; received {threads}")
        return cls(
            backends=backends,
            workloads=check_names("workloads", args.workloads, list(WORKLOADS)),
            losses=check_names("losses", args.losses, list(public_losses())),
            modes=None if args.modes is None else check_names("modes", args.modes, MODES),
            quick=quick,
            repeats=repeats,
            warmup=1 if quick else 3,
            min_repeat_s=args.min_time or (0.1 if quick else 1.0),
            timeout_s=args.timeout or (120.0 if quick else 900.0),
            threads=threads,
            out=Path(args.out),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "out": str(self.out)}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _summary(row: dict[str, Any]) -> str:
    if row.get("status") != "ok":
        return f"{row['status']}: {row.get('error', '')}"
    text = f"{row['gancore']['step_s']['median'] * 1e3:.2f} ms"
    if "ratio" in row:
        text += f", {row['ratio']['median']:.3f}x the hand-written loop"
    if "eager_baseline" in row:
        text += f", {row['eager_ratio']['median']:.3f}x its eager twin"
    return text


def run_benchmarks(settings: BenchSettings,
                   progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """Measure every job of `settings`; returns the report (see docs/benchmarks.md)."""
    jobs = plan_jobs(settings.backends, settings.workloads, settings.modes, settings.losses,
                     settings.quick)
    progress(f"gancore bench: {len(jobs)} jobs on {', '.join(settings.backends)}")
    load = [_machine.load_average()]
    matmul: dict[str, float] = {}
    import_time = _machine.import_time(3 if settings.quick else 7)
    rows: dict[int, dict[str, Any]] = {}

    def report(job: Job, result: dict[str, Any]) -> None:
        rows[job.id] = {**job.to_dict(), **result}
        elapsed = f" [{result['elapsed_s']:.0f} s]" if "elapsed_s" in result else ""
        progress(f"[{len(rows)}/{len(jobs)}] {job.label}: {_summary(rows[job.id])}{elapsed}")

    frameworks = {}
    child_settings = {"repeats": settings.repeats, "warmup": settings.warmup,
                      "min_repeat_s": settings.min_repeat_s, "threads": settings.threads}
    for backend in settings.backends:
        group = [j for j in jobs if j.backend == backend]
        if not group:
            continue
        info = Group(backend, group, child_settings, settings.timeout_s, report).run()
        if info:
            frameworks[backend] = info
            for name, rate in info.pop("matmul_gflops", {}).items():
                matmul[name] = max(rate, matmul.get(name, 0.0))
    load.append(_machine.load_average())
    if not matmul:  # no child measured one: numpy's here, in this process's threads
        matmul["numpy"] = _machine.matmul_gflops(_machine.numpy_matmul())
    ceiling = max(matmul.values())
    results = [rows[j.id] for j in jobs]
    for row in results:
        derive(row, ceiling)
    return {
        "schema": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "settings": settings.to_dict(),
        "machine": _machine.describe(),
        "frameworks": frameworks,
        "matmul_gflops": matmul,
        "ceiling_gflops": ceiling,
        "import_time": import_time,
        "load_average": load,
        "targets": targets(results, import_time["seconds"]["median"]),
        "results": results,
    }


def write_outputs(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """results.json, results.md and results.png in `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "results.md",
             "chart": out / "results.png"}
    write_json(report, paths["json"])
    paths["markdown"].write_text(markdown(report))
    write_chart(report["results"], paths["chart"])
    return paths


def console_table(report: dict[str, Any]) -> str:
    """The training table and the targets, for the terminal."""
    goals = "\n".join(f"{'met   ' if t['met'] else 'MISSED'} {t['target']}"
                      for t in report["targets"])
    return training_table(report["results"], markdown=False) + "\n\n" + goals
