"""A plugin's own Keras 3 model behind the interface of gancore's networks.

The state is named as Keras names it in its own weights files (``model.save_weights``'s
``.weights.h5``): ``layers/dense/vars/0`` for the first variable of the model's first
`Dense` layer. Those names come from the model's structure (each layer's class, counted
within its parent), not from the layers' generated names (``dense_7``), so two builds of
one model share them, and the arrays of a checkpoint load back with
``model.load_weights``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from gancore import InvalidArgumentError
from gancore.nn import CanonicalLayouts


def _keras() -> Any:
    import keras

    if not keras.__version__.startswith("3.") or keras.backend.backend() != "tensorflow":
        raise InvalidArgumentError(
            f"a native tensorflow architecture needs Keras 3 running on TensorFlow; "
            f"received Keras {keras.__version__} on {keras.backend.backend()!r}"
        )
    return keras


def seed_keras(seed: int) -> None:
    """Seed what Keras draws its initialisers' and dropout layers' seeds from when a model
    gives none (Python's global `random`, `keras.random.make_default_seed`): a native
    model built next gets the same weights for the same seed, as torch's modules do after
    `torch.manual_seed`."""
    random.seed(seed)


def weight_names(model: Any) -> dict[str, Any]:
    """Keras's own weights-file path of each of `model`'s variables (name -> variable), in
    the order Keras saves them."""
    # Keras walks its objects to name their variables in `save_weights`; the walk is not
    # public, so it is asked here with an in-memory store of the same layout.
    from keras.src.saving import saving_lib

    store = saving_lib.NpzIOStore("<memory>", mode="w")
    saving_lib._save_state(model, store, None, "", set())
    names: dict[str, Any] = {}
    for path, entries in store.contents.items():
        prefix = "" if path == "__root__" else f"{path}/"
        for key, variable in entries.items():
            names[f"{prefix}vars/{key}"] = variable
    return names


class KerasNetwork(CanonicalLayouts):
    """Wraps a Keras 3 model: ``net(x, training=)`` calls ``model(x, training=)``, and a
    network of several inputs (a conditional model's samples and labels) calls it with
    them as one list, Keras's convention for multi-input models. Trainable parameters are
    the `tf.Variable`s behind ``model.trainable_weights``; the state is every variable Keras
    saves, by its weights-file name, in its own dtype and layout (the canonical names and
    layouts of `CanonicalLayouts`, with identity permutations)."""

    def __init__(self, model: Any) -> None:
        keras = _keras()
        if not isinstance(model, keras.Model):
            raise InvalidArgumentError(
                f"a native tensorflow architecture must build keras.Model objects; "
                f"received {type(model).__name__}"
            )
        if not model.built:
            raise InvalidArgumentError(
                f"a native Keras model must be built (give it a keras.Input or call "
                f"build(input_shape)); received unbuilt {type(model).__name__} "
                f"{model.name!r}"
            )
        self.module = model
        self._variables = weight_names(model)
        by_id = {id(v): name for name, v in self._variables.items()}
        self._trainable = [by_id[id(v)] for v in model.trainable_weights]
        self._perms = {n: tuple(range(len(v.shape))) for n, v in self._variables.items()}

    def __call__(self, *inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        return self.module(x, training=training)

    def copy(self) -> KerasNetwork:
        """An independent copy (``keras.models.clone_model`` and ``set_weights``): the EMA
        generator."""
        keras = _keras()
        try:
            clone = keras.models.clone_model(self.module)
        except Exception as e:
            raise InvalidArgumentError(
                f"a native Keras generator must be cloneable (keras.models.clone_model) "
                f"for an EMA copy; {type(self.module).__name__} {self.module.name!r} is not: "
                f"{e}"
            ) from e
        clone.set_weights(self.module.get_weights())
        return KerasNetwork(clone)

    @property
    def variables(self) -> list[tf.Variable]:
        """The `tf.Variable` behind every variable Keras saves, in its saving order (the
        same on every worker: what a broadcast sends)."""
        return [v.value for v in self._variables.values()]

    def trainable_parameters(self) -> list[tf.Variable]:
        return [self._variables[n].value for n in self._trainable]

    def get_state(self) -> dict[str, np.ndarray]:
        return {n: np.array(v.numpy()) for n, v in self._variables.items()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        missing = sorted(set(self._variables) - set(state))
        if missing:
            raise InvalidArgumentError(
                f"state must hold every variable of the model; missing {', '.join(missing)}"
            )
        for name, variable in self._variables.items():
            value = np.asarray(state[name])
            if tuple(value.shape) != tuple(variable.shape):
                raise InvalidArgumentError(
                    f"state entry {name!r} must have shape {tuple(variable.shape)}; received "
                    f"{tuple(value.shape)}"
                )
            variable.assign(value.astype(variable.dtype))

    def __repr__(self) -> str:
        return f"KerasNetwork({self.module.name!r})"
