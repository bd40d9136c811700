"""Hostile and broken data files: every loader must end in one `InvalidArgumentError` that
names the file, in bounded memory, or return the data the file really holds.

Corpora: truncations at every offset, random bit flips (hypothesis), headers that lie about
their sizes, gzip and pickle bombs, images of too many pixels or of 16-bit and float
pixels. Well-formed files and the plain error cases are in test_data_loaders.py.
"""

from __future__ import annotations

import gzip
import io
import pickle
import pickletools
import re
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import run_measured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gancore.data as gd
from gancore._errors import InvalidArgumentError
from gancore.data import _cifar, _idx

FUZZ = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _names(path: Path) -> str:
    """A pattern matching a message that names `path`."""
    return re.escape(repr(str(path)))


def _refuses(call: Any, path: Path, message: str = "") -> str:
    """`call()` must raise InvalidArgumentError naming `path` (then matching `message`)."""
    with pytest.raises(InvalidArgumentError, match=_names(path) + ".*" + message) as info:
        call()
    return str(info.value)


def _flip(data: bytes, bits: list[int]) -> bytes:
    flipped = bytearray(data)
    for bit in bits:
        flipped[bit // 8 % len(data)] ^= 1 << bit % 8
    return bytes(flipped)


# --- IDX ---


def _idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


_SMALL = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
_SMALL_IDX = _idx_header(0x08, _SMALL.shape) + _SMALL.tobytes()


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_refuses_every_truncation(tmp_path: Path, compress: bool) -> None:
    whole = gzip.compress(_SMALL_IDX) if compress else _SMALL_IDX
    path = tmp_path / "cut-idx"
    for end in range(len(whole)):
        path.write_bytes(whole[:end])
        message = _refuses(lambda: gd.read_idx(path), path)
        assert "truncated" in message or "does not decompress" in message, (end, message)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@FUZZ
@given(bits=st.lists(st.integers(0, 8 * 400), min_size=1, max_size=4))
def test_read_idx_bit_flips_give_the_file_or_one_clear_error(
    tmp_path: Path, compress: bool, bits: list[int]
) -> None:
    original = gzip.compress(_SMALL_IDX) if compress else _SMALL_IDX
    data = _flip(original, bits)
    path = tmp_path / "flipped-idx"
    path.write_bytes(data)
    try:
        array = gd.read_idx(path)
    except InvalidArgumentError as e:
        assert repr(str(path)) in str(e)
        return
    if compress:  # gzip's CRC: what loads is what was written
        np.testing.assert_array_equal(array, _SMALL)
        return
    # Raw: the result is what the flipped header declares, read independently here.
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    expected = np.frombuffer(data, dtype=dtype[data[2]], offset=4 + 4 * ndim).reshape(shape)
    assert array.shape == shape and array.dtype.isnative
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        # 12 GB declared in a file of a few bytes: refused from the file's size.
        ((2**32 - 1, 3), r"is truncated: shape \(4294967295, 3\) of uint8 needs 12884901885"),
        # 255 sizes of 2**32 - 1: 8,160 bits, past any int64; no overflow, a clear error.
        ((2**32 - 1,) * 255, r"is truncated: .* needs more than 2\*\*8159 data bytes"),
        ((0, 2**32 - 1, 2**32 - 1, 2**32 - 1), r"product of its non-zero sizes times 1 bytes"),
    ],
    ids=["12GB", "int64-overflow", "zero-times-huge"],
)
def test_read_idx_refuses_headers_that_lie_about_their_size(
    tmp_path: Path, shape: tuple[int, ...], message: str
) -> None:
    path = tmp_path / "liar-idx"
    path.write_bytes(_idx_header(0x08, shape) + b"\x01\x02")
    if 0 in shape:  # declares 0 bytes: 2 bytes are too many, and the shape is refused first
        path.write_bytes(_idx_header(0x08, shape))
    _refuses(lambda: gd.read_idx(path), path, message)
    # The same headers gzipped, where no file size tells the truth: the size limit does.
    gz = tmp_path / "liar-idx.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    if 0 in shape:
        _refuses(lambda: gd.read_idx(gz), gz, message)
    else:
        _refuses(lambda: gd.read_idx(gz), gz, "is larger than max_bytes allows")


def test_read_idx_accepts_zero_sized_shapes_it_can_represent(tmp_path: Path) -> None:
    path = tmp_path / "empty-idx"
    path.write_bytes(_idx_header(0x0C, (0, 2**32 - 1)))
    array = gd.read_idx(path)
    assert array.shape == (0, 2**32 - 1) and array.dtype == np.int32


class _CountingGzipFile(gzip.GzipFile):
    """A GzipFile that counts the inflated bytes it hands out (readinto calls read)."""

    handed_out = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        _CountingGzipFile.handed_out += len(data)
        return data


def _zeros_gzip(header: bytes, zeros: int) -> bytes:
    """`header` then `zeros` zero bytes, gzip-compressed in pieces (never all in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [compressor.compress(header)]
    block = bytes(min(zeros, 16 << 20))
    for start in range(0, zeros, len(block)):
        out.append(compressor.compress(block[: zeros - start]))
    out.append(compressor.flush())
    return b"".join(out)


def test_read_idx_gzip_inflates_no_more_than_the_header_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_idx.gzip, "GzipFile", _CountingGzipFile)
    header = _idx_header(0x08, (1024, 1024))  # 1 MiB declared ...
    path = tmp_path / "longer-idx.gz"
    path.write_bytes(_zeros_gzip(header, 8 << 20))  # ... 8 MiB of payload
    _CountingGzipFile.handed_out = 0
    _refuses(lambda: gd.read_idx(path), path, r"longer than its header says: .*more than 1048576")
    # The header, the declared payload and the one byte that proves it too long.
    assert _CountingGzipFile.handed_out == len(header) + (1 << 20) + 1


def test_read_idx_max_bytes_bounds_the_declared_payload(tmp_path: Path) -> None:
    path = tmp_path / "bomb-idx.gz"
    path.write_bytes(_zeros_gzip(_idx_header(0x0B, (4, 1024, 512)), 4 << 20))  # int16: 4 MiB
    message = _refuses(
        lambda: gd.read_idx(path, max_bytes=(4 << 20) - 1),
        path,
        r"is larger than max_bytes allows: its shape \(4, 1024, 512\) of int16 needs 4194304",
    )
    assert "max_bytes allows at most 4194303" in message
    array = gd.read_idx(path, max_bytes=4 << 20)  # the limit is inclusive
    assert array.shape == (4, 1024, 512) and not array.any()
    # load_mnist and load_idx pass the limit on to each file.
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_header(0x08, (2, 28, 28)) + bytes(1568))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_header(0x08, (2,)) + bytes(2))
    assert len(gd.load_mnist(tmp_path)) == 2
    images = tmp_path / "t10k-images-idx3-ubyte"
    _refuses(
        lambda: gd.load_mnist(tmp_path, max_bytes=1000), images, "max_bytes allows at most 1000"
    )
    _refuses(
        lambda: gd.load_fashion_mnist(tmp_path, max_bytes=1000),
        images,
        "max_bytes allows at most 1000",
    )


@pytest.mark.parametrize("max_bytes", [0, -5, True, 2.5, "1"])
def test_read_idx_max_bytes_must_be_a_positive_int(tmp_path: Path, max_bytes: Any) -> None:
    path = tmp_path / "x-idx"
    path.write_bytes(_SMALL_IDX)
    with pytest.raises(
        InvalidArgumentError,
        match=f"max_bytes must be an int > 0; received {re.escape(repr(max_bytes))}",
    ):
        gd.read_idx(path, max_bytes=max_bytes)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("code", "dtype"), [(0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_refuses_non_finite_floats(
    tmp_path: Path, compress: bool, bad: float, code: int, dtype: str
) -> None:
    values = np.array([[0.5, 1.0, -2.0], [3.0, bad, 0.0]], dtype=dtype)
    data = _idx_header(code, values.shape) + values.tobytes()
    path = tmp_path / "floats-idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    _refuses(
        lambda: gd.read_idx(path),
        path,
        "must hold finite values; received 1 nan or inf values among 6",
    )
    values[1, 1] = 7.0  # finite: read back exactly, in native byte order
    path.write_bytes(_idx_header(code, values.shape) + values.tobytes())
    np.testing.assert_array_equal(gd.read_idx(path), values)


def test_load_mnist_refuses_labels_outside_the_classes_and_empty_images(tmp_path: Path) -> None:
    images, labels = tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte"
    images.write_bytes(_idx_header(0x08, (2, 2, 2)) + bytes(8))
    labels.write_bytes(_idx_header(0x08, (2,)) + bytes([3, 10]))
    _refuses(
        lambda: gd.load_mnist(tmp_path),
        labels,
        r"must lie in \[0, 10\) for 10 classes; received values up to 10",
    )
    images.write_bytes(_idx_header(0x08, (0, 28, 28)))
    labels.write_bytes(_idx_header(0x08, (0,)))
    _refuses(
        lambda: gd.load_mnist(tmp_path),
        images,
        r"must have N, H and W > 0; received shape \(0, 28, 28\)",
    )


_READ_IDX = r"""
import sys
import gancore.data as gd
from gancore._errors import InvalidArgumentError
for path in sys.argv[1:]:
    try:
        gd.read_idx(path)
    except InvalidArgumentError as e:
        print(f"InvalidArgumentError: {e}")
    else:
        print("loaded", path)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_a_gzip_bomb_stays_in_bounded_memory(tmp_path: Path) -> None:
    # 1 GiB of zeros gzips to about 1 MB; gzip.decompress of it peaks above 1 GiB.
    payload = 1 << 30
    longer = tmp_path / "longer-idx.gz"  # declares 16 MiB, inflates to 1 GiB
    longer.write_bytes(_zeros_gzip(_idx_header(0x08, (16, 1024, 1024)), payload))
    assert len(longer.read_bytes()) < 2 << 20
    huge = tmp_path / "huge-idx.gz"  # declares 4 GiB, more than MAX_IDX_BYTES
    huge.write_bytes(gzip.compress(_idx_header(0x08, (4, 1024, 1024, 1024)) + bytes(1 << 20)))
    returncode, peak_kib, report = run_measured(_READ_IDX, [str(longer), str(huge)], timeout=120)
    assert returncode == 0, report
    assert peak_kib * 1024 < 400 * 2**20, f"peak RSS {peak_kib / 1024:.0f} MiB"
    assert f"InvalidArgumentError: IDX file {str(longer)!r} is longer than its header" in report
    assert f"InvalidArgumentError: IDX file {str(huge)!r} is larger than max_bytes" in report


# --- CIFAR-10 ---


def _batch_bytes(batch: Any, protocol: int = 4) -> bytes:
    return pickle.dumps(batch, protocol=protocol)


def _good_batch(n: int = 2) -> dict[bytes, Any]:
    data = np.arange(n * 3072, dtype=np.int64).reshape(n, 3072).astype(np.uint8)
    return {b"batch_label": b"fuzz", b"data": data, b"labels": [i % 10 for i in range(n)]}


def _load_test_batch(folder: Path, blob: bytes, **kwargs: Any) -> gd.Dataset:
    (folder / "test_batch").write_bytes(blob)
    return gd.load_cifar10(folder, split="test", **kwargs)


class _Python2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes str and bytes as Python 2's str (BINSTRING), as the official batches are."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes | str) -> None:
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def test_load_cifar10_reads_python2_protocol2_batches(tmp_path: Path) -> None:
    batch = _good_batch(3)
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(batch)
    blob = buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    opcodes = {opcode.name for opcode, _, _ in pickletools.genops(blob)}
    assert b"numpy.core.multiarray" in blob and "BINSTRING" in opcodes
    assert not opcodes & {"BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "SHORT_BINBYTES"}
    ds = _load_test_batch(tmp_path, blob)
    rows = batch[b"data"]
    assert ds.images.shape == (3, 32, 32, 3) and ds.labels is not None
    np.testing.assert_array_equal(ds.labels, [0, 1, 2])
    np.testing.assert_allclose(
        ds.images[2, 4, 5, 1], rows[2, 1024 + 4 * 32 + 5] / 127.5 - 1, atol=1e-6
    )


def test_load_cifar10_refuses_shared_nested_labels_without_expanding_them(tmp_path: Path) -> None:
    # One list of 1000 ints, shared 1000 times, that list shared 100 times: about 10 KB of
    # pickle, which np.asarray would expand to 10**8 int64 (800 MB).
    shared = [[0] * 1000] * 1000
    batch = _good_batch(100) | {b"labels": [shared] * 100}
    blob = _batch_bytes(batch)
    assert len(blob) < 400_000
    path = tmp_path / "test_batch"
    _refuses(
        lambda: _load_test_batch(tmp_path, blob),
        path,
        r"must hold b'labels', 100 integers; received list of length 100 whose item 0 is "
        r"list of length 1000",
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([True, 1], "whose item 0 is bool"),
        ([1, 2**70], "whose item 1 is an int beyond int64"),
        (np.array([0.0, 1.0]), r"received float64 of shape \(2,\)"),
        (np.array([[0, 1]]), r"received int64 of shape \(1, 2\)"),
        ({0: 1}, "received dict of length 1"),
        ([0, -1], r"labels must lie in \[0, 10\) for the 10 classes; received values in \[-1, 0\]"),
    ],
    ids=["bools", "beyond-int64", "float-array", "2d-array", "dict", "negative"],
)
def test_load_cifar10_labels_must_be_n_ints_in_range(
    tmp_path: Path, labels: Any, message: str
) -> None:
    blob = _batch_bytes(_good_batch(2) | {b"labels": labels})
    _refuses(lambda: _load_test_batch(tmp_path, blob), tmp_path / "test_batch", message)


def test_load_cifar10_accepts_labels_as_an_integer_array(tmp_path: Path) -> None:
    blob = _batch_bytes(_good_batch(2) | {b"labels": np.array([7, 3], dtype=">i4")})
    ds = _load_test_batch(tmp_path, blob)
    assert ds.labels is not None and ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.labels, [7, 3])


def _crash_or_refusal(blob: bytes, tmp_path: Path) -> str:
    """Load `blob` as a test batch in a child process; return what it printed."""
    (tmp_path / "test_batch").write_bytes(blob)
    code = (
        "import sys, gancore.data as gd\n"
        "try:\n"
        "    gd.load_cifar10(sys.argv[1], split='test')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"the loader crashed: {result.returncode} {result.stderr}"
    return result.stdout


def test_load_cifar10_refuses_deep_nesting_before_it_overflows_the_c_stack(
    tmp_path: Path,
) -> None:
    # A dict whose key is a tuple nested 10**6 deep: 2 MB; hashing it kills the interpreter.
    blob = b"\x80\x02}" + b"K\x00" + b"\x85" * 10**6 + b"K\x01s."
    out = _crash_or_refusal(blob, tmp_path)
    assert out.startswith("InvalidArgumentError")
    assert "may nest containers at most 32 deep" in out and "test_batch" in out


def test_load_cifar10_nesting_limit_is_exact(tmp_path: Path) -> None:
    def nested(depth: int) -> Any:
        value: Any = 0
        for _ in range(depth):
            value = (value,)
        return value

    # The batch dict is one level; the tuple adds its own.
    ok = _batch_bytes(_good_batch(1) | {b"extra": nested(31)})
    assert len(_load_test_batch(tmp_path, ok)) == 1
    deep = _batch_bytes(_good_batch(1) | {b"extra": nested(32)})
    _refuses(
        lambda: _load_test_batch(tmp_path, deep),
        tmp_path / "test_batch",
        "may nest containers at most 32 deep",
    )


def test_load_cifar10_refuses_a_memo_index_that_would_claim_gigabytes(tmp_path: Path) -> None:
    # LONG_BINPUT 2**31: 10 bytes that make the C unpickler allocate a 32 GB memo.
    blob = b"\x80\x02K\x00r" + struct.pack("<I", 2**31) + b"."
    out = _crash_or_refusal(blob, tmp_path)
    assert out.startswith("InvalidArgumentError") and "received index 2147483648" in out


def test_load_cifar10_bounds_opcodes_dict_entries_and_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "test_batch"
    names = [f"file_{i}.png".encode() for i in range(3000)]  # about 6,000 opcodes
    blob = _batch_bytes(_good_batch(1) | {b"filenames": names})
    assert len(_load_test_batch(tmp_path, blob)) == 1
    monkeypatch.setattr(_cifar, "MAX_PICKLE_OPCODES", 5000)
    _refuses(lambda: _load_test_batch(tmp_path, blob), path, "may hold at most 5000 pickle opcodes")
    # Keys that share a hash make dict insertion quadratic: the entries are bounded.
    colliding = {k * (2**61 - 1): 0 for k in range(1, 1200)}
    blob = _batch_bytes(_good_batch(1) | {b"extra": colliding})
    _refuses(lambda: _load_test_batch(tmp_path, blob), path, "may hold at most 1000 entries")
    blob = _batch_bytes(_good_batch(1))
    _refuses(
        lambda: _load_test_batch(tmp_path, blob, max_bytes=len(blob) - 1),
        path,
        f"is larger than max_bytes allows: it has {len(blob)} bytes; max_bytes allows at "
        f"most {len(blob) - 1}",
    )
    assert len(_load_test_batch(tmp_path, blob, max_bytes=len(blob))) == 1
    with pytest.raises(InvalidArgumentError, match="max_bytes must be an int > 0; received 0"):
        _load_test_batch(tmp_path, blob, max_bytes=0)


class _Reduces:
    """Pickles as `callable(*args)`, then BUILD with `state`: a hand-made numpy pickle."""

    def __init__(self, callable_: Any, args: tuple, state: Any = None) -> None:
        self.reduction = (callable_, args) if state is None else (callable_, args, state)

    def __reduce__(self) -> tuple:
        return self.reduction


_RECONSTRUCT = np.empty(0).__reduce__()[0]
_U1 = np.dtype("u1")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # numpy's _reconstruct allocates the shape it is given: 1 TB.
        (_Reduces(_RECONSTRUCT, (np.ndarray, (10**12,), b"b")), "refusing numpy's _reconstruct"),
        (_Reduces(np.ndarray, ((10**12,), _U1)), "refusing to call numpy.ndarray"),
        # An array state whose shape needs more bytes than it carries.
        (
            _Reduces(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (2, 3072), _U1, False, b"ab")),
            r"array of shape \(2, 3072\) and dtype uint8, which needs 6144 bytes of data; "
            r"received 2",
        ),
        (
            _Reduces(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (2,), _U1, False, [1, 2])),
            r"not \(shape, dtype, is_fortran, bytes\)",
        ),
        (np.array([1, None], dtype=object), "refusing the numpy dtype 'O8'"),
        (np.zeros(2, dtype=[("a", "u1")]), "refusing the numpy dtype 'V1'"),
        ({1, 2}, "refusing the pickle opcode EMPTY_SET"),
        (frozenset({1}), "refusing the pickle opcode FROZENSET"),
        (bytearray(b"abc"), "refusing to unpickle builtins.bytearray"),
    ],
    ids=[
        "reconstruct-1TB",
        "ndarray-call",
        "short-data",
        "list-data",
        "object-dtype",
        "structured-dtype",
        "set",
        "frozenset",
        "bytearray",
    ],
)
def test_load_cifar10_refuses_hostile_objects(tmp_path: Path, value: Any, message: str) -> None:
    blob = _batch_bytes(_good_batch(1) | {b"extra": value})
    _refuses(lambda: _load_test_batch(tmp_path, blob), tmp_path / "test_batch", message)


def test_load_cifar10_refuses_protocol_5_buffers(tmp_path: Path) -> None:
    blob = _batch_bytes(_good_batch(1), protocol=5)
    _refuses(
        lambda: _load_test_batch(tmp_path, blob),
        tmp_path / "test_batch",
        "refusing the pickle opcode BYTEARRAY8",
    )


def test_load_cifar10_refuses_every_truncation(tmp_path: Path) -> None:
    whole = _batch_bytes(_good_batch(1))
    path = tmp_path / "test_batch"
    # Every offset around the structure; every 64th through the 3,072 pixel bytes.
    ends = sorted(
        set(range(0, 200))
        | set(range(200, len(whole), 64))
        | set(range(len(whole) - 200, len(whole)))
    )
    for end in ends:
        message = _refuses(lambda end=end: _load_test_batch(tmp_path, whole[:end]), path)
        assert "is not a readable pickle" in message or "must be a dict" in message, end


@FUZZ
@given(bits=st.lists(st.integers(0, 8 * 3500), min_size=1, max_size=6))
def test_load_cifar10_bit_flips_give_valid_data_or_one_clear_error(
    tmp_path: Path, bits: list[int]
) -> None:
    blob = _flip(_batch_bytes(_good_batch(1) | {b"filenames": [b"a.png"]}), bits)
    try:
        ds = _load_test_batch(tmp_path, blob)
    except InvalidArgumentError as e:
        assert repr(str(tmp_path / "test_batch")) in str(e)
        return
    assert ds.images.shape == (1, 32, 32, 3) and ds.images.dtype == np.float32
    assert ds.labels is not None and 0 <= ds.labels[0] < 10


def test_load_cifar10_meta_names_are_checked_without_repr(tmp_path: Path) -> None:
    (tmp_path / "test_batch").write_bytes(_batch_bytes(_good_batch(1)))
    meta = tmp_path / "batches.meta"
    shared = [[0] * 1000] * 1000  # its repr would be 3 MB; the message names the types
    meta.write_bytes(_batch_bytes({b"label_names": [shared] * 10}))
    message = _refuses(lambda: gd.load_cifar10(tmp_path, split="test"), meta, "a list of 10 names")
    assert "received a list of list of length 1000" in message and len(message) < 1000
    meta.write_bytes(_batch_bytes({b"label_names": [b"\xff"] * 10}))
    _refuses(lambda: gd.load_cifar10(tmp_path, split="test"), meta, "in UTF-8")


# --- image folders ---


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A greyscale PNG that declares width x height and holds no pixel data at all."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")


def _one_image_folder(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / "c").mkdir(exist_ok=True)
    path = tmp_path / "c" / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        # 144 megapixels: Pillow only warns. The header is all there is: decoding would fail.
        (12_000, 12_000, r"between 1 and max_pixels=67108864 pixels; received 12000 x 12000"),
        # Past Pillow's own limit, whose DecompressionBombError must not leak.
        (100_000, 100_000, "has more pixels than Pillow allows"),
    ],
)
def test_load_image_folder_checks_pixels_from_the_header(
    tmp_path: Path, width: int, height: int, message: str
) -> None:
    path = _one_image_folder(tmp_path, "bomb.png", _png_header_only(width, height))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        _refuses(lambda: gd.load_image_folder(tmp_path), path, message)


def test_load_image_folder_max_pixels_is_inclusive_and_checked(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "c" / "p.png"
    path.parent.mkdir()
    Image.fromarray(np.full((10, 20), 51, np.uint8)).save(path)
    ds = gd.load_image_folder(tmp_path, size=(2, 2), max_pixels=200)
    np.testing.assert_allclose(ds.images, -0.6, atol=1e-6)
    _refuses(
        lambda: gd.load_image_folder(tmp_path, max_pixels=199),
        path,
        r"max_pixels=199 pixels; received 20 x 10 = 200 \(pass a larger max_pixels",
    )
    with pytest.raises(InvalidArgumentError, match="max_pixels must be an int > 0; received -1"):
        gd.load_image_folder(tmp_path, max_pixels=-1)


def _saved(tmp_path: Path, name: str, pixels: np.ndarray) -> Path:
    from PIL import Image

    path = tmp_path / "c" / name
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


# 8-bit values k, and the same as 16 bits (257 k): both must load as k / 127.5 - 1.
_GREY = np.array([[0, 255, 51], [128, 1, 254]], dtype=np.uint8)


@pytest.mark.parametrize(
    ("name", "pixels"),
    [
        ("i16.png", _GREY.astype(np.uint16) * 257),  # Pillow mode I;16
        ("i32.tif", _GREY.astype(np.int32) * 257),  # Pillow mode I
        ("f32.tif", _GREY.astype(np.float32) / 255),  # Pillow mode F, values in [0, 1]
    ],
    ids=["I;16-png", "I-tiff", "F-tiff"],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_load_image_folder_scales_deep_images_by_their_range(
    tmp_path: Path, name: str, pixels: np.ndarray, channels: int
) -> None:
    _saved(tmp_path, name, pixels)
    ds = gd.load_image_folder(tmp_path, size=(2, 3), channels=channels)
    expected = np.repeat((_GREY / 127.5 - 1.0)[..., np.newaxis], channels, axis=-1)
    np.testing.assert_allclose(ds.images[0], expected, atol=2e-6)
    assert ds.images.min() == -1.0 and ds.images.max() == 1.0  # not clipped to white


@pytest.mark.parametrize(
    ("name", "pixels", "message"),
    [
        ("nan.tif", np.array([[0.0, np.nan]], np.float32), "must hold finite values; received 1"),
        ("inf.tif", np.array([[np.inf, 0.5]], np.float32), "must hold finite values; received 1"),
        (
            "big.tif",
            np.array([[0.0, 3.5]], np.float32),
            r"float image \(mode 'F'\), whose values must lie in \[0, 1\]; received values in "
            r"\[0, 3.5\]",
        ),
        (
            "neg.tif",
            np.array([[-3, 7]], np.int32),
            r"16-bit image \(mode 'I'\), whose values must lie in \[0, 65535\]; received values "
            r"in \[-3, 7\]",
        ),
        ("wide.tif", np.array([[0, 70000]], np.int32), r"received values in \[0, 70000\]"),
    ],
)
def test_load_image_folder_refuses_deep_images_out_of_range(
    tmp_path: Path, name: str, pixels: np.ndarray, message: str
) -> None:
    path = _saved(tmp_path, name, pixels)
    _refuses(lambda: gd.load_image_folder(tmp_path), path, message)


def _encoded(pixels: np.ndarray, image_format: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


_NOISE = np.random.default_rng(0).integers(0, 256, (24, 20, 3), dtype=np.uint8)


# Pillow warns about TIFF tags and EXIF data that point past the end of the file.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "BMP", "GIF", "TIFF"])
def test_load_image_folder_refuses_every_truncation_that_loses_pixels(
    tmp_path: Path, image_format: str
) -> None:
    whole = _encoded(_NOISE, image_format)
    path = _one_image_folder(tmp_path, "cut.png", whole)
    complete = gd.load_image_folder(tmp_path, size=(4, 4)).images
    for end in range(len(whole)):
        path.write_bytes(whole[:end])
        try:
            ds = gd.load_image_folder(tmp_path, size=(4, 4))
        except InvalidArgumentError as e:
            assert repr(str(path)) in str(e), end
            continue
        # Only trailers may go (PNG: the zlib checksum and IEND, 20 bytes; GIF: 2), and
        # then every pixel is still there.
        assert len(whole) - end <= 20, (image_format, end)
        np.testing.assert_array_equal(ds.images, complete)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@FUZZ
@given(
    image_format=st.sampled_from(["PNG", "JPEG", "TIFF"]),
    bits=st.lists(st.integers(0, 8 * 1500), min_size=1, max_size=6),
)
def test_load_image_folder_bit_flips_give_an_image_or_one_clear_error(
    tmp_path: Path, image_format: str, bits: list[int]
) -> None:
    path = _one_image_folder(tmp_path, "flip.png", _flip(_encoded(_NOISE, image_format), bits))
    try:
        ds = gd.load_image_folder(tmp_path, size=(4, 4))
    except InvalidArgumentError as e:
        assert repr(str(path)) in str(e)
        return
    assert ds.images.shape == (1, 4, 4, 3)
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0


def test_load_image_folder_reads_only_the_formats_of_its_suffixes(tmp_path: Path) -> None:
    # An icon may decode to another size than it declares; it is refused even when named .png.
    path = _one_image_folder(tmp_path, "icon.png", _encoded(_NOISE[:16, :16], "ICO"))
    _refuses(
        lambda: gd.load_image_folder(tmp_path), path, "UnidentifiedImageError: cannot identify"
    )
    # A GIF named .png is still a supported format.
    path.write_bytes(_encoded(_NOISE, "GIF"))
    assert gd.load_image_folder(tmp_path, size=(4, 4)).images.shape == (1, 4, 4, 3)
