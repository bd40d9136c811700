"""Training: the loop owned by the core, steps compiled by each backend.

`train("dcgan")` runs a recipe end to end and `resume(run_dir)` continues it; `GANTrainer`,
`SGANTrainer` and `CycleGANTrainer` give full control; checkpoints hold the whole training
state, load and sample on any backend, and resume a run on any backend.
"""

from __future__ import annotations

from gancore.training._callbacks import (
    Callback,
    CheckpointEvery,
    CriticProbe,
    MetricsLog,
    ProgressBar,
    SampleGrid,
    TensorBoardLog,
)
from gancore.training._checkpoint import (
    Checkpoint,
    CheckpointLimits,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from gancore.training._config import OptimizerConfig, TrainConfig
from gancore.training._epochs import Epochs, steps_per_epoch
from gancore.training._images import image_grid, save_samples
from gancore.training._recipes import (
    RECIPES,
    Recipe,
    build_architecture,
    get_recipe,
    load_dataset,
)
from gancore.training._run import RunResult, default_backend, resume, train
from gancore.training._sampling import standing_statistics
from gancore.training._trainer import (
    CycleGANTrainer,
    GANTrainer,
    ImagePool,
    SGANTrainer,
    make_trainer,
    resolve_loss,
)

__all__ = [
    "RECIPES",
    "Callback",
    "Checkpoint",
    "CheckpointEvery",
    "CheckpointLimits",
    "CriticProbe",
    "CycleGANTrainer",
    "Epochs",
    "GANTrainer",
    "ImagePool",
    "MetricsLog",
    "OptimizerConfig",
    "ProgressBar",
    "Recipe",
    "RunResult",
    "SGANTrainer",
    "SampleGrid",
    "TensorBoardLog",
    "TrainConfig",
    "build_architecture",
    "default_backend",
    "get_recipe",
    "image_grid",
    "latest_checkpoint",
    "load_checkpoint",
    "load_dataset",
    "make_trainer",
    "resolve_loss",
    "resume",
    "save_checkpoint",
    "save_samples",
    "standing_statistics",
    "steps_per_epoch",
    "train",
]
