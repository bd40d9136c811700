"""Tests of the file loaders of gancore.data: IDX (MNIST), CIFAR-10, image folders, resizing."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from _helpers import MNIST_DIR
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gancore.data as gd
from gancore._errors import GancoreError, InvalidArgumentError

# --- IDX ---

_TYPE_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def _idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written independently of the reader under test."""
    code = _TYPE_CODES[array.dtype.str.lstrip("|")]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def _write(path: Path, data: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_read_idx_golden_bytes(tmp_path: Path) -> None:
    # Hand-written: uint8, 2 dimensions (2, 3), values 0..5.
    raw = b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + bytes(range(6))
    array = gd.read_idx(_write(tmp_path / "a-idx2-ubyte", raw))
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, [[0, 1, 2], [3, 4, 5]])
    # Big-endian int16: 0x0100 = 256 and 0xfffe = -2, returned in native byte order.
    raw = b"\x00\x00\x0b\x01" + b"\x00\x00\x00\x02" + b"\x01\x00\xff\xfe"
    array = gd.read_idx(_write(tmp_path / "b.gz", raw, compress=True))
    assert array.dtype == np.dtype("int16") and array.dtype.isnative
    np.testing.assert_array_equal(array, [256, -2])
    array[0] = 1  # the result is an ordinary writeable array


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype", list(_TYPE_CODES))
def test_read_idx_round_trips_every_type(tmp_path: Path, dtype: str, compress: bool) -> None:
    expected = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    if dtype == "u1":
        expected = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    array = gd.read_idx(_write(tmp_path / "x", _idx_bytes(expected), compress))
    assert array.shape == (2, 3, 4) and array.dtype == expected.dtype.newbyteorder("=")
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is truncated: 4 header bytes needed; received 0 bytes"),
        (b"\x00\x00\x08", "is truncated: 4 header bytes needed; received 3 bytes"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x00", "bad magic number.*received 01 00 08 01"),
        (
            b"\x00\x00\x07\x01\x00\x00\x00\x00",
            "type in 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E; received 00 00 07 01",
        ),
        (b"\x00\x00\x08\x00", "must have at least 1 dimension; received 0"),
        (
            b"\x00\x00\x08\x02\x00\x00\x00\x01",
            "is truncated: its header needs 12 bytes for 2 dimensions; received 8 bytes",
        ),
        (
            b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02",
            r"is truncated: shape \(5,\) of uint8 needs 5 data bytes; received 2",
        ),
        (
            b"\x00\x00\x0c\x01\x00\x00\x00\x01\x00\x00\x00\x01\x09",
            r"longer than its header says: shape \(1,\) of int32 needs 4 data bytes; received 5",
        ),
        (b"\x1f\x8b\x08\x00garbage", "starts like gzip but does not decompress"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = _write(tmp_path / "bad-idx", data)
    with pytest.raises(InvalidArgumentError, match=re.escape(str(path)) + ".*" + message):
        gd.read_idx(path)


def test_read_idx_rejects_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(_idx_bytes(np.zeros((4, 4), np.uint8)))
    path = _write(tmp_path / "cut.gz", whole[:-6])
    with pytest.raises(InvalidArgumentError, match="starts like gzip but does not decompress"):
        gd.read_idx(path)


def test_read_idx_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"cannot read IDX file '.*nowhere'"):
        gd.read_idx(tmp_path / "nowhere")


def _mnist_folder(
    folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, compress: bool
) -> None:
    suffix = ".gz" if compress else ""
    _write(folder / f"{prefix}-images-idx3-ubyte{suffix}", _idx_bytes(images), compress)
    _write(folder / f"{prefix}-labels-idx1-ubyte{suffix}", _idx_bytes(labels), compress)


def test_load_idx_scales_and_adds_a_channel(tmp_path: Path) -> None:
    images = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], dtype=np.uint8)
    labels = np.array([3, 1], dtype=np.uint8)
    _mnist_folder(tmp_path, "t10k", images, labels, compress=False)
    ds = gd.load_idx(tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte")
    assert ds.name == "idx" and ds.images.shape == (2, 2, 2, 1)
    np.testing.assert_allclose(ds.images[0, :, :, 0], [[-1.0, 1.0], [-0.6, -0.2]], atol=1e-6)
    assert ds.labels is not None
    np.testing.assert_array_equal(ds.labels, [3, 1])
    assert ds.num_classes == 4 and ds.class_names is None  # max label + 1
    unlabelled = gd.load_idx(tmp_path / "t10k-images-idx3-ubyte", name="x")
    assert unlabelled.labels is None and unlabelled.name == "x"


def test_load_idx_rejects_mismatched_files(tmp_path: Path) -> None:
    _mnist_folder(tmp_path, "t10k", np.zeros((3, 2, 2), np.uint8), np.zeros(2, np.uint8), False)
    images, labels = tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte"
    with pytest.raises(
        InvalidArgumentError,
        match=r"labels-idx1-ubyte' must be uint8 of shape \(3,\), one per image; received uint8",
    ):
        gd.load_idx(images, labels)
    with pytest.raises(
        InvalidArgumentError,
        match=r"must be uint8 of shape \(N, H, W\); received uint8 of shape \(2,\)",
    ):
        gd.load_idx(labels)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_load_mnist_and_fashion_mnist_find_their_files(tmp_path: Path, compress: bool) -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _mnist_folder(tmp_path, "train", train, np.array([0, 1, 2, 3, 4], np.uint8), compress)
    _mnist_folder(tmp_path, "t10k", test, np.array([9, 8, 7], np.uint8), compress)
    ds = gd.load_mnist(tmp_path, split="train")
    assert (ds.name, len(ds), ds.shape, ds.num_classes) == ("mnist", 5, (28, 28, 1), 10)
    np.testing.assert_allclose(ds.images[..., 0], train / 127.5 - 1.0, atol=1e-6)
    fashion = gd.load_fashion_mnist(str(tmp_path))  # default split: test
    assert (fashion.name, len(fashion), fashion.num_classes) == ("fashion_mnist", 3, 10)
    assert fashion.class_names == gd.FASHION_MNIST_CLASS_NAMES
    assert fashion.class_names is not None and fashion.class_names[9] == "Ankle boot"
    assert fashion.labels is not None
    np.testing.assert_array_equal(fashion.labels, [9, 8, 7])


def test_load_mnist_errors(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidArgumentError, match="split must be one of 'train', 'test', 'auto'; received 'val'"
    ):
        gd.load_mnist(tmp_path, split="val")
    with pytest.raises(InvalidArgumentError, match="folder must be an existing directory"):
        gd.load_mnist(tmp_path / "absent")
    with pytest.raises(
        InvalidArgumentError,
        match=r"must contain t10k-images-idx3-ubyte or t10k-images-idx3-ubyte\.gz",
    ):
        gd.load_mnist(tmp_path)


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"real MNIST files not found at {MNIST_DIR}")
def test_real_mnist_test_set_and_its_stratified_halves() -> None:
    ds = gd.load_mnist(MNIST_DIR)
    assert ds.images.shape == (10_000, 28, 28, 1) and ds.images.dtype == np.float32
    assert (ds.images.min(), ds.images.max()) == (-1.0, 1.0)
    assert ds.labels is not None
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    np.testing.assert_array_equal(np.bincount(ds.labels), counts)
    np.testing.assert_array_equal(ds.labels[:5], [7, 2, 1, 0, 4])
    train, held_out = ds.split(0.5, seed=0)
    assert len(train) == len(held_out) == 5000
    assert train.labels is not None and held_out.labels is not None
    assert np.all(np.abs(np.bincount(train.labels) - np.array(counts) / 2) <= 0.5)
    np.testing.assert_array_equal(np.bincount(train.labels) + np.bincount(held_out.labels), counts)


# --- CIFAR-10 ---


def _cifar_batch(path: Path, data: np.ndarray, labels: list[int], protocol: int = 4) -> None:
    with path.open("wb") as f:
        pickle.dump(
            {b"batch_label": b"fake", b"data": data, b"labels": labels}, f, protocol=protocol
        )


def _cifar_folder(folder: Path, with_meta: bool = True) -> np.ndarray:
    """Five 2-image train batches and a 1-image test batch; returns all the train rows."""
    folder.mkdir(exist_ok=True)
    rows = np.random.default_rng(0).integers(0, 256, (11, 3072), dtype=np.uint8)
    for i in range(5):
        _cifar_batch(folder / f"data_batch_{i + 1}", rows[2 * i : 2 * i + 2], [i, 9 - i])
    _cifar_batch(folder / "test_batch", rows[10:], [5])
    if with_meta:
        names = [f"class{i}".encode() for i in range(10)]
        with (folder / "batches.meta").open("wb") as f:
            pickle.dump({b"label_names": names, b"num_vis": 3072}, f, protocol=4)
    return rows[:10]


def test_load_cifar10_train_layout_and_labels(tmp_path: Path) -> None:
    rows = _cifar_folder(tmp_path)
    ds = gd.load_cifar10(tmp_path)
    assert (ds.name, ds.images.shape, ds.num_classes) == ("cifar10", (10, 32, 32, 3), 10)
    assert ds.labels is not None
    np.testing.assert_array_equal(ds.labels, [0, 9, 1, 8, 2, 7, 3, 6, 4, 5])
    # Row layout: channel-major, then row, then column: pixel (h, w, c) = row[c*1024 + h*32 + w].
    for i, h, w, c in [(0, 0, 0, 0), (3, 5, 7, 1), (9, 31, 31, 2), (6, 31, 0, 2)]:
        expected = rows[i, c * 1024 + h * 32 + w] / 127.5 - 1.0
        assert ds.images[i, h, w, c] == pytest.approx(expected, abs=1e-6)
    assert ds.class_names == tuple(f"class{i}" for i in range(10))


def test_load_cifar10_test_split_default_names_and_archive_folder(tmp_path: Path) -> None:
    _cifar_folder(tmp_path / "cifar-10-batches-py", with_meta=False)
    ds = gd.load_cifar10(tmp_path, split="test")
    assert len(ds) == 1 and ds.labels is not None and ds.labels[0] == 5
    assert ds.class_names == gd.CIFAR10_CLASS_NAMES and ds.class_names[0] == "airplane"


def test_load_cifar10_accepts_python2_era_numpy_core_pickles(tmp_path: Path) -> None:
    # The official files name numpy.core.multiarray (numpy 1); protocol 3 writes module
    # names as plain text, so the numpy 2 name can be swapped for the old one.
    blob = pickle.dumps({b"data": np.full((1, 3072), 255, np.uint8), b"labels": [2]}, protocol=3)
    blob = blob.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in blob
    (tmp_path / "test_batch").write_bytes(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # importing the numpy.core shim would warn
        ds = gd.load_cifar10(tmp_path, split="test")
    assert ds.images.shape == (1, 32, 32, 3) and np.all(ds.images == 1.0)


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self) -> tuple:
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload", ["os.system", "eval"])
def test_load_cifar10_refuses_code_in_pickles(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    evil = _RunsACommand(marker) if payload == "os.system" else _CallsEval()
    with (tmp_path / "test_batch").open("wb") as f:
        pickle.dump({b"data": evil, b"labels": [0]}, f)
    pattern = (
        r"refusing to unpickle (posix|nt)\.system"
        if payload == "os.system"
        else r"refusing to unpickle builtins\.eval"
    )
    with pytest.raises(GancoreError, match=pattern):
        gd.load_cifar10(tmp_path, split="test")
    assert not marker.exists()


def test_load_cifar10_refuses_code_in_the_meta_file(tmp_path: Path) -> None:
    _cifar_folder(tmp_path, with_meta=False)
    with (tmp_path / "batches.meta").open("wb") as f:
        pickle.dump({b"label_names": _CallsEval()}, f)
    with pytest.raises(GancoreError, match=r"batches.meta'.*refusing to unpickle builtins\.eval"):
        gd.load_cifar10(tmp_path)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (
            {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
            r"b'data' is uint8 of shape \(N, 3072\); received dict with b'data' = uint8",
        ),
        (
            {b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]},
            "received dict with b'data' = float32",
        ),
        ([1, 2], "received list with b'data' = NoneType"),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
            r"must hold b'labels', 2 integers; received int64 of shape \(1,\)",
        ),
        (
            {b"data": np.zeros((2, 3072), np.uint8)},
            r"must hold b'labels', 2 integers; received float64 of shape \(0,\)",
        ),
        (
            {b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]},
            r"labels must lie in \[0, 10\)",
        ),
    ],
)
def test_load_cifar10_rejects_malformed_batches(
    tmp_path: Path, batch: object, message: str
) -> None:
    with (tmp_path / "test_batch").open("wb") as f:
        pickle.dump(batch, f, protocol=4)
    with pytest.raises(InvalidArgumentError, match=message):
        gd.load_cifar10(tmp_path, split="test")


def test_load_cifar10_file_errors(tmp_path: Path) -> None:
    _cifar_folder(tmp_path)
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(
        InvalidArgumentError,
        match=r"must contain the CIFAR-10 train batches data_batch_1, .*; missing: data_batch_4",
    ):
        gd.load_cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(
        InvalidArgumentError, match="test_batch' is not a readable pickle: UnpicklingError"
    ):
        gd.load_cifar10(tmp_path, split="test")
    with pytest.raises(
        InvalidArgumentError, match="split must be one of 'train', 'test'; received 'all'"
    ):
        gd.load_cifar10(tmp_path, split="all")


# --- image folders ---


def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_load_image_folder_classes_from_sorted_subfolders(tmp_path: Path) -> None:
    red = np.zeros((10, 7, 3), np.uint8)
    red[..., 0] = 255
    _png(tmp_path / "zebra" / "b.png", red)
    _png(tmp_path / "zebra" / "a.PNG", np.full((5, 5), 51, np.uint8))  # greyscale, any case
    _png(tmp_path / "ant" / "x.jpg", np.zeros((20, 30, 3), np.uint8))
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    (tmp_path / ".cache").mkdir()  # hidden: not a class
    ds = gd.load_image_folder(tmp_path, size=(4, 6))
    assert ds.name == tmp_path.name
    assert ds.images.shape == (3, 4, 6, 3) and ds.class_names == ("ant", "zebra")
    assert ds.labels is not None
    np.testing.assert_array_equal(ds.labels, [0, 1, 1])
    # Resizing keeps flat colours exactly: black, grey 51 (-0.6) and pure red.
    np.testing.assert_allclose(ds.images[0], -1.0, atol=1e-6)
    np.testing.assert_allclose(ds.images[1], -0.6, atol=1e-6)
    np.testing.assert_allclose(
        ds.images[2], np.broadcast_to([1.0, -1.0, -1.0], (4, 6, 3)), atol=1e-6
    )
    grey = gd.load_image_folder(tmp_path, size=(4, 6), channels=1, name="g")
    assert grey.images.shape == (3, 4, 6, 1) and grey.name == "g"
    # Pillow's L conversion of pure red is 255 * 299/1000 = 76.245 -> 76.
    np.testing.assert_allclose(grey.images[2], 76 / 127.5 - 1.0, atol=1e-6)


def test_load_image_folder_keeps_pixels_at_their_own_size(tmp_path: Path) -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    _png(tmp_path / "only" / "p.png", pixels)
    ds = gd.load_image_folder(tmp_path, size=(2, 3))
    np.testing.assert_allclose(ds.images[0], pixels / 127.5 - 1.0, atol=1e-6)


def test_load_image_folder_resizes_like_resize_images(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    _png(tmp_path / "c" / "p.png", pixels)
    ds = gd.load_image_folder(tmp_path, size=(5, 4))
    expected = gd.resize_images((pixels / 127.5 - 1.0)[np.newaxis], (5, 4))
    np.testing.assert_allclose(ds.images, expected, atol=1e-6)


def test_load_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="root must be an existing directory"):
        gd.load_image_folder(tmp_path / "absent")
    with pytest.raises(InvalidArgumentError, match="root must contain one sub-folder per class"):
        gd.load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        InvalidArgumentError, match=r"class folder '.*empty' must hold at least one image"
    ):
        gd.load_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InvalidArgumentError, match=r"cannot read image '.*broken\.png'"):
        gd.load_image_folder(tmp_path)
    with pytest.raises(InvalidArgumentError, match="channels must be 1 or 3; received 4"):
        gd.load_image_folder(tmp_path, channels=4)
    with pytest.raises(
        InvalidArgumentError,
        match=r"size must be a \(height, width\) pair of ints > 0; received \(0, 4\)",
    ):
        gd.load_image_folder(tmp_path, size=(0, 4))


# --- resize_images ---


def test_resize_images_golden_values() -> None:
    up = gd.resize_images(np.array([0.0, 1.0]).reshape(1, 1, 2, 1), (1, 4))
    np.testing.assert_allclose(up.ravel(), [0.0, 0.25, 0.75, 1.0], atol=1e-7)
    # Shrinking widens the triangle to 2 pixels: weights 0.75, 0.75, 0.25 (sum 1.75).
    down = gd.resize_images(np.arange(4.0).reshape(1, 1, 4, 1), (1, 2))
    np.testing.assert_allclose(down.ravel(), [1.25 / 1.75, 4.0 / 1.75], rtol=1e-6)
    assert up.dtype == np.float32


@pytest.mark.parametrize(
    "shapes", [((7, 5), (16, 11)), ((40, 33), (9, 8)), ((28, 28), (32, 32)), ((10, 10), (3, 17))]
)
def test_resize_images_matches_pillow_bilinear(shapes: tuple) -> None:
    from PIL import Image

    (h, w), (out_h, out_w) = shapes
    image = np.random.default_rng(h).uniform(-1, 1, (h, w)).astype(np.float32)
    expected = np.asarray(Image.fromarray(image).resize((out_w, out_h), Image.BILINEAR))
    got = gd.resize_images(image[np.newaxis, :, :, np.newaxis], (out_h, out_w))
    np.testing.assert_allclose(got[0, :, :, 0], expected, atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    images=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3)),
        elements=st.floats(-1, 1, width=32),
    ),
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
)
def test_resize_images_stays_in_range_and_keeps_constants(images: np.ndarray, size: tuple) -> None:
    out = gd.resize_images(images, size)
    assert out.shape == (images.shape[0], *size, images.shape[3]) and out.dtype == np.float32
    assert out.min() >= images.min() and out.max() <= images.max()
    flat = gd.resize_images(np.full_like(images, 0.3), size)
    np.testing.assert_allclose(flat, 0.3, rtol=1e-6)


def test_resize_images_same_size_is_a_copy() -> None:
    images = np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 2, 3, 2)
    out = gd.resize_images(images, (2, 3))
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0, 0] = 5.0
    assert images[0, 0, 0, 0] == -1.0


def test_resize_images_errors() -> None:
    with pytest.raises(
        InvalidArgumentError,
        match=r"images must be a numeric \(N, H, W, C\) array; received float64 of shape \(2, 2\)",
    ):
        gd.resize_images(np.zeros((2, 2)), (4, 4))
    with pytest.raises(
        InvalidArgumentError, match=r"size must be a \(height, width\) pair; received 5"
    ):
        gd.resize_images(np.zeros((1, 2, 2, 1)), 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"pair of ints > 0; received \(2.0, 2\)"):
        gd.resize_images(np.zeros((1, 2, 2, 1)), (2.0, 2))  # type: ignore[arg-type]
