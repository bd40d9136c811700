"""How labels enter a conditional network (cGAN, Mirza and Osindero 2014).

Images follow Jason Brownlee's Keras cGANs (Fashion-MNIST, and the flowers cGAN of the
seeds): the label is embedded in 50 dimensions, mapped by a Dense layer to one h x w
channel and concatenated to the image (critic) or to the projected noise (generator).
Fully connected networks concatenate the 50-dimensional embedding to their flat input.
"""

from __future__ import annotations

from gancore.nn import Dense, Embedding, GraphBuilder, Reshape

__all__ = ["LABEL_EMBEDDING_DIM", "label_features", "label_map"]

#: Size of the label embedding, as in Brownlee's cGANs.
LABEL_EMBEDDING_DIM = 50


def label_features(g: GraphBuilder, labels: str, num_classes: int) -> str:
    """Labels () int64 -> an embedding (LABEL_EMBEDDING_DIM,); returns the node's name."""
    return g.add(Embedding(num_classes, LABEL_EMBEDDING_DIM), labels, name="label_embedding")


def label_map(g: GraphBuilder, labels: str, num_classes: int, height: int, width: int) -> str:
    """Labels () int64 -> one (height, width, 1) channel to concatenate to an image:
    Embedding(num_classes, 50) -> Dense(height * width) -> Reshape."""
    features = label_features(g, labels, num_classes)
    flat = g.add(Dense(height * width), features, name="label_dense")
    return g.add(Reshape((height, width, 1)), flat, name="label_map")
