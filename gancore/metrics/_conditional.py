"""How often a conditional generator produces the class it was asked for."""

from __future__ import annotations

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.metrics._checks import as_feature_array, as_label_array

__all__ = ["conditional_accuracy"]


def conditional_accuracy(predicted: np.ndarray, requested: np.ndarray) -> float:
    """Share of generated samples that a classifier assigns to the label they were asked for.

        accuracy = 1/N sum_i 1[argmax_y c(y | G(z_i, y_i)) = y_i]

    The usual check of a conditional GAN (cGAN, AC-GAN): generate with requested labels
    y_i, classify the samples with a separately trained classifier, count agreements.

    Args:
        predicted: the classifier's output, either class scores of shape (N, K)
            (probabilities, or logits: only the argmax is used) or integer class ids of
            shape (N,).
        requested: the integer labels the samples were generated for, shape (N,); each
            in [0, K) when ``predicted`` holds scores.

    Returns:
        The accuracy, a float in [0, 1].

    Raises:
        InvalidArgumentError: on mis-shaped, empty or non-finite arrays, non-integer or
            negative labels, labels >= K, or different sample counts.
    """
    requested = as_label_array("requested", requested)
    if np.ndim(predicted) not in (1, 2):
        raise InvalidArgumentError(
            f"predicted must be class scores (n_samples, n_classes) or class ids "
            f"(n_samples,); received shape {np.shape(predicted)}"
        )
    if np.ndim(predicted) == 2:
        scores = as_feature_array("predicted", predicted, ndim=2, layout="(n_samples, n_classes)")
        num_classes = scores.shape[1]
        if requested.max() >= num_classes:
            raise InvalidArgumentError(
                f"requested must hold class ids < the number of classes in predicted "
                f"({num_classes}); received {int(requested.max())}"
            )
        predicted_ids = np.argmax(scores, axis=1)
    else:
        predicted_ids = as_label_array("predicted", predicted)
    if len(predicted_ids) != len(requested):
        raise InvalidArgumentError(
            f"predicted and requested must hold the same number of samples; received "
            f"{len(predicted_ids)} and {len(requested)}"
        )
    return float(np.mean(predicted_ids == requested))
