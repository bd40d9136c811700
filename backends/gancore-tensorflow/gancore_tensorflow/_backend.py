"""`TensorFlowBackend`: what gancore needs from TensorFlow."""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import sys
import tempfile
from typing import Any, ClassVar

from gancore import BackendInfo, framework_version, gpu_visible


def _version() -> str:
    try:
        return md.version("gancore-tensorflow")
    except md.PackageNotFoundError:
        return "0+unknown"


#: TensorFlow's C++ start-up notices, printed by absl before its logging is set up and so
#: deaf to TF_CPP_MIN_LOG_LEVEL: noise to a gancore user.
_STARTUP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|I\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard)\.cc:\d+\] .*"
)


def quiet_startup(log: str) -> str:
    """`log` without TensorFlow's start-up notices (every other line is kept)."""
    return "".join(line for line in log.splitlines(keepends=True)
                   if not _STARTUP_NOISE.fullmatch(line.rstrip("\r\n")))


def _import_tensorflow() -> Any:
    """``import tensorflow`` without its start-up notices: the process's stderr goes to a
    file during the import, and what is not a notice is written back. With
    TF_CPP_MIN_LOG_LEVEL=0 nothing is hidden."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" or "tensorflow" in sys.modules:
        import tensorflow as tf

        return tf
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(quiet_startup(captured.read().decode(errors="replace")))
            sys.stderr.flush()
    return tf


class TensorFlowBackend:
    """gancore on TensorFlow: ops for the losses, native networks, compiled training steps."""

    name: ClassVar[str] = "tensorflow"
    framework: ClassVar[str] = "tensorflow"
    array_modules: ClassVar[tuple[str, ...]] = ("tensorflow", "keras")
    #: A step's last critic update and its generator update run as one `tf.function`
    #: (`make_joint_update` with nothing carried): at two threads the DCGAN 28x28 step
    #: takes 70 ms against 76 ms as two programs, the PacGAN mixture's 12.6 ms against 14.0.
    fuses_steps: ClassVar[bool] = True

    @classmethod
    def describe(cls) -> BackendInfo:
        """Version and devices from package metadata, without importing TensorFlow."""
        cpu_only = framework_version("tensorflow-cpu", "tensorflow-intel")
        version = cpu_only or framework_version("tensorflow", "tf-nightly")
        gpu = cpu_only is None and version is not None and gpu_visible()
        devices = ("cpu", "gpu") if gpu else ("cpu",)
        return BackendInfo(
            cls.name, cls.framework, version, "gancore-tensorflow", _version(), devices
        )

    def __init__(self) -> None:
        tf = _import_tensorflow()

        from gancore_tensorflow._ops import TensorFlowOps

        self.tf = tf
        self.ops = TensorFlowOps()

    def __repr__(self) -> str:
        return f"TensorFlowBackend(tensorflow {self.tf.__version__})"

    def resolve_device(self, device: str = "auto") -> Any:
        """`auto` picks the first GPU when TensorFlow sees one; `cpu`, `gpu[:N]`, `cuda[:N]`."""
        from gancore_tensorflow._device import resolve_device

        return resolve_device(device)

    # --- networks -----------------------------------------------------------------------

    def build_network(self, spec: Any, state: Any, device: str = "auto") -> Any:
        """The native `tf.Module` for a portable spec, loaded with `state`."""
        from gancore_tensorflow._nn import build_network

        return build_network(spec, state, self.resolve_device(device))

    def to_native(self, x: Any, device: str = "auto") -> Any:
        """A numpy array as a tensor on `device` (NHWC, TensorFlow's own layout)."""
        from gancore_tensorflow._nn import to_native

        return to_native(x, self.resolve_device(device))

    def to_numpy(self, x: Any) -> Any:
        from gancore_tensorflow._nn import to_numpy

        return to_numpy(x)

    def wrap_native(self, module: Any) -> Any:
        """A plugin's own Keras 3 model (built) with the interface of gancore's networks."""
        from gancore_tensorflow._native import KerasNetwork

        return KerasNetwork(module)

    def seed(self, seed: int) -> None:
        """Seed TensorFlow's global generator, the one Keras draws a native model's
        initialisers' seeds from (Python's `random`) and the backend's own (dropout
        masks)."""
        from gancore_tensorflow import _random
        from gancore_tensorflow._native import seed_keras

        self.tf.random.set_seed(seed)
        seed_keras(seed)
        _random.seed(seed)

    def set_threads(self, threads: int) -> None:
        """Run ops on `threads` threads (intra- and inter-op). TensorFlow takes this only
        before it runs its first op; later the same count passes and another one raises."""
        from gancore import GancoreError

        threading = self.tf.config.threading
        try:
            threading.set_intra_op_parallelism_threads(int(threads))
            threading.set_inter_op_parallelism_threads(int(threads))
        except RuntimeError:
            if threading.get_intra_op_parallelism_threads() != int(threads):
                raise GancoreError(
                    f"threads can be set only before TensorFlow runs its first op; this "
                    f"process already runs it on "
                    f"{threading.get_intra_op_parallelism_threads() or 'its default'} threads"
                ) from None

    def random_state(self) -> dict[str, Any]:
        """The backend's random stream (dropout masks) as arrays."""
        from gancore_tensorflow import _random

        return {"generator": _random.get_state()}

    def set_random_state(self, state: Any) -> None:
        """Restore a `random_state()`."""
        from gancore_tensorflow import _random

        _random.set_state(state["generator"])

    # --- training -----------------------------------------------------------------------

    def make_optimizer(self, config: Any, params: Any) -> Any:
        from gancore_tensorflow._train import make_optimizer

        return make_optimizer(config, params)

    def set_learning_rate(self, optimizer: Any, lr: float) -> None:
        from gancore_tensorflow._train import set_learning_rate

        set_learning_rate(optimizer, lr)

    def optimizer_state(self, optimizer: Any) -> Any:
        """The optimizer's state in gancore's neutral layout (see `gancore.Backend`)."""
        from gancore_tensorflow._train import optimizer_state

        return optimizer_state(optimizer)

    def set_optimizer_state(self, optimizer: Any, state: Any) -> None:
        from gancore_tensorflow._train import set_optimizer_state

        set_optimizer_state(optimizer, state)

    def make_update(self, objective: Any, optimizer: Any, *, post: Any = None,
                    compile: bool = False, workers: Any = None) -> Any:
        """One optimizer step on `objective(inputs) -> (loss, metrics)` in a `tf.function`
        (with XLA when `compile`); with `workers`, averaged over them."""
        from gancore_tensorflow._train import Update

        return Update(objective, optimizer, post=post, compile=compile, workers=workers)

    def make_joint_update(self, first: Any, first_optimizer: Any, second: Any,
                          second_optimizer: Any, *, post: Any = None,
                          compile: bool = False, workers: Any = None) -> Any:
        """A critic update then a generator update on the fakes the first carried over, in
        one `tf.function`."""
        from gancore_tensorflow._train import JointUpdate

        return JointUpdate(first, first_optimizer, second, second_optimizer, post=post,
                           compile=compile, workers=workers)

    # --- data-parallel jobs (tf.distribute) -----------------------------------------------

    def init_workers(self, workers: Any, device: str = "auto") -> str:
        """Create the job's `MultiWorkerMirroredStrategy` (from ``TF_CONFIG``; before
        TensorFlow's first op); returns this worker's device."""
        from gancore_tensorflow._distributed import init_workers

        return init_workers(workers, device)

    def broadcast(self, network: Any, workers: Any) -> None:
        """Worker 0's variables into every worker's copy of `network`."""
        from gancore_tensorflow._distributed import broadcast

        # Every variable the network holds (a tf.Module's or a Keras model's), in the order
        # the module tracks them: the same order on every worker.
        broadcast(list(network.variables))

    def any_worker(self, flag: bool, workers: Any) -> bool:
        """Whether `flag` holds on any worker; every worker calls it at the same point."""
        from gancore_tensorflow._distributed import any_worker

        return any_worker(flag)

    def all_gather(self, x: Any, workers: Any) -> Any:
        """Every worker's rows of `x`, concatenated in rank order."""
        from gancore_tensorflow._distributed import all_gather

        return all_gather(x)

    def global_mean(self, x: Any, workers: Any) -> Any:
        """The mean over the rows of every worker's `x`, differentiable (inside an update)."""
        from gancore_tensorflow._distributed import global_row_mean

        return global_row_mean(x)

    def no_grad(self) -> Any:
        from gancore_tensorflow._train import no_grad

        return no_grad()

    def ema_update(self, target: Any, source: Any, decay: float) -> None:
        from gancore_tensorflow._train import ema_update

        ema_update(target, source, decay)

    def copy_values(self, target: Any, source: Any) -> None:
        from gancore_tensorflow._train import copy_values

        copy_values(target, source)
