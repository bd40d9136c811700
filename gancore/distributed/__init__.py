"""Data-parallel training on the frameworks' own engines: torch.distributed (gloo, NCCL;
launched by torchrun) and tf.distribute (``MultiWorkerMirroredStrategy`` under ``TF_CONFIG``),
or ``gancore train --workers N`` on one host. See docs/distributed.md."""

from gancore.distributed._launch import launch_local, worker_environments
from gancore.distributed._workers import Workers, from_environment

__all__ = ["Workers", "from_environment", "launch_local", "worker_environments"]
