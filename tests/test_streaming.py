"""Streaming data: files read lazily and a user's iterables give, bit for bit, the batches of
the same data in memory; the shards of N workers stack into the batch of one process; the
position resumes exactly through prefetch; reader errors surface; broken files are refused
as the in-memory loaders refuse them; a trainer on a stream trains as it does in memory."""

from __future__ import annotations

import gc
import gzip
import itertools
import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import MNIST_DIR, load_backend

from gancore import InvalidArgumentError
from gancore.architectures import dcgan
from gancore.cli import main
from gancore.data import (
    Dataset,
    Prefetcher,
    StreamingDataset,
    batches_for,
    from_iterable,
    iterate_batches,
    load_digits,
    load_idx,
    load_image_folder,
    load_mnist,
    load_npy,
)
from gancore.training import TrainConfig, make_trainer

DIGITS = load_digits()
SMALL = DIGITS.subset(np.arange(96))


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANCORE_THREADS", "1")


def _pixels(n: int, shape: tuple[int, ...] = (8, 8, 1), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _write_npy(folder: Path, images: np.ndarray, labels: np.ndarray | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    if labels is not None:
        np.save(folder / "labels.npy", labels)
    return folder


def _write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _write_folder(root: Path, n_per_class: int = 6) -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            size = (int(rng.integers(9, 20)), int(rng.integers(9, 20)))
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _sources(tmp_path: Path) -> dict[str, tuple[Any, Any]]:
    """name -> (in-memory dataset, the same files streamed)."""
    pixels, labels = _pixels(40), np.arange(40) % 3
    npy = _write_npy(tmp_path / "npy", pixels, labels)
    floats = _write_npy(tmp_path / "f32", DIGITS.images[:40], DIGITS.labels[:40])
    raw = _write_idx(tmp_path / "x.idx", pixels[..., 0])
    gz = _write_idx(tmp_path / "x.idx.gz", pixels[..., 0], gz=True)
    lab = _write_idx(tmp_path / "y.idx", labels)
    folder = _write_folder(tmp_path / "images")
    cache = tmp_path / "cache"
    return {
        "npy-uint8": (load_npy(npy), load_npy(npy, stream=True)),
        "npy-float32": (load_npy(floats), load_npy(floats, stream=True)),
        "idx": (load_idx(raw, lab), load_idx(raw, lab, stream=True)),
        "idx-gz": (load_idx(gz, lab), load_idx(gz, lab, stream=True, cache_dir=cache)),
        "image-folder": (load_image_folder(folder, (8, 8)),
                         load_image_folder(folder, (8, 8), stream=True)),
    }


SOURCES = ("npy-uint8", "npy-float32", "idx", "idx-gz", "image-folder")


def _take(iterator: Any, n: int) -> list[Any]:
    return list(itertools.islice(iterator, n))


def _assert_same(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.images, w.images)
        assert (g.labels is None) == (w.labels is None)
        if w.labels is not None:
            np.testing.assert_array_equal(g.labels, w.labels)


# --- the same batches as in memory ------------------------------------------------------


@pytest.mark.parametrize("name", SOURCES)
def test_a_streamed_source_gives_the_batches_of_the_same_data_in_memory(
        name: str, tmp_path: Path) -> None:
    memory, stream = _sources(tmp_path)[name]
    assert isinstance(memory, Dataset) and isinstance(stream, StreamingDataset)
    assert (stream.name, stream.shape, len(stream), stream.num_classes, stream.class_names) == (
        memory.name, memory.shape, len(memory), memory.num_classes, memory.class_names)
    np.testing.assert_array_equal(stream.labels, memory.labels)
    hflip = len(memory.shape) == 3
    want = _take(batches_for(memory, 8, seed=7, hflip=hflip), 9)  # over several epochs
    got = _take(batches_for(stream, 8, seed=7, hflip=hflip), 9)
    assert any(not np.array_equal(a.images, b.images) for a, b in itertools.pairwise(want))
    _assert_same(got, want)
    assert stream.load() == memory


def test_memory_mapped_sources_have_the_fingerprint_of_the_data_in_memory(
        tmp_path: Path) -> None:
    from gancore.training._state import data_fingerprint

    sources = _sources(tmp_path)
    for name in ("npy-uint8", "idx", "idx-gz"):
        memory, stream = sources[name]
        assert data_fingerprint(stream) == data_fingerprint(memory), name
    folder = sources["image-folder"][1]
    before = data_fingerprint(folder)
    assert before == folder.fingerprint()  # the files' names and bytes
    folder.reader.files[0].write_bytes(folder.reader.files[1].read_bytes())
    assert folder.fingerprint() != before


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files at {MNIST_DIR}")
def test_real_gzipped_mnist_streams_its_in_memory_batches(tmp_path: Path) -> None:
    memory = load_mnist(MNIST_DIR)
    stream = load_mnist(MNIST_DIR, stream=True, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1  # the images inflated once, the labels in memory
    again = load_mnist(MNIST_DIR, stream=True, cache_dir=tmp_path)  # maps the cached copy
    _assert_same(_take(batches_for(again, 64, seed=3), 20),
                 _take(batches_for(memory, 64, seed=3), 20))
    _assert_same(_take(batches_for(stream, 64, seed=3, shard=(1, 2)), 3),
                 [b for b in (_shard(b, 1, 2) for b in _take(batches_for(memory, 64, seed=3), 3))])


def _shard(batch: Any, rank: int, world: int) -> Any:
    rows = slice(rank * len(batch) // world, (rank + 1) * len(batch) // world)
    return type(batch)(images=batch.images[rows],
                       labels=None if batch.labels is None else batch.labels[rows])


# --- shards -------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [2, 4])
@pytest.mark.parametrize("name", ["npy-uint8", "image-folder"])
def test_the_shards_of_n_workers_stack_into_the_batch_of_one(
        name: str, world: int, tmp_path: Path) -> None:
    memory, stream = _sources(tmp_path)[name]
    whole = _take(batches_for(memory, 8, seed=2, hflip=True), 7)
    shards = [_take(batches_for(stream, 8, seed=2, hflip=True, shard=(r, world)), 7)
              for r in range(world)]
    for step, batch in enumerate(whole):
        parts = [s[step] for s in shards]
        assert all(len(p) == 8 // world for p in parts)
        np.testing.assert_array_equal(np.concatenate([p.images for p in parts]), batch.images)
        np.testing.assert_array_equal(np.concatenate([p.labels for p in parts]), batch.labels)


def test_a_worker_reads_only_its_own_rows(tmp_path: Path) -> None:
    stream = _sources(tmp_path)["npy-uint8"][1]
    asked: list[np.ndarray] = []
    read = stream.reader.read

    class Spy:
        shape, content = stream.reader.shape, stream.reader.content

        def __len__(self) -> int:
            return len(stream.reader)

        def read(self, index: np.ndarray) -> np.ndarray:
            asked.append(index.copy())
            return read(index)

    spied = StreamingDataset(stream.name, Spy(), stream.labels, stream.num_classes)
    it = iterate_batches(stream, 8, seed=5, shard=(0, 1))
    spied_it = iterate_batches(spied, 8, seed=5, shard=(3, 4))
    for _ in range(3):
        full, _ = next(it), next(spied_it)
    assert [len(a) for a in asked] == [2, 2, 2]
    np.testing.assert_array_equal(stream.read(asked[-1]), full.images[6:8])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shard": (2, 2)}, r"shard must be a \(rank, world\) pair of ints with 0 <= rank < world; "
                        r"received \(2, 2\)"),
    ({"shard": (0, 3)}, r"batch_size must be divisible by the number of workers \(3\); "
                        r"received 8"),
    ({"shard": "0/2"}, r"shard must be a \(rank, world\) pair"),
    ({"shard": None}, r"shard must be a \(rank, world\) pair for a Dataset; received None"),
    ({"prefetch": -1}, r"prefetch must be an int >= 0 or None; received -1"),
])
def test_bad_shards_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        batches_for(SMALL, 8, seed=0, **kwargs)


def test_a_partial_batch_cannot_be_split() -> None:
    with pytest.raises(InvalidArgumentError, match="drop_last must be True with 2 workers"):
        iterate_batches(SMALL, 8, seed=0, shard=(0, 2), drop_last=False)


def test_one_worker_is_todays_iterator() -> None:
    # shard=(0, 1) draws, flips and saves exactly what iterate_batches always did.
    it = batches_for(SMALL, 10, seed=4, hflip=True)
    assert not isinstance(it, Prefetcher)  # in memory: no thread
    old = iterate_batches(SMALL, 10, seed=4, hflip=True)
    _assert_same(_take(it, 12), _take(old, 12))
    assert json.dumps({k: v for k, v in it.state_dict().items() if k != "order"}) == \
        json.dumps({k: v for k, v in old.state_dict().items() if k != "order"})


# --- prefetch and resume -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 3, 8])
def test_prefetch_never_changes_the_batches(depth: int, tmp_path: Path) -> None:
    stream = _sources(tmp_path)["image-folder"][1]
    want = _take(batches_for(stream, 4, seed=1, hflip=True, prefetch=0), 10)
    got = batches_for(stream, 4, seed=1, hflip=True, prefetch=depth)
    assert isinstance(got, Prefetcher)
    _assert_same(_take(got, 10), want)
    finite = batches_for(stream, 4, seed=1, epochs=2, prefetch=depth)
    assert len(list(finite)) == 2 * (len(stream) // 4)
    with pytest.raises(StopIteration):
        next(finite)


@pytest.mark.parametrize("depth", [0, 2])
def test_a_position_saved_mid_epoch_resumes_bit_for_bit(depth: int, tmp_path: Path) -> None:
    stream = _sources(tmp_path)["npy-uint8"][1]
    it = batches_for(stream, 6, seed=3, hflip=True, prefetch=depth)
    _take(it, 8)  # into the second epoch (6 batches an epoch)
    time.sleep(0.05)  # let the reader run ahead
    state = it.state_dict()
    want = _take(it, 9)
    # Through JSON, as a checkpoint stores it (the permutation is an array beside it).
    saved = json.loads(json.dumps({k: v for k, v in state.items() if k != "order"}))
    saved["order"] = state["order"]
    other = batches_for(stream, 6, seed=99, hflip=True, prefetch=depth)
    _take(other, 2)
    other.load_state_dict(saved)
    _assert_same(_take(other, 9), want)
    # In memory, the same position continues alike.
    memory = batches_for(_sources(tmp_path / "m")["npy-uint8"][0], 6, seed=0, hflip=True)
    memory.load_state_dict(saved)
    _assert_same(_take(memory, 9), want)


class _Broken:
    """A reader whose fourth read fails."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, 0
        self.shape, self.content = inner.shape, inner.content

    def __len__(self) -> int:
        return len(self.inner)

    def read(self, index: np.ndarray) -> np.ndarray:
        self.reads += 1
        if self.reads == 4:
            raise InvalidArgumentError("image 'x/3.png' cannot be read: a disk error")
        return self.inner.read(index)


def test_a_reader_error_surfaces_in_the_training_thread(tmp_path: Path) -> None:
    stream = _sources(tmp_path)["npy-uint8"][1]
    broken = StreamingDataset(stream.name, _Broken(stream.reader), stream.labels,
                              stream.num_classes)
    it = batches_for(broken, 4, seed=0, prefetch=2)
    _take(it, 3)
    with pytest.raises(InvalidArgumentError, match=r"image 'x/3\.png' cannot be read: a disk"):
        next(it)
    before = it.state_dict()
    assert before["position"] == 12  # three batches consumed, the failed one not
    assert len(next(it)) == 4  # the reader restarts from the consumed position


def test_a_broken_image_gives_the_in_memory_loaders_error_at_its_batch(tmp_path: Path) -> None:
    root = _write_folder(tmp_path / "images")
    (root / "dog" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    with pytest.raises(InvalidArgumentError) as memory:
        load_image_folder(root, (8, 8))
    stream = load_image_folder(root, (8, 8), stream=True)  # only the file list is read
    with pytest.raises(InvalidArgumentError) as streamed:
        list(batches_for(stream, 12, seed=0, epochs=1, prefetch=2))
    assert str(streamed.value) == str(memory.value)
    assert "dog/2.png" in str(memory.value)


def test_too_many_pixels_are_refused_before_decoding_when_streamed(tmp_path: Path) -> None:
    root = _write_folder(tmp_path / "images", n_per_class=1)
    stream = load_image_folder(root, (8, 8), stream=True, max_pixels=100)
    with pytest.raises(InvalidArgumentError, match="must have between 1 and max_pixels=100"):
        stream.read([0])


def _hostile(tmp_path: Path) -> dict[str, tuple[Any, Any]]:
    good = _pixels(10)
    cases = {}
    folder = _write_npy(tmp_path / "trunc", good)
    raw = (folder / "images.npy").read_bytes()
    (folder / "images.npy").write_bytes(raw[:-7])
    cases["npy-truncated"] = (load_npy, folder)
    cases["npy-float64"] = (load_npy, _write_npy(tmp_path / "f64", good.astype(np.float64)))
    cases["npy-rank"] = (load_npy, _write_npy(tmp_path / "rank", good[..., 0]))
    cases["npy-labels"] = (load_npy, _write_npy(tmp_path / "lab", good, np.arange(9)))
    lying = _write_idx(tmp_path / "lie.idx", good[..., 0])
    lying.write_bytes(lying.read_bytes()[:8] + struct.pack(">I", 99) + lying.read_bytes()[12:])
    cases["idx-lying-header"] = (load_idx, lying)
    huge = tmp_path / "huge.idx.gz"
    huge.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**20, 64, 64)))
    cases["idx-gz-declares-4-GiB"] = (load_idx, huge)
    short = tmp_path / "short.idx.gz"
    short.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 10, 8, 8) + b"x"))
    cases["idx-gz-truncated"] = (load_idx, short)
    return cases


@pytest.mark.parametrize("case", ["npy-truncated", "npy-float64", "npy-rank", "npy-labels",
                                  "idx-lying-header", "idx-gz-declares-4-GiB",
                                  "idx-gz-truncated"])
def test_broken_files_get_the_in_memory_loaders_errors(case: str, tmp_path: Path) -> None:
    loader, path = _hostile(tmp_path)[case]
    extra = {"cache_dir": tmp_path / "cache"} if loader is load_idx else {}
    with pytest.raises(InvalidArgumentError) as memory:
        loader(path)
    with pytest.raises(InvalidArgumentError) as streamed:
        loader(path, stream=True, **extra)
    assert str(streamed.value) == str(memory.value)
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written is left


def test_float_samples_out_of_range_are_refused_when_read(tmp_path: Path) -> None:
    images = DIGITS.images[:10].copy()
    images[7, 0, 0, 0] = 1.5
    folder = _write_npy(tmp_path / "bad", images)
    with pytest.raises(InvalidArgumentError, match=r"must hold finite samples in \[-1, 1\]"):
        load_npy(folder)
    stream = load_npy(folder, stream=True)
    stream.read(np.arange(7))
    with pytest.raises(InvalidArgumentError, match=r"bad/images.npy' must hold finite samples"):
        stream.read([3, 7])


def test_the_prefetch_thread_stops_when_closed_or_collected(tmp_path: Path) -> None:
    stream = _sources(tmp_path)["npy-uint8"][1]
    it = batches_for(stream, 4, seed=0, prefetch=2)
    next(it)
    first = it._reader.thread
    assert first.is_alive() and first.daemon
    it.close()
    assert not first.is_alive()
    next(it)  # a new reader, from the consumed position
    second = it._reader.thread
    del it
    gc.collect()
    second.join(timeout=5)
    assert not second.is_alive()


# --- a user's iterables ------------------------------------------------------------------


def _epoch_batches(epoch: int, n: int = 5, size: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(epoch)
    index = rng.permutation(len(SMALL))[: n * size]
    return [(SMALL.images[index[i * size:(i + 1) * size]],
             SMALL.labels[index[i * size:(i + 1) * size]]) for i in range(n)]


def test_an_iterable_source_yields_its_batches_and_resumes_by_skipping() -> None:
    source = from_iterable(_epoch_batches, name="mine", num_classes=10)
    assert (source.name, source.shape, source.num_classes) == ("mine", (8, 8, 1), 10)
    it = batches_for(source, 8)
    got = _take(it, 7)
    want = _epoch_batches(0) + _epoch_batches(1)[:2]
    for g, (images, labels) in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.images, images)
        np.testing.assert_array_equal(g.labels, labels)
    state = it.state_dict()
    assert (state["epoch"], state["batches"]) == (1, 2)
    rest = _take(it, 4)
    again = batches_for(source, 8, prefetch=0)
    again.load_state_dict(json.loads(json.dumps(state)))
    _assert_same(_take(again, 4), rest)
    # Two workers: each its rows of every global batch.
    halves = [_take(batches_for(source, 8, shard=(r, 2)), 7) for r in range(2)]
    for step, batch in enumerate(got):
        np.testing.assert_array_equal(
            np.concatenate([h[step].images for h in halves]), batch.images)


def test_an_iterable_skips_short_batches_and_refuses_wrong_ones() -> None:
    batches = [SMALL.images[:8], SMALL.images[8:11]]  # an epoch's short last batch
    assert len(_take(batches_for(batches, 8, prefetch=0), 3)) == 3
    cases = [
        ([SMALL.images[:9]], 8, "must hold at most batch_size \\(8\\) samples; received 9"),
        ([SMALL.images[:4]], 8, "epoch 0 yielded 1 batches, none that large"),
        ([(SMALL.images[:8] * 255).astype(np.uint8)], 8, "images must be floats in \\[-1, 1\\]"),
        ([SMALL.images[:8] * 2], 8, r"images must be finite values in \[-1, 1\]"),
        ([(SMALL.images[:8], SMALL.labels[:7])], 8, "labels must be 8 integers"),
    ]
    for source, size, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            next(batches_for(from_iterable(source, num_classes=10 if isinstance(
                source[0], tuple) else None), size, prefetch=1))
    with pytest.raises(InvalidArgumentError, match="one-shot iterator"):
        from_iterable(iter(batches))
    with pytest.raises(InvalidArgumentError, match="hflip must be False for an iterable"):
        batches_for(batches, 8, hflip=True)


class _OwnState:
    """A source that keeps its own position (as torchdata's StatefulDataLoader)."""

    def __init__(self) -> None:
        self.start = 0
        self.at = 0

    def __iter__(self) -> Any:
        for i in range(self.start, 6):
            self.at = i + 1
            yield SMALL.images[8 * i:8 * i + 8]
        self.start = 0

    def state_dict(self) -> dict[str, Any]:
        return {"at": self.at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start = state["at"]


def test_a_source_with_its_own_state_is_restored_not_skipped() -> None:
    source = from_iterable(_OwnState(), shape=(8, 8, 1))
    it = batches_for(source, 8, prefetch=2)
    _take(it, 4)
    state = it.state_dict()
    assert state["source"] == {"at": 4}  # the consumed batch's, not the read-ahead one's
    fresh = _OwnState()
    again = batches_for(from_iterable(fresh, shape=(8, 8, 1)), 8, prefetch=0)
    again.load_state_dict(state)
    np.testing.assert_array_equal(next(again).images, SMALL.images[32:40])


def test_a_torch_dataloader_is_a_source() -> None:
    torch = pytest.importorskip("torch")
    tensors = torch.utils.data.TensorDataset(torch.from_numpy(SMALL.images.copy()),
                                             torch.from_numpy(SMALL.labels.copy()))
    loader = torch.utils.data.DataLoader(tensors, batch_size=16, shuffle=False)
    batches = _take(batches_for(from_iterable(loader, num_classes=10), 16), 8)
    np.testing.assert_array_equal(batches[7].images, SMALL.images[16:32])  # second epoch
    assert batches[0].images.dtype == np.float32 and batches[0].labels.dtype == np.int64


def test_a_tf_data_dataset_is_a_source() -> None:
    tf = pytest.importorskip("tensorflow")
    ds = tf.data.Dataset.from_tensor_slices((SMALL.images, SMALL.labels)).batch(32)
    batches = _take(batches_for(from_iterable(ds, num_classes=10), 32, shard=(1, 2)), 4)
    np.testing.assert_array_equal(batches[3].images, SMALL.images[16:32])
    np.testing.assert_array_equal(batches[1].labels, SMALL.labels[48:64])


# --- training on a stream -----------------------------------------------------------------


def _weights(trainer: Any) -> dict[str, np.ndarray]:
    return {f"{n}/{k}": v for n, net in trainer.networks().items()
            for k, v in net.get_state().items()}


def test_training_on_a_stream_gives_the_weights_of_training_in_memory(tmp_path: Path) -> None:
    load_backend("torch")
    folder = _write_npy(tmp_path / "small", SMALL.images, SMALL.labels)
    config = TrainConfig(batch_size=8, steps=4, log_every=1)

    def run(data: Any, steps: int = 4, restore: Any = None) -> Any:
        trainer = make_trainer(dcgan(SMALL.shape, latent_dim=8), data, config,
                               backend="torch")
        if restore is not None:
            trainer.restore(restore)
        trainer.fit(steps - trainer.step)
        return trainer

    memory = _weights(run(load_npy(folder)))
    streamed = run(load_npy(folder, stream=True))
    assert isinstance(streamed._batches, Prefetcher)
    got = _weights(streamed)
    assert got.keys() == memory.keys()
    for key in memory:
        np.testing.assert_array_equal(got[key], memory[key], err_msg=key)
    # Stopped after 2 steps, saved, and resumed in a new trainer: the same weights.
    half = run(load_npy(folder, stream=True), steps=2)
    saved = half.save(tmp_path / "ckpt")
    resumed = _weights(run(load_npy(folder, stream=True), restore=saved))
    for key in memory:
        np.testing.assert_array_equal(resumed[key], memory[key], err_msg=key)


def test_sgan_trains_on_a_streamed_labelled_source(tmp_path: Path) -> None:
    load_backend("torch")
    folder = _write_npy(tmp_path / "small", (SMALL.images * 127.5 + 127.5).round().astype(
        np.uint8), SMALL.labels)
    stream = load_npy(folder, stream=True)
    config = TrainConfig(algorithm="sgan", batch_size=8, steps=2, num_labeled=20)
    trainer = make_trainer(dcgan(stream.shape, latent_dim=8, num_classes=10,
                                 semi_supervised=True), stream, config, backend="torch")
    trainer.fit()
    assert isinstance(trainer.labeled, Dataset) and len(trainer.labeled) == 20


def test_the_cli_streams_with_stream(tmp_path: Path) -> None:
    load_backend("torch")
    folder = _write_npy(tmp_path / "small", SMALL.images, SMALL.labels)
    common = ["train", "--no-progress", "--backend", "torch", "--dataset", "npy", "--data",
              str(folder), "--steps", "2", "--batch-size", "8", "--threads", "1"]
    assert main([*common, "--out", str(tmp_path / "memory")]) == 0
    assert main([*common, "--out", str(tmp_path / "stream"), "--stream"]) == 0
    run = json.loads((tmp_path / "stream" / "run.json").read_text())
    assert run["settings"]["dataset_options"]["stream"] is True
    config = tmp_path / "run.toml"
    config.write_text(f'dataset = "npy"\ndata_path = "{folder}"\nstream = true\n')
    assert main(["train", "--no-progress", "--backend", "torch", "--config", str(config),
                 "--steps", "2", "--batch-size", "8", "--threads", "1",
                 "--out", str(tmp_path / "toml")]) == 0
    for out in ("stream", "toml"):
        a = np.load(tmp_path / out / "checkpoint" / "arrays.npz")
        b = np.load(tmp_path / "memory" / "checkpoint" / "arrays.npz")
        for key in b.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{out} {key}")
    # Resumed: the run's own streamed data again, to 3 steps.
    assert main(["train", "--no-progress", "--resume", str(tmp_path / "stream"), "--steps",
                 "3", "--threads", "1"]) == 0
    assert json.loads((tmp_path / "stream" / "run.json").read_text())["steps"] == 3
