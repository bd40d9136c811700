"""Hostile and broken input beyond the data files (DESIGN invariant 9): checkpoints
(``arrays.npz``, ``meta.json``, ``state.json``, ``state.npz``), ``.npy`` inputs, TOML
configs and command-line arguments. Each must end in one clear gancore error that names the
file or argument, in bounded memory, or give exactly what the file holds.

Corpora: truncations, bit flips and random values (hypothesis), headers and zip entries
that lie, zip bombs made here, wrong types. From the command line every refusal is exit
status 2 and one ``gancore: error: ...`` line, never a traceback. Data-file loaders are
fuzzed in test_data_fuzz.py, plugins that raise or lie in test_registry.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from _helpers import load_backend, run_measured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gancore import CheckpointError, GancoreError, InvalidArgumentError
from gancore.architectures import cyclegan, mlp
from gancore.cli import main
from gancore.data import Dataset, load_mixture
from gancore.data._npy import read_npy
from gancore.evaluation._sources import open_source
from gancore.training import (
    CheckpointLimits,
    TrainConfig,
    load_checkpoint,
    make_trainer,
    save_checkpoint,
)

FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
CONFIG = TrainConfig(steps=1, batch_size=8, log_every=1)


# --- what the corpora start from -------------------------------------------------------------


def _tiny_trainer() -> Any:
    """A 2-D GAN of a few hundred weights on torch (or TensorFlow)."""
    backend = "torch"
    try:
        load_backend("torch")
    except pytest.skip.Exception:
        backend = load_backend("tensorflow").name
    return make_trainer(mlp((2,), latent_dim=2, hidden=4), load_mixture("ring", n=64), CONFIG,
                        backend=backend)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained tiny checkpoint (format 2, resumable); copy it before changing it."""
    trainer = _tiny_trainer()
    trainer.fit()
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "checkpoint", trainer)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CycleGAN checkpoint: `gancore sample --input` reads .npy images for it."""
    rng = np.random.default_rng(0)
    a, b = (Dataset(name, rng.uniform(-1, 1, (4, 4, 4, 1)).astype(np.float32))
            for name in ("a", "b"))
    config = TrainConfig(algorithm="cyclegan", loss="least_squares", steps=1, batch_size=2)
    trainer = make_trainer(cyclegan((4, 4, 1), base_filters=2, depth=1), (a, b), config,
                           backend=_tiny_trainer().backend.name)
    return save_checkpoint(tmp_path_factory.mktemp("cycle") / "checkpoint", trainer)


def _copy(checkpoint: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(checkpoint, target)
    return target


def _meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "meta.json").read_text())


def _arrays(folder: Path, name: str = "arrays.npz") -> dict[str, np.ndarray]:
    with np.load(folder / name) as npz:
        return {k: npz[k] for k in npz.files}


def _refuses(call: Callable[[], Any], file: Path, message: str = "",
             error: type[Exception] = CheckpointError) -> str:
    """`call()` must raise `error` naming `file` and containing `message`."""
    with pytest.raises(error) as caught:
        call()
    text = str(caught.value)
    assert repr(str(file)) in text, text
    assert message in text, text
    return text


def _flip(data: bytes, bits: list[int]) -> bytes:
    flipped = bytearray(data)
    for bit in bits:
        flipped[bit // 8 % len(data)] ^= 1 << bit % 8
    return bytes(flipped)


def _npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=True)
    return out.getvalue()


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`gancore ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _one_error(argv: list[str], *names: str) -> str:
    """`gancore ARGV` must fail with status 2 and one line that names each of `names`."""
    status, out, err = run_cli(argv)
    assert status == 2, (status, out, err)
    assert err.startswith("gancore: error: ") and err.endswith("\n"), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, (name, err)
    return err


# --- zips made by hand: headers that lie, members that inflate to gigabytes ---------------


def _deflated_zeros(prefix: bytes, zeros: int) -> bytes:
    """Raw deflate of `prefix` then `zeros` zero bytes, without compressing them all: after
    a full flush the compressor forgets its history, so one compressed piece of 16 MiB of
    zeros stands for every such piece."""
    piece = 16 << 20
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [head.compress(prefix), head.flush(zlib.Z_FULL_FLUSH)]
    repeat = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = repeat.compress(bytes(piece)) + repeat.flush(zlib.Z_FULL_FLUSH)
    out += [block] * (zeros // piece)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    out += [tail.compress(bytes(zeros % piece)), tail.flush()]
    return b"".join(out)


def _zeros_crc(prefix: bytes, zeros: int) -> int:
    crc, piece = zlib.crc32(prefix), bytes(16 << 20)
    for start in range(0, zeros, len(piece)):
        crc = zlib.crc32(piece[: zeros - start], crc)
    return crc


@attrs.frozen
class _Member:
    """One zip entry: `prefix` then `zeros` zero bytes, deflated, with the sizes and CRC the
    zip declares (by default the true ones)."""

    name: str
    prefix: bytes
    zeros: int = 0
    declared: int | None = None
    crc: int | None = None

    def write(self, out: io.BytesIO) -> bytes:
        """The local entry into `out`; returns the central directory's record."""
        data = _deflated_zeros(self.prefix, self.zeros)
        size = len(self.prefix) + self.zeros
        crc = _zeros_crc(self.prefix, self.zeros) if self.crc is None else self.crc
        declared = size if self.declared is None else self.declared
        name = self.name.encode()
        offset = out.tell()
        fields = (20, 0, 8, 0, 0x21, crc, len(data), declared, len(name))
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, 0) + name + data)
        return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0,
                           offset) + name


def _zip(path: Path, members: list[_Member]) -> Path:
    out = io.BytesIO()
    directory = b"".join(m.write(out) for m in members)
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                          len(directory), start, 0))
    path.write_bytes(out.getvalue())
    return path


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """The .npy header (format 1.0) of an array of `shape`, without its data."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


# --- arrays.npz ---------------------------------------------------------------------------------


def test_a_sound_checkpoint_loads_and_samples(tiny: Path) -> None:
    checkpoint = load_checkpoint(tiny)
    assert sorted(checkpoint.arrays) == ["critic", "generator"]
    for net, arrays in checkpoint.arrays.items():
        for name, value in arrays.items():
            np.testing.assert_array_equal(value, _arrays(tiny)[f"{net}/{name}"])
    assert checkpoint.sample(5, seed=0).shape == (5, 2)


def test_arrays_npz_truncations_are_refused(tiny: Path, tmp_path: Path) -> None:
    whole = (tiny / "arrays.npz").read_bytes()
    folder = _copy(tiny, tmp_path)
    cuts = sorted({0, 1, 4, 30, 64, *range(len(whole) - 200, len(whole), 7), len(whole) - 1,
                   *range(100, len(whole), max(1, len(whole) // 25))})
    for end in cuts:
        (folder / "arrays.npz").write_bytes(whole[:end])
        _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz")


def _positions(size: int) -> st.SearchStrategy[int]:
    """Bit positions, half of them in the zip's headers: the first member's and the
    central directory at the end."""
    return st.one_of(st.integers(0, 8 * min(size, 400) - 1),
                     st.integers(8 * max(0, size - 1200), 8 * size - 1),
                     st.integers(0, 8 * size - 1))


@FUZZ
@given(data=st.data())
def test_arrays_npz_bit_flips_give_the_weights_or_one_clear_error(
    tiny: Path, tmp_path: Path, data: st.DataObject
) -> None:
    whole = (tiny / "arrays.npz").read_bytes()
    bits = data.draw(st.lists(_positions(len(whole)), min_size=1, max_size=3), label="bits")
    folder = _copy(tiny, tmp_path)
    (folder / "arrays.npz").write_bytes(_flip(whole, bits))
    try:
        checkpoint = load_checkpoint(folder)
    except CheckpointError as e:
        assert repr(str(folder / "arrays.npz")) in str(e)
        return
    # What loads is what was written: zip CRCs cover every member, headers are checked.
    expected = _arrays(tiny)
    loaded = {f"{n}/{k}": v for n, arrays in checkpoint.arrays.items() for k, v in arrays.items()}
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_empty_and_garbage_arrays_npz_are_refused(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    for blob in (b"", b"PK", os.urandom(3000), b"PK\x05\x06" + bytes(18),
                 (tiny / "meta.json").read_bytes()):
        (folder / "arrays.npz").write_bytes(blob)
        _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz")


def _with_array(tiny: Path, tmp_path: Path, key: str, value: Any) -> Path:
    folder = _copy(tiny, tmp_path)
    arrays = _arrays(tiny)
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    np.savez(folder / "arrays.npz", **arrays)
    return folder


@pytest.mark.parametrize(("dtype", "message"), [
    (np.int8, "must be float32; received int8"),
    (np.float64, "must be float32; received float64"),
    (np.float16, "must be float32; received float16"),
    (np.complex64, "must be float32; received complex64"),
    (np.uint8, "must be float32; received uint8"),
])
def test_weights_of_another_dtype_are_refused_not_cast(tiny: Path, tmp_path: Path,
                                                       dtype: Any, message: str) -> None:
    key = next(iter(_arrays(tiny)))
    value = _arrays(tiny)[key].astype(dtype)
    folder = _with_array(tiny, tmp_path, key, value)
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz", f"{key} {message}")


def test_big_endian_and_fortran_weights_load_exactly(tiny: Path, tmp_path: Path) -> None:
    arrays = _arrays(tiny)
    key = next(k for k, v in arrays.items() if v.ndim == 2)
    folder = _with_array(tiny, tmp_path, key, np.asfortranarray(arrays[key].astype(">f4")))
    loaded = load_checkpoint(folder).arrays[key.partition("/")[0]][key.partition("/")[2]]
    assert loaded.dtype == np.float32 and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, arrays[key])


@pytest.mark.parametrize(("change", "message"), [
    ("nan", "holds nan; gancore never writes non-finite weights"),
    ("inf", "holds inf; gancore never writes non-finite weights"),
    ("shape", "must have shape"),
    ("missing", "which meta.json's specs declare"),
    ("extra", "is no parameter of network 'generator'"),
    ("network", "network one of generator, critic"),
])
def test_weights_that_disagree_with_the_specs_are_refused(tiny: Path, tmp_path: Path,
                                                          change: str, message: str) -> None:
    arrays = _arrays(tiny)
    key = next(iter(arrays))
    value, name = arrays[key].copy(), key
    if change in ("nan", "inf"):
        value.flat[0] = np.nan if change == "nan" else np.inf
    elif change == "shape":
        value = np.zeros((*value.shape, 2), np.float32)
    elif change == "missing":
        value = None
    else:
        name = "generator/extra.kernel" if change == "extra" else "encoder/dense_1.kernel"
    folder = _with_array(tiny, tmp_path, name, value)
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz", message)


def test_a_checkpoint_with_nan_weights_refuses_to_sample_from_the_cli(
    tiny: Path, tmp_path: Path
) -> None:
    key = next(iter(_arrays(tiny)))
    folder = _with_array(tiny, tmp_path, key, _arrays(tiny)[key] * np.nan)
    _one_error(["sample", "--checkpoint", str(folder), "--out", str(tmp_path / "x.npy")],
               str(folder / "arrays.npz"), "holds nan")
    assert not (tmp_path / "x.npy").exists()


def _add_member(folder: Path, name: str, blob: bytes) -> None:
    with zipfile.ZipFile(folder / "arrays.npz", "a") as archive:
        twice = name in archive.namelist()
        warns = pytest.warns(UserWarning, match="Duplicate name")
        with warns if twice else contextlib.nullcontext():
            archive.writestr(name, blob)


@pytest.mark.parametrize(("name", "blob", "message"), [
    ("generator/obj.npy", _npy_bytes(np.array([None, 1], dtype=object)),
     "holds object values (objects or records, which would need pickle)"),
    ("generator/rec.npy", _npy_bytes(np.zeros(2, dtype=[("a", "<f4")])), "records"),
    ("generator/text.npy", _npy_bytes(np.array(["a"])), "received <U1"),
    ("generator/raw.bin", b"\x00" * 8, "is not a .npy array"),
    ("generator/bad.npy", b"\x93NUMPY\x01\x00\xff\xff{'descr'", "has no valid .npy header"),
    ("generator/v9.npy", b"\x93NUMPY\x09\x00" + bytes(8), "has .npy format version 9.0"),
])
def test_hostile_members_are_refused_before_their_data(tiny: Path, tmp_path: Path, name: str,
                                                       blob: bytes, message: str) -> None:
    folder = _copy(tiny, tmp_path)
    _add_member(folder, name, blob)
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz", message)


def test_a_member_listed_twice_is_refused(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    first = next(iter(_arrays(tiny)))
    _add_member(folder, f"{first}.npy", _npy_bytes(_arrays(tiny)[first]))
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz", "is listed twice")


@pytest.mark.parametrize(("flag", "method", "message"), [
    (0x1, 8, "is encrypted"),
    (0, 12, "uses zip compression method 12"),  # bzip2
])
def test_encrypted_or_exotic_members_are_refused(tiny: Path, tmp_path: Path, flag: int,
                                                 method: int, message: str) -> None:
    key = next(iter(_arrays(tiny)))
    path = _zip(tmp_path / "arrays.npz", [_Member(f"{key}.npy", _npy_bytes(_arrays(tiny)[key]))])
    blob = bytearray(path.read_bytes())
    directory = blob.rfind(b"PK\x01\x02")
    struct.pack_into("<2H", blob, directory + 8, flag, method)
    folder = _copy(tiny, tmp_path)
    (folder / "arrays.npz").write_bytes(bytes(blob))
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz", message)


def _first_param(tiny: Path) -> tuple[str, np.ndarray]:
    key, value = next(iter(_arrays(tiny).items()))
    return key, value


def test_a_header_that_lies_about_its_shape_is_refused_before_inflating(
    tiny: Path, tmp_path: Path
) -> None:
    key, value = _first_param(tiny)
    folder = _copy(tiny, tmp_path)
    huge = (1 << 28, 4)  # 4 GiB of float32 declared, 1 MiB of zeros behind it
    _zip(folder / "arrays.npz", [_Member(f"{key}.npy", _npy_header(huge), zeros=1 << 20)])
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz",
             f"{key} must have shape {value.shape} (meta.json's spec); received {huge}")


@pytest.mark.parametrize("declared", ["more", "less"])
def test_a_zip_entry_that_lies_about_its_size_is_refused(tiny: Path, tmp_path: Path,
                                                         declared: str) -> None:
    key, value = _first_param(tiny)
    header = _npy_header(value.shape)
    size = len(header) + value.nbytes
    folder = _copy(tiny, tmp_path)
    declared_size = size + 4096 if declared == "more" else size - 4
    # The CRC of what the zip declares: zipfile checks it once it has read that much.
    crc = zlib.crc32(header + bytes(value.nbytes)) if declared == "more" else \
        zlib.crc32(header + bytes(value.nbytes - 4))
    member = _Member(f"{key}.npy", header, zeros=value.nbytes, declared=declared_size, crc=crc)
    _zip(folder / "arrays.npz", [member])
    data = value.nbytes + (4096 if declared == "more" else -4)
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz",
             f"in its header, but the zip declares {data} data bytes")


def test_a_member_that_inflates_past_its_declared_size_is_refused(tiny: Path,
                                                                  tmp_path: Path) -> None:
    key, value = _first_param(tiny)
    header = _npy_header(value.shape)
    folder = _copy(tiny, tmp_path)
    # Declares its true small size, inflates to 64 MiB: read up to the size, then the CRC.
    _zip(folder / "arrays.npz", [_Member(f"{key}.npy", header, zeros=64 << 20,
                                         declared=len(header) + value.nbytes, crc=0)])
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz", "CRC")


def test_an_archive_listing_too_many_members_is_refused_from_its_end_record(
    tiny: Path, tmp_path: Path
) -> None:
    folder = _copy(tiny, tmp_path)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0, 0, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**9, 10**9, 10**9, 0)
    (folder / "arrays.npz").write_bytes(record + locator + end)
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz",
             "lists 1000000000 members in a central directory of 1000000000 bytes, more than "
             "the 65536 members and 8388608 bytes")
    # A small count, but a directory of 64 MiB: zipfile would parse a million entries.
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 64 << 20, 0, 0)
    (folder / "arrays.npz").write_bytes(end)
    _refuses(lambda: load_checkpoint(folder), folder / "arrays.npz",
             "lists 1 members in a central directory of 67108864 bytes")


def test_the_byte_limit_is_checked_on_the_specs_before_any_array_is_read(
    tiny: Path, tmp_path: Path
) -> None:
    folder = _copy(tiny, tmp_path)
    (folder / "arrays.npz").write_bytes(b"not even a zip")
    _refuses(lambda: load_checkpoint(folder, limits=CheckpointLimits(max_bytes=64)),
             folder / "meta.json", "networks of at most 64 bytes of float32 weights "
                                   "(CheckpointLimits.max_bytes)")
    with pytest.raises(InvalidArgumentError, match="max_bytes must be an int > 0; received 0"):
        CheckpointLimits(max_bytes=0)
    with pytest.raises(InvalidArgumentError, match="limits must be a CheckpointLimits"):
        load_checkpoint(folder, limits={"max_bytes": 64})  # type: ignore[arg-type]


# --- meta.json ----------------------------------------------------------------------------------


def _with_meta(tiny: Path, tmp_path: Path, meta: Any = None, raw: bytes | None = None) -> Path:
    folder = _copy(tiny, tmp_path)
    (folder / "meta.json").write_bytes(raw if raw is not None else json.dumps(meta).encode())
    return folder


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "is not valid JSON"),
    (b'{"format": 2,', "is not valid JSON"),
    (bytes(range(256)), "is not UTF-8 text"),
    (b"[1, 2]", "the document must be an object; received [1, 2]"),
    (b"null", "the document must be an object; received None"),
    (b"[" * 100_000 + b"]" * 100_000, "nests arrays and objects 100000 deep, deeper than "
                                       "max_depth allows (32)"),
    (b'{"a": ' * 40 + b"1" + b"}" * 40, "nests arrays and objects 40 deep"),
])
def test_unreadable_meta_json_is_refused(tiny: Path, tmp_path: Path, raw: bytes,
                                         message: str) -> None:
    folder = _with_meta(tiny, tmp_path, raw=raw)
    _refuses(lambda: load_checkpoint(folder), folder / "meta.json", message)


def test_meta_json_size_is_checked_before_it_is_read(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    with open(folder / "meta.json", "r+b") as f:
        f.truncate(17 << 20)  # sparse: 17 MiB on paper
    _refuses(lambda: load_checkpoint(folder), folder / "meta.json",
             "is 17825792 bytes, more than max_bytes allows (16777216 bytes)")


def _set(doc: Any, path: str | tuple[str, ...], value: Any) -> Any:
    """`doc` with the field at `path` (dotted, or a tuple of keys) set to `value` (or
    deleted if it is ...)."""
    doc = json.loads(json.dumps(doc))
    *parents, last = path.split(".") if isinstance(path, str) else path
    target = doc
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(("path", "value", "message"), [
    ("format", 3, "format must be an int in [1, 2]; received 3"),
    ("format", ..., "format is missing"),
    ("step", -1, "step must be an int in [0, "),
    ("algorithm", "vae", "algorithm must be one of 'gan', 'sgan', 'cyclegan'; received 'vae'"),
    ("architecture", None, "architecture must be an object; received None"),
    ("architecture", ..., "architecture is missing"),
    ("architecture.latent_dim", 250_000_000,
     "architecture.latent_dim must be an int in [1, 65536] or null; received 250000000"),
    ("architecture.latent_dim", 2.5, "architecture.latent_dim must be an int"),
    ("architecture.latent_dim", True, "architecture.latent_dim must be an int"),
    ("architecture.kind", "vae", "architecture.kind must be one of 'gan', 'conditional'"),
    ("architecture.num_classes", 10**9, "architecture.num_classes must be an int in [2, 65536]"),
    ("architecture.native", "yes", "architecture.native must be true or false; received 'yes'"),
    ("architecture.name", ["x"], "architecture.name must be a non-empty string"),
    ("specs", None, "specs must be an object; received None"),
    ("specs", ..., "specs is missing"),
    ("specs", {}, "specs must be an object of the networks generator, critic"),
    ("specs.generator", [], "specs.generator must be an object; received []"),
    ("specs.generator", {"name": "g"}, "specs.generator is not a valid network"),
    ("specs.generator.nodes", "dense", "specs.generator is not a valid network"),
    ("specs.critic.inputs", [{"name": "x", "shape": [3], "dtype": "float32"}],
     "architecture and specs disagree"),
    ("config", [], "config must be an object; received []"),
    ("config.generator_optimizer", [1], "config.generator_optimizer must be an object"),
    ("config.batch_size", "eight", "config: 'batch_size' must be an int >= 1: 'eight'"),
    ("config.colour", "red", "config: training config keys must be among"),
    ("data", [], "data must be an object or null; received []"),
    ("data.shape", [3000, 3000, 1], "data.shape must be a shape of at most 4194304 values"),
    ("data.shape", [0], "data.shape must be a list of 1 to 3 ints >= 1"),
    ("data.class_names", [1, 2], "data.class_names must be null or a list of at most"),
    ("data.fingerprints", "abc", "data.fingerprints must be a list of strings"),
])
def test_meta_json_fields_of_the_wrong_type_or_size_are_refused(
    tiny: Path, tmp_path: Path, path: str, value: Any, message: str
) -> None:
    folder = _with_meta(tiny, tmp_path, _set(_meta(tiny), path, value))
    _refuses(lambda: load_checkpoint(folder), folder / "meta.json", message)


def test_a_spec_too_big_for_the_limit_is_refused_before_the_arrays(tiny: Path,
                                                                   tmp_path: Path) -> None:
    meta = _meta(tiny)
    nodes = meta["specs"]["generator"]["nodes"]
    dense = next(n for n in nodes if n["layer"]["kind"] == "dense")
    dense["layer"]["units"] = 1 << 30  # a hidden layer of 2**30 units: 8 GiB of weights
    _refuses(lambda: load_checkpoint(_with_meta(tiny, tmp_path, meta)),
             tmp_path / "copy" / "meta.json", "networks of at most 2147483648 bytes")


def test_a_native_checkpoint_naming_a_portable_architecture_is_refused(
    tiny: Path, tmp_path: Path
) -> None:
    meta = _set(_meta(tiny), "architecture.native", True)
    meta = _set(meta, "architecture.name", "mlp")
    checkpoint = load_checkpoint(_with_meta(tiny, tmp_path, meta))
    with pytest.raises(CheckpointError, match="declares a native architecture 'mlp', but "
                                              "that architecture builds portable specs"):
        checkpoint.sample(2)


def test_a_native_checkpoint_of_a_huge_sample_is_refused_before_building(
    tiny: Path, tmp_path: Path
) -> None:
    meta = _set(_set(_meta(tiny), "architecture.native", True), "data.shape", [3000, 3000, 3])
    folder = _with_meta(tiny, tmp_path, meta)
    _refuses(lambda: load_checkpoint(folder), folder / "meta.json",
             "data.shape must be a shape of at most 4194304 values")
    _one_error(["sample", "--checkpoint", str(folder), "--out", str(tmp_path / "x.png")],
               str(folder / "meta.json"), "data.shape")


#: Dotted paths of meta.json fields gancore uses.
FIELDS = ["format", "step", "algorithm", "backend", "architecture", "architecture.name",
          "architecture.kind", "architecture.latent_dim", "architecture.num_classes",
          "architecture.packing", "architecture.native", "specs", "specs.generator",
          "specs.generator.nodes", "specs.generator.inputs", "specs.critic.output", "config",
          "config.steps", "config.loss", "config.critic_optimizer", "data", "data.shape",
          "data.num_classes", "data.class_names"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


def _loads_or_refuses(folder: Path) -> None:
    """Load and sample `folder`: either it works, or one gancore error names its file."""
    try:
        checkpoint = load_checkpoint(folder)
        samples = checkpoint.sample(3, seed=0)
    except CheckpointError as e:
        assert any(repr(str(folder / f)) in str(e) for f in ("meta.json", "arrays.npz")) \
            or f"checkpoint {str(folder)!r}" in str(e), str(e)
        return
    except GancoreError:
        return  # e.g. a plugin of the architecture's name is not installed: named and clear
    assert samples.shape[0] == 3 and np.all(np.isfinite(samples))


@FUZZ
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_any_json_value_in_any_meta_field_loads_or_is_one_clear_error(
    tiny: Path, tmp_path: Path, field: str, value: Any
) -> None:
    _loads_or_refuses(_with_meta(tiny, tmp_path, _set(_meta(tiny), field, value)))


@FUZZ
@given(data=st.data())
def test_meta_json_bit_flips_load_or_are_one_clear_error(tiny: Path, tmp_path: Path,
                                                         data: st.DataObject) -> None:
    raw = (tiny / "meta.json").read_bytes()
    bits = data.draw(st.lists(st.integers(0, 8 * len(raw) - 1), min_size=1, max_size=3))
    _loads_or_refuses(_with_meta(tiny, tmp_path, raw=_flip(raw, bits)))


# --- state.json and state.npz ---------------------------------------------------------------


def _restore(folder: Path) -> None:
    _tiny_trainer().restore(folder)


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "is not valid JSON"),
    (b"\xff\xfe\x00", "is not UTF-8 text"),
    (b"[]", "the document must be an object of state components; received []"),
    (b"[" * 5000 + b"]" * 5000, "nests arrays and objects 5000 deep"),
    (b'{"loop": 1}', "component 'loop' must be an object; received 1"),
    (b'{"a/b": {}}', "component names must be non-empty and without '/'"),
    (b'{"x": {}}', "component 'loop' is missing"),
])
def test_unreadable_state_json_is_refused(tiny: Path, tmp_path: Path, raw: bytes,
                                          message: str) -> None:
    folder = _copy(tiny, tmp_path)
    (folder / "state.json").write_bytes(raw)
    _refuses(lambda: _restore(folder), folder / "state.json", message)


@pytest.mark.parametrize(("path", "value", "message"), [
    ("loop.step", "one", "loop.step must be an int in [0, "),
    ("loop.history", {"a": 1}, "loop.history must be a list of objects of numbers"),
    ("loop.history", [{"d_loss": "low"}], "loop.history must be a list of objects of numbers"),
    ("loop.rng", [], "loop.rng must be an object; received []"),
])
def test_state_json_loop_of_the_wrong_types_is_refused(tiny: Path, tmp_path: Path, path: str,
                                                       value: Any, message: str) -> None:
    folder = _copy(tiny, tmp_path)
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps(_set(state, path, value)))
    _refuses(lambda: _restore(folder), folder / "state.json", message)


def _restore_refuses(folder: Path, component: str, message: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        _restore(folder)
    text = str(caught.value)
    assert f"checkpoint {folder}" in text and component in text and message in text, text


@pytest.mark.parametrize(("path", "value", "component", "message"), [
    ("loop.rng", {"bit_generator": "MT19937"}, "'loop'", "random state must be of a PCG64"),
    ("batches.rng", {"bit_generator": "PCG64", "state": 5}, "'batches'", "cannot be restored"),
    ("batches.position", 10**6, "'batches'", "position must be an int in [0, 64]"),
    ("batches.epoch", -3, "'batches'", "epoch must be an int in [0, "),
    (("optimizer.generator", "slots"), ["m"], "'optimizer.generator'",
     "state must have slots ['exp_avg', 'exp_avg_sq']"),
])
def test_state_components_of_the_wrong_values_are_refused(
    tiny: Path, tmp_path: Path, path: str | tuple[str, ...], value: Any, component: str,
    message: str
) -> None:
    folder = _copy(tiny, tmp_path)
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps(_set(state, path, value)))
    _restore_refuses(folder, component, message)


def test_sample_grid_frames_cannot_name_files_outside_the_run(tiny: Path,
                                                              tmp_path: Path) -> None:
    from gancore.training import SampleGrid

    folder = _copy(tiny, tmp_path)
    state = json.loads((folder / "state.json").read_text())
    state["callback.sample_grid"] = {"frames": ["../../../etc/passwd"]}
    (folder / "state.json").write_text(json.dumps(state))
    trainer = _tiny_trainer()
    trainer.callbacks.append(SampleGrid(tmp_path / "run"))
    with pytest.raises(CheckpointError, match=r"'callback.sample_grid' .*frames must be \.png "
                                              r"file names of the run folder"):
        trainer.restore(folder)


def _with_state_array(tiny: Path, tmp_path: Path, key: str, value: Any) -> Path:
    folder = _copy(tiny, tmp_path)
    arrays = _arrays(tiny, "state.npz")
    arrays[key] = value
    np.savez(folder / "state.npz", **arrays)
    return folder


@pytest.mark.parametrize(("change", "message"), [
    ("dtype", "must be float32 of shape"),
    ("shape", "must be float32 of shape"),
    ("nan", "holds nan or inf"),
    ("step", "must be float64 of shape ()"),
])
def test_optimizer_moments_of_the_wrong_dtype_shape_or_value_are_refused(
    tiny: Path, tmp_path: Path, change: str, message: str
) -> None:
    arrays = _arrays(tiny, "state.npz")
    key = next(k for k in arrays if k.startswith("optimizer.generator/") and
               k.endswith("/exp_avg") and arrays[k].ndim == 2)
    value = {"dtype": arrays[key].astype(np.float64),
             "shape": arrays[key][:1],
             "nan": arrays[key] * np.nan}.get(change)
    if change == "step":
        key = key.replace("/exp_avg", "/step")
        value = np.zeros(3)
    _restore_refuses(_with_state_array(tiny, tmp_path, key, value), "'optimizer.generator'",
                     message)


def test_a_batch_order_out_of_range_is_refused(tiny: Path, tmp_path: Path) -> None:
    order = np.arange(64, dtype=np.int64)
    order[0] = 10**9
    folder = _with_state_array(tiny, tmp_path, "batches/order", order)
    _restore_refuses(folder, "'batches'", "order must be 64 indices in [0, 64)")


@pytest.mark.parametrize(("blob", "message"), [
    (b"", "is not a zip archive"),
    (b"garbage" * 100, "is not a zip archive"),
])
def test_unreadable_state_npz_is_refused(tiny: Path, tmp_path: Path, blob: bytes,
                                         message: str) -> None:
    folder = _copy(tiny, tmp_path)
    (folder / "state.npz").write_bytes(blob)
    _refuses(lambda: _restore(folder), folder / "state.npz", message)


@pytest.mark.parametrize(("name", "blob", "message"), [
    ("loop/obj.npy", _npy_bytes(np.array([{}], dtype=object)), "holds object values"),
    ("loop/c.npy", _npy_bytes(np.zeros(2, np.complex64)), "must hold bool or signed int"),
    ("nowhere/x.npy", _npy_bytes(np.zeros(2)), "a component of state.json; received "
                                               "'nowhere/x'"),
])
def test_hostile_state_npz_members_are_refused(tiny: Path, tmp_path: Path, name: str,
                                               blob: bytes, message: str) -> None:
    folder = _copy(tiny, tmp_path)
    with zipfile.ZipFile(folder / "state.npz", "a") as archive:
        archive.writestr(name, blob)
    _refuses(lambda: _restore(folder), folder / "state.npz", message)


def test_state_npz_truncations_are_refused(tiny: Path, tmp_path: Path) -> None:
    whole = (tiny / "state.npz").read_bytes()
    folder = _copy(tiny, tmp_path)
    for end in range(0, len(whole), max(1, len(whole) // 12)):
        (folder / "state.npz").write_bytes(whole[:end])
        _refuses(lambda: load_checkpoint(folder).training_state(), folder / "state.npz")


@FUZZ
@given(data=st.data())
def test_state_json_bit_flips_resume_or_are_one_clear_error(tiny: Path, tmp_path: Path,
                                                            data: st.DataObject) -> None:
    raw = (tiny / "state.json").read_bytes()
    bits = data.draw(st.lists(st.integers(0, 8 * len(raw) - 1), min_size=1, max_size=2))
    folder = _copy(tiny, tmp_path)
    (folder / "state.json").write_bytes(_flip(raw, bits))
    try:
        _restore(folder)
    except CheckpointError as e:
        assert str(folder) in str(e), str(e)


# --- .npy inputs: gancore eval and gancore sample --input -------------------------------------


def _npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def _sparse_npy(path: Path, shape: tuple[int, ...], descr: str = "<f4") -> Path:
    """A .npy file whose header declares `shape` and whose data is a hole of that size."""
    header = _npy_header(shape, descr)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + math.prod(shape) * np.dtype(descr).itemsize)
    return path


def test_a_sound_npy_loads_exactly(tmp_path: Path) -> None:
    images = np.linspace(-1, 1, 2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)
    source = open_source(_npy(tmp_path / "s.npy", images))
    np.testing.assert_array_equal(source.samples, images)


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: _npy(p, np.array([None, {}], dtype=object)), "holds object values"),
    (lambda p: _npy(p, np.zeros((2, 4), np.complex64)), "must hold float or unsigned int"),
    (lambda p: _npy(p, np.zeros((2, 4), np.int16)), "must hold float or unsigned int"),
    (lambda p: _npy(p, np.zeros((2, 4), np.uint16)), "must be floats or uint8 pixels"),
    (lambda p: _npy(p, np.zeros(5, np.float32)), "must hold an array of rank 2 or 3 or 4"),
    (lambda p: p.write_bytes(b""), "has no valid .npy header"),
    (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00" + b"\xff" * 4), "has no valid .npy header"),
    (lambda p: p.write_bytes(_npy_header((2**40, 2))), "is truncated: its header declares"),
    (lambda p: p.write_bytes(_npy_bytes(np.zeros((2, 2), np.float32)) + b"x"), "runs on"),
    (lambda p: _sparse_npy(p, (1 << 28, 2)), "more than max_bytes allows (1073741824 bytes)"),
])
def test_hostile_npy_samples_are_refused_from_their_header(tmp_path: Path, make: Any,
                                                           message: str) -> None:
    path = tmp_path / "samples.npy"
    make(path)
    _refuses(lambda: open_source(path), path, message, InvalidArgumentError)
    _one_error(["eval", str(path), "--dataset", "ring"], str(path), message)


def test_npy_truncations_are_refused(tmp_path: Path) -> None:
    whole = _npy_bytes(np.ones((3, 4, 4, 1), np.float32))
    path = tmp_path / "cut.npy"
    for end in range(len(whole)):
        path.write_bytes(whole[:end])
        _refuses(lambda: read_npy(path), path, error=InvalidArgumentError)


@FUZZ
@given(bits=st.lists(st.integers(0, 8 * 200), min_size=1, max_size=3))
def test_npy_bit_flips_give_what_the_file_holds_or_one_clear_error(tmp_path: Path,
                                                                   bits: list[int]) -> None:
    path = tmp_path / "flipped.npy"
    path.write_bytes(_flip(_npy_bytes(np.arange(24, dtype=np.float32).reshape(2, 3, 4)), bits))
    try:
        array = read_npy(path, kinds="biuf")
    except InvalidArgumentError as e:
        assert repr(str(path)) in str(e)
        return
    trusted = np.load(path, allow_pickle=False)  # a small file: what numpy itself reads
    assert array.shape == trusted.shape and array.dtype == trusted.dtype.newbyteorder("=")
    np.testing.assert_array_equal(array, trusted)


def test_labels_npy_must_be_one_integer_per_sample(tmp_path: Path) -> None:
    samples = _npy(tmp_path / "s.npy", np.zeros((3, 2), np.float32))
    labels = _npy(tmp_path / "labels.npy", np.zeros(3, np.float32))
    _refuses(lambda: open_source(samples, labels), labels,
             "must hold signed int or unsigned int values; received float32",
             InvalidArgumentError)


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: _npy(p, np.zeros((2, 4, 4, 1), np.float64) + 3), "in [-1, 1]; received values"),
    (lambda p: _npy(p, np.full((1, 4, 4, 1), np.nan, np.float32)), "finite images"),
    (lambda p: _npy(p, np.zeros((0, 4, 4, 1), np.float32)), "one or more"),
    (lambda p: _npy(p, np.zeros((4, 4, 1), np.float32)), "must hold an array of rank 4"),
    (lambda p: _npy(p, np.zeros((2, 4, 4, 1), np.uint8)), "must hold float values"),
    (lambda p: _npy(p, np.array([[[[None]]]], dtype=object)), "holds object values"),
    (lambda p: _sparse_npy(p, (1 << 20, 32, 32, 1)), "more than max_bytes allows"),
    (lambda p: None, "does not exist"),
])
def test_sample_input_is_checked_before_it_is_translated(cycle: Path, tmp_path: Path,
                                                         make: Any, message: str) -> None:
    path = tmp_path / "input.npy"
    make(path)
    _one_error(["sample", "--checkpoint", str(cycle), "--input", str(path),
                "--out", str(tmp_path / "out.npy")], "--input", str(path), message)
    assert not (tmp_path / "out.npy").exists()


def test_sample_input_translates_valid_images(cycle: Path, tmp_path: Path) -> None:
    path = _npy(tmp_path / "input.npy", np.zeros((3, 4, 4, 1), np.float32))
    status, _, err = run_cli(["sample", "--checkpoint", str(cycle), "--input", str(path),
                              "--out", str(tmp_path / "out.npy")])
    assert status == 0, err
    assert np.load(tmp_path / "out.npy").shape == (3, 4, 4, 1)


def test_sample_input_for_a_model_that_does_not_translate_is_an_error(
    tiny: Path, tmp_path: Path
) -> None:
    path = _npy(tmp_path / "input.npy", np.zeros((3, 2), np.float32))
    _one_error(["sample", "--checkpoint", str(tiny), "--input", str(path),
                "--out", str(tmp_path / "out.npy")], "--input is for CycleGAN checkpoints",
               "'gan' model")


# --- bounded memory, measured ---------------------------------------------------------------

_READ_ALL = r"""
import sys
from gancore import GancoreError
from gancore.data._npy import read_npy
from gancore.training import load_checkpoint
for path in sys.argv[1:]:
    try:
        if path.endswith(".npy"):
            read_npy(path)
        elif path.endswith("state"):
            load_checkpoint(path).training_state()
        else:
            load_checkpoint(path)
    except GancoreError as e:
        print(f"{type(e).__name__}: {e}")
    else:
        print("loaded", path)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_bombs_are_refused_in_bounded_memory(tiny: Path, tmp_path: Path) -> None:
    key, value = _first_param(tiny)
    header = _npy_header(value.shape)
    gib = 1 << 30
    cases: dict[str, tuple[Path, str]] = {}

    def bomb(name: str, members: list[_Member], message: str, file: str = "arrays.npz",
             suffix: str = "") -> None:
        folder = _copy(tiny, tmp_path, name + suffix)
        path = _zip(folder / file, members)
        assert path.stat().st_size < 8 << 20  # a few MB that stand for gigabytes
        cases[name] = (folder, message)

    # The header declares 3 GiB (the spec says otherwise); the zip declares it honestly.
    bomb("declares", [_Member(f"{key}.npy", _npy_header((3 * gib // 4,)), zeros=3 * gib,
                              crc=0)],
         f"{key} must have shape {value.shape}")
    # The header is the spec's; the zip declares (truthfully) 1.5 GiB more.
    bomb("zip-declares", [_Member(f"{key}.npy", header, zeros=3 * gib // 2, crc=0)],
         "but the zip declares")
    # Header and zip both declare the spec's small size; the stream inflates to 1.5 GiB.
    bomb("inflates", [_Member(f"{key}.npy", header, zeros=3 * gib // 2,
                              declared=len(header) + value.nbytes, crc=0)], "CRC")
    # state.npz: 3 GiB declared by one member, more than CheckpointLimits.max_bytes.
    bomb("state", [_Member("loop/x.npy", _npy_header((3 * gib // 8,), "<f8"),
                           zeros=3 * gib, crc=0)], "CheckpointLimits.max_bytes allows",
         file="state.npz", suffix="-state")
    big_npy = _sparse_npy(tmp_path / "big.npy", (3 * gib // 4,))
    returncode, peak_kib, output = run_measured(
        _READ_ALL, [*(str(f) for f, _ in cases.values()), str(big_npy)])
    report = output.splitlines()
    assert returncode == 0, output
    assert len(report) == len(cases) + 1, report
    for line, (name, (folder, message)) in zip(report, cases.items(), strict=False):
        assert line.startswith("CheckpointError: ") and str(folder) in line, (name, line)
        assert message in line, (name, line)
    assert report[-1].startswith("InvalidArgumentError: ") and "max_bytes" in report[-1]
    assert peak_kib * 1024 < 500 * 2**20, f"peak RSS {peak_kib / 1024:.0f} MiB"


# --- TOML configs ------------------------------------------------------------------------------


def _train(tmp_path: Path, *args: str) -> list[str]:
    return ["train", "--no-progress", "--backend", "numpy", "--out", str(tmp_path / "run"),
            *args]


@pytest.mark.parametrize(("text", "names"), [
    ("train = 5\n", ["{file}", "train must be a table; received int 5"]),
    ("recipe = 5\n", ["{file}", "recipe must be a string; received int 5"]),
    ('backend = ["torch"]\n', ["{file}", "backend must be a string; received list"]),
    ("out = 5\n", ["{file}", "out must be a string"]),
    ("steps = 2.5\n", ["{file}", "steps must be an int; received float 2.5"]),
    ("steps = true\n", ["{file}", "steps must be an int; received bool True"]),
    ("seed = 1e23\n", ["{file}", "seed must be an int; received float 1e+23"]),
    ("seed = 100000000000000000000000\n", ["'seed' must be an int in [0, 2**64 - 1]"]),
    ("compile = 1\n", ["{file}", "compile must be true or false"]),
    ("colour = 1\n", ["{file}", "config keys must be among", "received colour"]),
    ("[[[[\n", ["{file}", "is not valid TOML"]),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", ["{file}", "nests arrays or tables too deep"]),
    ("[architecture]\nbogus = 1\n", ["architecture 'dcgan' options must be among",
                                      "received bogus"]),
    ("[data]\nbogus = 1\n", ["dataset 'digits' options must be none; received bogus"]),
    ("[train]\ncolour = 1\n", ["training config keys must be among", "received colour"]),
    ("[train]\ngenerator_optimizer = 3\n",
     ["'generator_optimizer' must be an OptimizerConfig or a table of its settings: 3"]),
    ("[train]\nloss = 5\n", ["'loss' must be a non-empty str: 5"]),
])
def test_toml_files_of_the_wrong_types_are_one_clear_error(tmp_path: Path, text: str,
                                                           names: list[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text(text)
    _one_error(_train(tmp_path, "--config", str(config)),
               *(n.format(file=repr(str(config))) for n in names))


def test_unreadable_toml_files_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "binary.toml").write_bytes(b"\x00\xff\xfe\x00")
    with open(tmp_path / "huge.toml", "wb") as f:
        f.truncate(2 << 20)
    for name, message in (("binary.toml", "is not UTF-8 text"),
                          ("huge.toml", "must be at most 1048576 bytes"),
                          ("missing.toml", "config file not found")):
        _one_error(_train(tmp_path, "--config", str(tmp_path / name)), str(tmp_path / name),
                   message)
    _one_error(_train(tmp_path, "--config", str(tmp_path)), str(tmp_path),
               "must be a TOML file; received a folder")


#: Each top-level key and TOML values of another type than its own.
_WRONG = {
    **{k: ["5", "2.5", "true", "[1]", "{ a = 1 }"] for k in ("recipe", "backend", "out",
                                                            "device", "arch", "dataset")},
    **{k: ['"5"', "2.5", "true", "[1]", "{ a = 1 }", "1979-05-27"]
       for k in ("steps", "seed", "batch_size", "keep_checkpoints")},
    **{k: ["1", '"yes"', "[true]"] for k in ("compile", "overwrite")},
    **{k: ["5", '"x"', "[1, 2]", "true"] for k in ("train", "architecture", "data")},
}


@FUZZ
@given(key=st.sampled_from(sorted(_WRONG)), data=st.data())
def test_any_top_level_toml_key_of_the_wrong_type_is_one_clear_error(
    tmp_path: Path, key: str, data: st.DataObject
) -> None:
    value = data.draw(st.sampled_from(_WRONG[key]), label="value")
    config = tmp_path / "fuzz.toml"
    config.write_text(f"{key} = {value}\n")
    _one_error(_train(tmp_path, "--config", str(config)), str(config), f"{key} must be")
    assert not (tmp_path / "run").exists()


# --- command-line arguments -----------------------------------------------------------------


def _not_an_int_in(low: int, high: int | None) -> st.SearchStrategy[str]:
    """Texts that are not an int in [low, high]."""
    def valid(text: str) -> bool:
        try:
            value = int(text)
        except ValueError:
            return False
        return value >= low and (high is None or value <= high)

    words = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(max_value=low - 1).map(str),
        st.integers(min_value=(high or 2**64) + 1).map(str),
        st.text(max_size=8),
        st.sampled_from(["1e8", "1e23", "0x10", "", " ", "seven", "--", "-"]),
    )
    # "--" is argparse's end of options: `--seed=--` leaves the flag unset, argparse's choice.
    return words.filter(lambda text: not valid(text) and text != "--")


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize(("command", "flag", "low", "high"), [
    ("train", "--seed", 0, 2**64 - 1),
    ("train", "--steps", 1, None),
    ("train", "--batch-size", 1, None),
    ("sample", "--seed", 0, 2**64 - 1),
    ("sample", "--n", 1, None),
    ("sample", "--label", 0, None),
])
def test_integer_flags_refuse_anything_else_in_one_line(
    tmp_path: Path, command: str, flag: str, low: int, high: int | None, data: st.DataObject
) -> None:
    text = data.draw(_not_an_int_in(low, high), label="value")
    argv = (_train(tmp_path) if command == "train" else
            ["sample", "--checkpoint", str(tmp_path / "none"), "--out", str(tmp_path / "x.png")])
    _one_error([*argv, f"{flag}={text}"], f"argument {flag}")


@pytest.mark.parametrize(("args", "names"), [
    (["--dataset", "cifar10"], ["dataset 'cifar10' needs the option folder",
                                "pass --data PATH"]),
    (["--dataset", "image_folder"], ["dataset 'image_folder' needs the option root",
                                     "pass --data PATH"]),
    (["--dataset", "image_folder", "--data", "/nonexistent/gancore"],
     ["root must be an existing directory; received '/nonexistent/gancore'"]),
    (["--recipe", "nope"], ["recipe must be one of dcgan"]),
    (["--arch", "nope"], ["architecture 'nope' is not installed"]),
    (["--steps", "0"], ["argument --steps: must be an int >= 1; received '0'"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
])
def test_train_arguments_that_cannot_work_are_one_clear_error(
    tmp_path: Path, args: list[str], names: list[str]
) -> None:
    # (--backend numpy cannot train: every error here comes before training would start.)
    _one_error(_train(tmp_path, *args), *names)


def test_an_architecture_of_the_wrong_kind_for_the_recipe_is_one_clear_error(
    tmp_path: Path
) -> None:
    backend = _tiny_trainer().backend.name  # a backend that trains: the trainer refuses
    _one_error(["train", "--no-progress", "--backend", backend, "--out", str(tmp_path / "run"),
                "--recipe", "cyclegan", "--arch", "dcgan"],
               "architecture.kind must be 'cyclegan' for CycleGANTrainer; received 'gan'")


def test_an_unwritable_out_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run"
    _one_error(["train", "--no-progress", "--backend", "numpy", "--out", str(out)],
               "out must be a folder gancore can create and write", str(out))


def test_sample_arguments_that_cannot_work_are_one_clear_error(tiny: Path,
                                                               tmp_path: Path) -> None:
    out = str(tmp_path / "x.npy")
    _one_error(["sample", "--checkpoint", str(tiny), "--out", out, "--n", "1000000000"],
               "n must be at most 134217728 (max_bytes 2147483648 of samples and noise, 16 "
               "bytes a sample); received 1000000000")
    _one_error(["sample", "--checkpoint", str(tiny), "--out", out, "--seed", "-1"],
               "argument --seed: must be an int in [0, 18446744073709551615]; received '-1'")
    _one_error(["sample", "--checkpoint", str(tiny), "--out", out, "--label", "3"],
               "labels can only be given to a conditional model")
    (tmp_path / "file").write_text("")
    _one_error(["sample", "--checkpoint", str(tiny), "--out", str(tmp_path / "file" / "x.npy")],
               str(tmp_path / "file"))
    _one_error(["sample", "--out", out], "the following arguments are required: --checkpoint")
    _one_error([], "the following arguments are required: command")


def test_debug_shows_the_traceback_for_a_bug_report(tmp_path: Path) -> None:
    argv = ["--debug", *_train(tmp_path, "--dataset", "cifar10")]
    with pytest.raises(InvalidArgumentError, match="dataset 'cifar10' needs the option folder"):
        main(argv)
    result = subprocess.run([sys.executable, "-m", "gancore", *argv], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" in result.stderr
    result = subprocess.run([sys.executable, "-m", "gancore", *argv[1:]], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unexpected_exception_is_one_line_with_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gancore.cli as cli

    def broken(args: Any) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "_cmd_recipes", broken)
    status, _, err = run_cli(["recipes"])
    assert status == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("gancore: error: unexpected KeyError: 'a bug'")
    assert "--debug" in err
