"""Datasets in numpy, free of any framework.

Images cross this API as NHWC float32 arrays in `[-1, 1]`; each backend converts them at its
own boundary. A dataset is held in memory (`Dataset`), read lazily from its files
(`StreamingDataset`, the loaders' ``stream=True``) or is a user's iterable of batches
(`from_iterable`); `batches_for` gives the trainers' batch iterator for any of them.
Loaders read local files only and never download. Pillow and scikit-learn are imported by
the loaders that need them, not by `import gancore.data`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from gancore.data._arrays import load_npy
from gancore.data._batches import Batch, BatchIterator, iterate_batches
from gancore.data._cifar import CIFAR10_CLASS_NAMES, load_cifar10
from gancore.data._dataset import Dataset
from gancore.data._digits import load_digits
from gancore.data._folder import IMAGE_SUFFIXES, load_image_files, load_image_folder
from gancore.data._idx import (
    FASHION_MNIST_CLASS_NAMES,
    load_fashion_mnist,
    load_idx,
    load_mnist,
    map_idx,
    read_idx,
)
from gancore.data._iterables import IterableSource, from_iterable
from gancore.data._mixtures import GaussianMixture2D, load_mixture
from gancore.data._prefetch import Prefetcher
from gancore.data._resize import resize_images
from gancore.data._source_batches import DataSource, batches_for, is_data_source
from gancore.data._streaming import StreamingDataset

__all__ = [
    "BUILTIN_DATASETS",
    "CIFAR10_CLASS_NAMES",
    "FASHION_MNIST_CLASS_NAMES",
    "IMAGE_SUFFIXES",
    "Batch",
    "BatchIterator",
    "DataSource",
    "Dataset",
    "GaussianMixture2D",
    "IterableSource",
    "Prefetcher",
    "StreamingDataset",
    "batches_for",
    "from_iterable",
    "is_data_source",
    "iterate_batches",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_image_files",
    "load_image_folder",
    "load_mixture",
    "load_mnist",
    "load_npy",
    "map_idx",
    "read_idx",
    "resize_images",
]

#: The datasets gancore ships, by the name the registry and the CLI use.
BUILTIN_DATASETS: dict[str, Callable[..., Dataset | StreamingDataset]] = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "image_folder": load_image_folder,
    "image_files": load_image_files,
    "npy": load_npy,
    "ring": functools.partial(load_mixture, "ring"),
    "grid": functools.partial(load_mixture, "grid"),
}
