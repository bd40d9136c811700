"""Training cases that a data-parallel job must compute as one process does, and the
worker program the distributed tests start (``python tests/_distributed_cases.py BACKEND
OUT_DIR``, under the environment `gancore.distributed.worker_environments` gives)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from gancore.distributed import Workers, from_environment
from gancore.training._recipes import build_architecture, get_recipe, inverted, load_dataset
from gancore.training._trainer import make_trainer

STEPS = 3

# Adam and RMSprop turn float32 rounding noise in a near-zero gradient into a full-size step;
# SGD keeps each step proportional to the gradient, so comparing whole runs under SGD checks
# every parameter's gradient (as tests/test_training.py compares backends). One case keeps
# the recipe's Adam.
SGD = {"name": "sgd", "lr": 0.01, "momentum": 0.5}
_SGD = {"generator_optimizer": SGD, "critic_optimizer": SGD}

#: name -> (recipe, config overrides, synchronised batch norm)
CASES: dict[str, tuple[str, dict[str, Any], bool]] = {
    "nonsaturating": ("dcgan", _SGD, True),
    "nonsaturating-adam": ("dcgan", {}, True),
    "nonsaturating-unsynced": ("dcgan", _SGD, False),
    "wgan-gp": ("wgan-gp", {"n_critic": 2, **_SGD}, True),
    "r1-lazy": ("dcgan", {"r1_penalty": 1.0, "r1_interval": 2, **_SGD}, True),
    "cgan": ("cgan", _SGD, True),
    "ema-lr-decay-flips-reuse": ("dcgan", {"ema_decay": 0.9, "flip_fraction": 0.25,
                                           "reuse_fakes": True, "lr_schedule": "linear",
                                           "decay_start": 0.3, **_SGD}, True),
    "sgan": ("sgan", _SGD, True),
    # The generator matches the global batch's mean critic features (after a batch norm).
    "feature-matching": ("dcgan", {"feature_matching": "activation_2", **_SGD}, True),
    # Two steps: the U-Net's instance norms over 1x1 and 2x2 maps of the 8x8 digits divide
    # by sqrt(var + eps) with var near 0 (up to 316x), so by the third step float32 rounding
    # of the two batch layouts has grown to 1e-3 (steps 1 and 2 agree to 3e-7).
    "cyclegan": ("cyclegan", {"batch_size": 2, "steps": 2, **_SGD}, True),
}


def halves(objective: Any, parts: int = 2) -> Any:
    """`objective` on each of `parts` equal row blocks of its inputs, losses and metrics
    averaged: what `parts` workers compute whose batch norm sees only their own rows."""

    def split(inputs: Any) -> Any:
        n = int(next(iter(inputs.values())).shape[0]) // parts
        results = [objective({k: v[i * n:(i + 1) * n] for k, v in inputs.items()})
                   for i in range(parts)]
        loss = sum(r[0] for r in results) / parts
        return loss, {k: sum(r[1][k] for r in results) / parts for k in results[0][1]}

    return split


def run_case(name: str, backend: str, workers: Workers | None = None,
             device: str = "cpu", per_worker_batch_norm: int = 0) -> Any:
    """Train case `name` for `STEPS` steps (global batch 16) and return the trainer. With
    `per_worker_batch_norm` N (one process), each update's objective runs on N row blocks
    separately (`halves`): the batch norm of N unsynchronised workers."""
    recipe, overrides, _ = CASES[name]
    rec = get_recipe(recipe).with_overrides(
        config={"steps": STEPS, "batch_size": 16, "seed": 5, "log_every": 1, **overrides})
    data = load_dataset(rec.dataset, rec.dataset_options)
    pair = build_architecture(rec.architecture, tuple(data.shape), rec.architecture_options)
    cfg = rec.config
    train_data: Any = (data, inverted(data)) if cfg.algorithm == "cyclegan" else data
    trainer = make_trainer(pair, train_data, cfg, backend=backend, device=device,
                           workers=workers)
    if per_worker_batch_norm:
        n = per_worker_batch_norm
        # Separate updates (a backend that fuses a step's last two runs them as one call,
        # tested equal to these in tests/test_training.py), each on N row blocks.
        trainer._joint, trainer._fused = {}, False
        trainer._d_update = trainer.backend.make_update(
            halves(trainer._critic_objective, n), trainer.opt_d)
        trainer._g_update = trainer.backend.make_update(
            halves(trainer._generator_objective, n), trainer.opt_g)
    trainer.fit(progress=False)
    return trainer


def final_state(trainer: Any) -> dict[str, np.ndarray]:
    """Every network's arrays (and the EMA copy), and the last logged metrics."""
    out = {f"{net}/{k}": np.asarray(v) for net, arrays in trainer.networks().items()
           for k, v in arrays.get_state().items()}
    for k, v in trainer.history[-1].items():
        out[f"metrics/{k}"] = np.asarray(v)
    return out


def main(backend: str, out_dir: str, device: str = "cpu") -> None:
    framework = "torch" if backend == "torch" else "tensorflow"
    for name, (_, _, sync) in CASES.items():
        workers = from_environment(framework, sync_batch_norm=sync)
        trainer = run_case(name, backend, workers, device)
        np.savez(Path(out_dir) / f"{name}-rank{workers.rank}.npz", **final_state(trainer))


if __name__ == "__main__":
    main(*sys.argv[1:4])
