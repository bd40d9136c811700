"""Device selection for the TensorFlow backend."""

from __future__ import annotations

import tensorflow as tf

from gancore import InvalidArgumentError


def resolve_device(device: str = "auto") -> str:
    """A TensorFlow device string: `auto` picks the first GPU when there is one."""
    gpus = tf.config.list_logical_devices("GPU")
    if device == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    if device == "cpu":
        return "/CPU:0"
    if device.startswith(("cuda", "gpu")):
        index = device.partition(":")[2] or "0"
        if not index.isdigit() or int(index) >= len(gpus):
            raise InvalidArgumentError(
                f"device must name one of TensorFlow's {len(gpus)} GPUs, 'cpu' or 'auto'; "
                f"received {device!r}"
            )
        return f"/GPU:{index}"
    raise InvalidArgumentError(
        f"device must be 'auto', 'cpu', 'gpu[:N]' or 'cuda[:N]'; received {device!r}"
    )
