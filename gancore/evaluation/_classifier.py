"""The feature classifier: a small CNN that gancore trains itself on the real data.

Its penultimate layer stands in for Inception's pool features (the Frechet distance, PRDC)
and its softmax for Inception's predictions (the Inception-style score, conditional
accuracy), so image scores need no download. It is a portable `gancore.nn` spec trained
with a backend's own `make_update`, and cached on disk (see `_cache`).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import scipy.special

from gancore._backend import backend as get_backend
from gancore._errors import InvalidArgumentError
from gancore.data import Dataset, iterate_batches
from gancore.evaluation._defaults import CLASSIFIER_STEPS
from gancore.losses import softmax_cross_entropy
from gancore.nn import (
    Activation,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    NetworkSpec,
    forward_numpy,
    init_state,
    sequential,
)
from gancore.training import OptimizerConfig, default_backend
from gancore.training._sampling import translate

__all__ = ["ClassifierSettings", "FeatureClassifier", "classifier_specs", "train_classifier"]

# The convolutions halve the image until its side is at most this (28 -> 14 -> 7, 8 -> 4).
_SMALLEST_SIDE = 7
_INFERENCE_BATCH = 500


def _positive_int(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(f"'{attribute.name}' must be an int >= 1: {value!r}")


def _positive(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidArgumentError(f"'{attribute.name}' must be > 0: {value!r}")


def _non_negative_int(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgumentError(f"'{attribute.name}' must be an int >= 0: {value!r}")


@attrs.frozen
class ClassifierSettings:
    """How the feature classifier is built and trained; all of it enters the cache key.

    The network: 3x3 stride-2 convolutions with ReLU (``width`` filters, doubled at each
    one) until the image side is at most 7, then a dense layer of ``features`` units (the
    features: its pre-activations), ReLU, and a dense layer of one logit per class. Adam
    (``lr``, betas 0.9 / 0.999) on the softmax cross entropy for ``steps`` batches of
    ``batch_size``, on ``backend`` (default: torch when installed), seeded by ``seed``.
    """

    steps: int = attrs.field(default=CLASSIFIER_STEPS, validator=_positive_int)
    batch_size: int = attrs.field(default=64, validator=_positive_int)
    lr: float = attrs.field(default=1e-3, validator=_positive)
    width: int = attrs.field(default=32, validator=_positive_int)
    features: int = attrs.field(default=128, validator=_positive_int)
    seed: int = attrs.field(default=0, validator=_non_negative_int)
    backend: str = attrs.field(factory=default_backend)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return attrs.asdict(self)


def classifier_specs(
    shape: tuple[int, ...], num_classes: int, settings: ClassifierSettings
) -> tuple[NetworkSpec, NetworkSpec]:
    """The classifier as two specs: ``features`` (image -> F pre-activations) and ``head``
    (ReLU, then the class logits); ``head(features(x))`` are the logits."""
    if len(shape) != 3:
        raise InvalidArgumentError(
            f"the feature classifier needs images (height, width, channels); received "
            f"samples of shape {shape}"
        )
    side, filters = max(shape[:2]), settings.width
    layers: list[Layer] = []
    while not layers or side > _SMALLEST_SIDE:
        layers += [Conv2D(filters, 3, stride=2, padding=1), Activation("relu")]
        side, filters = (side + 1) // 2, filters * 2
    layers += [Flatten(), Dense(settings.features)]
    features = sequential("classifier_features", shape, layers, init="glorot")
    head = sequential("classifier_head", (settings.features,),
                      [Activation("relu"), Dense(num_classes)], init="glorot")
    return features, head


@attrs.frozen
class FeatureClassifier:
    """A trained feature classifier: its specs, weights, settings and test accuracy.

    Attributes:
        features_spec, head_spec: the two halves (`classifier_specs`).
        states: ``{"features": ..., "head": ...}``, the weights in canonical layout.
        settings: how it was trained.
        test_accuracy: its accuracy on the held-out real part, in [0, 1].
        num_train, num_test: sizes of the real parts it was trained and tested on.
        key: the cache key (a hash of the data and the settings).
        loaded: whether it came from the cache rather than from training.
    """

    features_spec: NetworkSpec
    head_spec: NetworkSpec
    states: dict[str, dict[str, np.ndarray]] = attrs.field(eq=False, repr=False)
    settings: ClassifierSettings
    test_accuracy: float
    num_train: int
    num_test: int
    key: str
    loaded: bool = False
    _networks: dict[str, Any] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def features(self, images: np.ndarray, backend: str | None = None) -> np.ndarray:
        """Penultimate-layer features (N, F) float64 of NHWC images in [-1, 1], computed in
        inference mode on `backend` (default: the one it was trained on)."""
        name = backend or self.settings.backend
        be = get_backend(name)
        if name not in self._networks:
            self._networks[name] = be.build_network(self.features_spec, self.states["features"])
        # `translate` applies an image network in inference mode, a batch at a time.
        out = translate(be, self._networks[name], np.asarray(images, np.float32),
                        batch_size=_INFERENCE_BATCH)
        return out.astype(np.float64)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) from features (the head is small: numpy evaluates it)."""
        logits = forward_numpy(self.head_spec, self.states["head"], features)
        return scipy.special.softmax(logits, axis=1)


def _accuracy(classifier: FeatureClassifier, data: Dataset) -> float:
    probs = classifier.probabilities(classifier.features(data.images))
    return float(np.mean(np.argmax(probs, axis=1) == data.labels))


def train_classifier(train: Dataset, test: Dataset, settings: ClassifierSettings,
                     key: str = "") -> FeatureClassifier:
    """Train the feature classifier on `train` and measure its accuracy on `test`.

    The loop is the backend's own compiled step (`make_optimizer`, `make_update`) on
    `softmax_cross_entropy`, as the GAN trainers use it; randomness comes from
    ``settings.seed`` (weights, batch order).
    """
    for name, data in (("train", train), ("test", test)):
        if data.labels is None or data.num_classes is None:
            raise InvalidArgumentError(
                f"the feature classifier needs labelled data; the {name} part of "
                f"{data.name!r} has no labels"
            )
    be = get_backend(settings.backend)
    if not hasattr(be, "make_update"):
        raise InvalidArgumentError(
            f"the feature classifier must be trained on a backend with autodiff (torch or "
            f"tensorflow); received backend {settings.backend!r}"
        )
    num_classes = int(train.num_classes or 0)
    features_spec, head_spec = classifier_specs(tuple(train.shape), num_classes, settings)
    seeds = [int(s) for s in np.random.SeedSequence(settings.seed).generate_state(3)]
    be.seed(settings.seed)
    body = be.build_network(features_spec, init_state(features_spec, seeds[0]))
    head = be.build_network(head_spec, init_state(head_spec, seeds[1]))
    optimizer = be.make_optimizer(
        OptimizerConfig.adam(settings.lr, 0.9, 0.999),
        [*body.trainable_parameters(), *head.trainable_parameters()],
    )

    def objective(inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        loss = softmax_cross_entropy(head(body(inputs["x"], training=True), training=True),
                                     inputs["y"])
        return loss, {"loss": be.ops.stop_gradient(loss)}

    update = be.make_update(objective, optimizer)
    batches = iterate_batches(train, min(settings.batch_size, len(train)), seed=seeds[2])
    for _ in range(settings.steps):
        batch = next(batches)
        update({"x": be.to_native(batch.images), "y": be.to_native(batch.labels)})
    classifier = FeatureClassifier(
        features_spec, head_spec, {"features": body.get_state(), "head": head.get_state()},
        settings, test_accuracy=0.0, num_train=len(train), num_test=len(test), key=key,
    )
    return attrs.evolve(classifier, test_accuracy=_accuracy(classifier, test))
