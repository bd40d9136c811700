"""`batches_for`: the batch iterator a trainer uses, for any kind of data source."""

from __future__ import annotations

from typing import Any

from gancore._errors import InvalidArgumentError
from gancore.data._batches import (
    BatchIterator,
    Shard,
    check_count,
    check_shard,
    iterate_batches,
)
from gancore.data._dataset import Dataset
from gancore.data._iterables import IterableBatches, IterableSource, from_iterable
from gancore.data._prefetch import Prefetcher
from gancore.data._random import SeedLike
from gancore.data._streaming import StreamingDataset

__all__ = ["DataSource", "batches_for", "is_data_source"]

#: What a trainer trains on: samples in memory, read lazily from files, or a user's batches.
DataSource = Dataset | StreamingDataset | IterableSource

#: Batches read ahead by default from a source that reads files or runs a user's code.
DEFAULT_PREFETCH = 2


def is_data_source(data: Any) -> bool:
    """Whether `data` is a `Dataset`, a `StreamingDataset` or an `IterableSource`."""
    return isinstance(data, Dataset | StreamingDataset | IterableSource)


def batches_for(
    data: Any,
    batch_size: int,
    *,
    seed: SeedLike = None,
    shard: Shard | None = (0, 1),
    hflip: bool = False,
    epochs: int | None = None,
    prefetch: int | None = None,
) -> BatchIterator | IterableBatches | Prefetcher:
    """The iterator of `Batch`es a trainer draws from `data`, with `state_dict` and
    `load_state_dict` (its position, saved in checkpoints).

    `data` is a `Dataset` or a `StreamingDataset` (shuffled by `seed`, as
    `iterate_batches` with `drop_last`: the same seed gives the same batches, in memory or
    streamed), an `IterableSource` (`from_iterable`), or an iterable or callable that
    `from_iterable` accepts. Distributed: every worker draws the same global batch of
    `batch_size` samples and, with `shard=(rank, world)`, yields its rows
    `[rank * b, (rank + 1) * b)`, `b = batch_size // world` (`world` must divide
    `batch_size`); only those rows are read. `shard=None` is for an iterable that is
    already this worker's own (a `DistributedSampler`, `tf.data`'s `shard`): its batches,
    of `batch_size` samples, are taken whole. `hflip` mirrors images with probability 1/2
    (not for iterables: flip in their pipeline). `prefetch` batches are read ahead by a
    background thread (default: 0 for a `Dataset`, whose rows are in memory, else
    `DEFAULT_PREFETCH`); the saved position is always that of the last batch consumed.
    """
    if prefetch is not None and (isinstance(prefetch, bool) or not isinstance(prefetch, int)
                                 or prefetch < 0):
        raise InvalidArgumentError(f"prefetch must be an int >= 0 or None; received "
                                   f"{prefetch!r}")
    inner: BatchIterator | IterableBatches
    if isinstance(data, Dataset | StreamingDataset):
        if shard is None:
            raise InvalidArgumentError(
                f"shard must be a (rank, world) pair for a {type(data).__name__}; received "
                f"None (an already-sharded source is an iterable's case)"
            )
        inner = iterate_batches(data, batch_size, seed=seed, epochs=epochs, hflip=hflip,
                                shard=shard)
        depth = (0 if isinstance(data, Dataset) else DEFAULT_PREFETCH) if prefetch is None \
            else prefetch
    else:
        source = data if isinstance(data, IterableSource) else from_iterable(data)
        check_count(batch_size, "batch_size")
        check_count(epochs, "epochs", allow_none=True)
        if hflip:
            raise InvalidArgumentError(
                f"hflip must be False for an iterable source ({source.name!r}): flip in its "
                f"own pipeline; received True"
            )
        inner = IterableBatches(source, batch_size,
                                None if shard is None else check_shard(shard, batch_size),
                                epochs)
        depth = DEFAULT_PREFETCH if prefetch is None else prefetch
    return Prefetcher(inner, depth) if depth else inner
