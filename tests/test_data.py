"""Tests of gancore.data: Dataset, batching, digits, the 2D mixtures, and import hygiene."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gancore.data as gd
from gancore._errors import InvalidArgumentError
from gancore.data import Batch, Dataset, GaussianMixture2D, iterate_batches


def _images(n: int, h: int = 2, w: int = 3, c: int = 1) -> np.ndarray:
    """n images whose every pixel holds its own sample index, scaled into [-1, 1]."""
    values = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (n, h, w, c)).copy()


def _labelled(n: int = 10, num_classes: int = 3) -> Dataset:
    return Dataset("tiny", _images(n), labels=np.arange(n) % num_classes)


# --- import hygiene and the public surface ---


def test_import_does_not_load_optional_packages() -> None:
    code = (
        "import sys, gancore.data; "
        "print(sorted(m for m in ('sklearn', 'PIL', 'torch', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_public_name_exists_and_has_a_docstring() -> None:
    for name in gd.__all__:
        obj = getattr(gd, name)
        if callable(obj) and not isinstance(obj, dict):
            assert obj.__doc__, name


def test_builtin_datasets_names_and_loaders() -> None:
    assert set(gd.BUILTIN_DATASETS) == {
        "digits",
        "mnist",
        "fashion_mnist",
        "cifar10",
        "image_folder",
        "image_files",
        "npy",
        "ring",
        "grid",
    }
    assert gd.BUILTIN_DATASETS["digits"] is gd.load_digits
    assert gd.BUILTIN_DATASETS["mnist"] is gd.load_mnist
    ring = gd.BUILTIN_DATASETS["ring"](n=16, seed=1)
    grid = gd.BUILTIN_DATASETS["grid"](n=16, seed=1)
    assert (ring.name, ring.num_classes, grid.name, grid.num_classes) == ("ring", 8, "grid", 25)


# --- Dataset ---


def test_dataset_basics() -> None:
    labels = np.array([0, 2, 1, 2], dtype=np.uint8)
    ds = Dataset("tiny", _images(4, 5, 6, 3), labels=labels)
    assert len(ds) == 4
    assert ds.shape == (5, 6, 3)
    assert ds.labels is not None and ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.labels, [0, 2, 1, 2])
    assert ds.num_classes == 3  # max label + 1 when not given
    assert ds.class_names is None


def test_dataset_arrays_are_read_only_views_of_the_callers_arrays() -> None:
    images = _images(3)
    ds = Dataset("tiny", images)
    with pytest.raises(ValueError, match="read-only"):
        ds.images[0] = 0.0
    images[0] = 0.5  # the caller's array stays writeable
    assert ds.images[0, 0, 0, 0] == 0.5


def test_dataset_equality_compares_values_and_hash_works() -> None:
    a = Dataset("tiny", _images(3), labels=[0, 1, 1])
    b = Dataset("tiny", _images(3), labels=np.array([0, 1, 1]))
    c = Dataset("tiny", _images(3), labels=[0, 1, 0], num_classes=2)
    assert a == b
    assert a != c
    assert hash(a) == hash(b)
    assert "shape=(3, 2, 3, 1)" in repr(a)


def test_points_may_leave_unit_range() -> None:
    ds = Dataset("points", np.array([[4.0, -4.0], [0.0, 2.5]], dtype=np.float32))
    assert ds.shape == (2,)
    assert ds.labels is None and ds.num_classes is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name must be a non-empty str; received ''"),
        ({"images": _images(2).astype(np.float64)}, "images must be float32; received float64"),
        (
            {"images": _images(2) * 1.5},
            r"images must lie in \[-1, 1\]; received values in \[-1.5, 1.5\]",
        ),
        ({"images": np.full((2, 2, 2, 1), np.nan, np.float32)}, "images must be finite"),
        ({"images": np.zeros((2, 3, 3), np.float32)}, r"images must have shape \(N, H, W, C\)"),
        (
            {"images": np.zeros((0, 2, 2, 1), np.float32)},
            r"with N > 0; received shape \(0, 2, 2, 1\)",
        ),
        (
            {"labels": [0, 1, 2]},
            r"labels must be integers of shape \(2,\), one per image; received int64 of shape \(3",
        ),
        ({"labels": [0.0, 1.0]}, "labels must be integers.*received float64"),
        (
            {"labels": [0, 3], "num_classes": 3},
            r"labels must lie in \[0, 3\) for num_classes=3; received values in \[0, 3\]",
        ),
        ({"labels": [-1, 0]}, r"labels must lie in \[0, 1\)"),
        ({"num_classes": 2}, "num_classes must be None without labels; received 2"),
        ({"labels": [0, 1], "num_classes": 0}, "num_classes must be > 0; received 0"),
        (
            {"labels": [0, 1], "num_classes": True},
            "num_classes must be an int or None; received True",
        ),
        (
            {"labels": [0, 1], "class_names": ("a",)},
            r"class_names must be num_classes \(2\) strings",
        ),
        ({"labels": [0, 1], "class_names": ("a", 2)}, "class_names must be num_classes"),
    ],
)
def test_dataset_rejects_invalid_fields(kwargs: dict, message: str) -> None:
    fields = {"name": "tiny", "images": _images(2), **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        Dataset(**fields)


def test_subset_by_indices_and_mask() -> None:
    ds = _labelled(6)
    picked = ds.subset([4, 0, -1])
    np.testing.assert_array_equal(picked.images[:, 0, 0, 0], ds.images[[4, 0, 5], 0, 0, 0])
    assert picked.labels is not None
    np.testing.assert_array_equal(picked.labels, [1, 0, 2])
    assert picked.num_classes == 3 and picked.name == "tiny"
    masked = ds.subset(np.array([True, False] * 3))
    assert masked.labels is not None
    np.testing.assert_array_equal(masked.labels, [0, 2, 1])


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        (
            [0, 6],
            r"indices must lie in \[-6, 6\) for a dataset of 6 samples; received values in \[0, 6",
        ),
        ([-7], r"indices must lie in \[-6, 6\)"),
        (np.array([True, False]), r"boolean mask must have shape \(6,\); received shape \(2,\)"),
        ([0.5], "indices must be a 1-D sequence of ints or a boolean mask; received float64"),
        ([[0, 1]], r"received int64 of shape \(1, 2\)"),
    ],
)
def test_subset_rejects_bad_indices(indices: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        _labelled(6).subset(indices)  # type: ignore[arg-type]


def test_split_unlabelled_is_disjoint_ordered_and_seeded() -> None:
    ds = Dataset("tiny", _images(11))
    first, second = ds.split(0.3, seed=7)
    assert (len(first), len(second)) == (3, 8)  # round(0.3 * 11) = 3
    ids = np.concatenate([_pos(ds, first), _pos(ds, second)])
    np.testing.assert_array_equal(np.sort(ids), np.arange(11))
    assert np.all(np.diff(_pos(ds, first)) > 0) and np.all(np.diff(_pos(ds, second)) > 0)
    again = ds.split(0.3, seed=7)
    assert again == (first, second)
    seeds_differ = [ds.split(0.3, seed=s)[0] for s in range(5)]
    assert any(a != seeds_differ[0] for a in seeds_differ[1:])
    rng_split = ds.split(0.3, seed=np.random.default_rng(7))
    assert rng_split == (first, second)


def _pos(whole: Dataset, part: Dataset) -> np.ndarray:
    """Positions in `whole` of the samples of `part` (the pixel values are all distinct)."""
    return np.searchsorted(whole.images[:, 0, 0, 0], part.images[:, 0, 0, 0])


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=2, max_size=60),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_is_stratified_and_exact(labels: list[int], fraction: float, seed: int) -> None:
    n = len(labels)
    first_size = round(fraction * n)
    ds = Dataset("tiny", _images(n), labels=labels, num_classes=5)
    if not 0 < first_size < n:
        with pytest.raises(InvalidArgumentError, match="leave both parts non-empty"):
            ds.split(fraction, seed)
        return
    first, second = ds.split(fraction, seed)
    assert len(first) == first_size and len(second) == n - first_size
    np.testing.assert_array_equal(
        np.sort(np.concatenate([_pos(ds, first), _pos(ds, second)])), np.arange(n)
    )
    assert first.labels is not None and second.labels is not None
    counts = np.bincount(labels, minlength=5)
    taken = np.bincount(first.labels, minlength=5)
    # Per class the first part takes its quota rounded down or up, never further off.
    assert np.all(np.abs(taken - fraction * counts) < 1.0)
    np.testing.assert_array_equal(taken + np.bincount(second.labels, minlength=5), counts)


@pytest.mark.parametrize(
    ("fraction", "message"),
    [
        (0.0, r"fraction must be in \(0, 1\); received 0.0"),
        (1.0, r"fraction must be in \(0, 1\); received 1.0"),
        (float("nan"), r"fraction must be in \(0, 1\); received nan"),
        (0.01, "fraction must leave both parts non-empty for 10 samples; received 0.01"),
        (True, "fraction must be a float; received True"),
        ("half", "fraction must be a float; received 'half'"),
    ],
)
def test_split_rejects_bad_fractions(fraction: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        _labelled(10).split(fraction, seed=0)  # type: ignore[arg-type]


def test_split_rejects_bad_seeds() -> None:
    with pytest.raises(InvalidArgumentError, match="seed must be >= 0; received -1"):
        _labelled(10).split(0.5, seed=-1)
    with pytest.raises(
        InvalidArgumentError, match=r"seed must be an int, a numpy\.random\.Generator"
    ):
        _labelled(10).split(0.5, seed=1.5)  # type: ignore[arg-type]


# --- batching ---


def test_batches_cover_each_epoch_once_and_keep_labels_aligned() -> None:
    ds = _labelled(10)
    batches = list(iterate_batches(ds, 3, seed=0, epochs=2, drop_last=False))
    assert [len(b) for b in batches] == [3, 3, 3, 1, 3, 3, 3, 1]
    assert all(isinstance(b, Batch) and b.images.shape[1:] == (2, 3, 1) for b in batches)
    epochs = [np.concatenate([_pos(ds, _as_ds(b)) for b in batches[i : i + 4]]) for i in (0, 4)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(10))
    assert not np.array_equal(epochs[0], epochs[1])  # a fresh shuffle each epoch
    for b in batches:
        assert b.labels is not None
        np.testing.assert_array_equal(b.labels, _pos(ds, _as_ds(b)) % 3)


def _as_ds(batch: Batch) -> Dataset:
    return Dataset("batch", batch.images)


def test_batches_drop_the_partial_batch_by_default() -> None:
    batches = list(iterate_batches(_labelled(10), 4, seed=0, epochs=3))
    assert [len(b) for b in batches] == [4, 4] * 3


def test_batches_are_reproducible_per_seed() -> None:
    ds = _labelled(20)
    first = list(iterate_batches(ds, 5, seed=3, epochs=2, hflip=True))
    again = list(iterate_batches(ds, 5, seed=np.random.default_rng(3), epochs=2, hflip=True))
    other = list(iterate_batches(ds, 5, seed=4, epochs=2, hflip=True))
    assert first == again
    assert first != other


def test_batches_are_infinite_without_epochs() -> None:
    batches = list(itertools.islice(iterate_batches(_labelled(10), 4, seed=0), 100))
    assert len(batches) == 100 and all(len(b) == 4 for b in batches)


def test_batches_of_unlabelled_points() -> None:
    ds = gd.load_mixture("ring", n=8, seed=0)
    ds = Dataset("points", ds.images)
    (batch,) = iterate_batches(ds, 8, seed=0, epochs=1)
    assert batch.labels is None
    np.testing.assert_array_equal(np.sort(batch.images, axis=0), np.sort(ds.images, axis=0))


def test_hflip_mirrors_about_half_of_the_samples_and_leaves_the_dataset_alone() -> None:
    # Every image is the row [-1, 0, 1] (times a per-sample scale), so a flip is visible.
    row = np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    scale = np.linspace(0.1, 1.0, 200, dtype=np.float32)
    images = (scale[:, None, None, None] * row[None, None, :, None]).repeat(2, axis=1)
    ds = Dataset("rows", images)
    flipped = 0
    for batch in iterate_batches(ds, 50, seed=0, epochs=1, hflip=True):
        left = batch.images[:, :, 0, 0]
        assert np.all(np.abs(batch.images[:, :, 1, 0]) == 0.0)
        np.testing.assert_array_equal(batch.images[:, :, 2, 0], -left)
        flipped += int(np.sum(left[:, 0] > 0))
    assert 70 <= flipped <= 130  # Binomial(200, 1/2): 4.2 standard deviations each way
    np.testing.assert_array_equal(ds.images, images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an int > 0; received 0"),
        ({"batch_size": -1}, "batch_size must be an int > 0; received -1"),
        ({"batch_size": 2.0}, "batch_size must be an int > 0; received 2.0"),
        ({"batch_size": True}, "batch_size must be an int > 0; received True"),
        (
            {"batch_size": 11},
            r"batch_size must be <= the dataset size \(10 samples in 'tiny'\); received 11",
        ),
        ({"epochs": 0}, "epochs must be an int > 0 or None; received 0"),
        ({"seed": "x"}, "seed must be an int, a numpy.random.Generator or None; received 'x'"),
    ],
)
def test_iterate_batches_checks_arguments_at_the_call(kwargs: dict, message: str) -> None:
    arguments = {"batch_size": 2, **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        iterate_batches(_labelled(10), **arguments)


def test_hflip_needs_images() -> None:
    with pytest.raises(
        InvalidArgumentError,
        match=r"hflip needs NHWC images; received 'ring' samples of shape \(2,\)",
    ):
        iterate_batches(gd.load_mixture("ring", n=4), 2, hflip=True)


def test_iterate_batches_needs_a_dataset() -> None:
    with pytest.raises(InvalidArgumentError, match="dataset must be a Dataset; received ndarray"):
        iterate_batches(_images(4), 2)  # type: ignore[arg-type]


# --- scikit-learn digits ---


def test_load_digits() -> None:
    ds = gd.load_digits()
    assert ds.name == "digits"
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.float32
    assert (ds.images.min(), ds.images.max()) == (-1.0, 1.0)
    assert ds.num_classes == 10 and ds.class_names == tuple("0123456789")
    assert ds.labels is not None
    np.testing.assert_array_equal(
        np.bincount(ds.labels), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    )
    # The first digit's top row in scikit-learn is 0 0 5 13 9 1 0 0 (values 0..16).
    np.testing.assert_array_equal(
        ds.images[0, 0, :, 0], np.array([0, 0, 5, 13, 9, 1, 0, 0]) / 8 - 1
    )
    assert ds.labels[0] == 0


# --- 2D Gaussian mixtures ---


def test_ring_and_grid_means() -> None:
    ring = GaussianMixture2D.ring()
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(ring.means, np.c_[np.cos(angles), np.sin(angles)], atol=1e-15)
    np.testing.assert_allclose(ring.means[2], [0.0, 1.0], atol=1e-15)
    assert (ring.name, ring.std, ring.num_components) == ("ring", 0.01, 8)
    grid = GaussianMixture2D.grid()
    expected = [(i, j) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)]
    np.testing.assert_array_equal(grid.means, expected)
    assert (grid.name, grid.std, grid.num_components) == ("grid", 0.05, 25)


@pytest.mark.parametrize("make", [GaussianMixture2D.ring, GaussianMixture2D.grid])
def test_mixture_samples(make) -> None:  # type: ignore[no-untyped-def]
    mixture = make()
    points, components = mixture.sample_with_components(40_000, seed=0)
    assert points.shape == (40_000, 2) and points.dtype == np.float32
    assert components.dtype == np.int64
    np.testing.assert_array_equal(points, mixture.sample(40_000, seed=0))
    assert not np.array_equal(points, mixture.sample(40_000, seed=1))
    offsets = (points - mixture.means[components]) / mixture.std
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(offsets.std(axis=0), 1.0, atol=0.05)
    k = mixture.num_components
    counts = np.bincount(components, minlength=k)
    # Equal weights: each count is Binomial(n, 1/K); allow 5 standard deviations.
    sd = np.sqrt(40_000 * (1 / k) * (1 - 1 / k))
    assert np.all(np.abs(counts - 40_000 / k) < 5 * sd)


def test_load_mixture() -> None:
    ds = gd.load_mixture("grid", n=500, seed=2)
    assert ds.name == "grid" and ds.images.shape == (500, 2) and ds.num_classes == 25
    points, components = GaussianMixture2D.grid().sample_with_components(500, seed=2)
    np.testing.assert_array_equal(ds.images, points)
    assert ds.labels is not None
    np.testing.assert_array_equal(ds.labels, components)
    assert gd.load_mixture(n=10) == gd.load_mixture("ring", 10, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: gd.load_mixture("spiral"),
            "name must be one of 'ring', 'grid'; received 'spiral'",
        ),
        (lambda: gd.load_mixture("ring", n=0), "n must be an int > 0; received 0"),
        (
            lambda: GaussianMixture2D("m", np.zeros((3, 3)), 0.1),
            r"means must have shape \(K, 2\) with K > 0; received shape \(3, 3\)",
        ),
        (lambda: GaussianMixture2D("m", [[0.0, np.inf]], 0.1), "means must be finite"),
        (
            lambda: GaussianMixture2D("m", [[0.0, 0.0]], 0.0),
            "std must be a finite float > 0; received 0.0",
        ),
        (lambda: GaussianMixture2D.ring(std=-1), "std must be a finite float > 0; received -1.0"),
    ],
)
def test_mixture_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError, match=message):
        call()


def test_mixture_is_frozen_value() -> None:
    a = GaussianMixture2D("m", [[0.0, 1.0]], 0.5)
    assert a == GaussianMixture2D("m", np.array([[0.0, 1.0]]), 0.5)
    with pytest.raises(ValueError, match="read-only"):
        a.means[0, 0] = 3.0
