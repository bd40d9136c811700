"""``.npy`` files and ``.npz`` archives from strangers: every header is checked before a byte
of data is allocated, and no pickle is ever loaded.

`np.load` trusts a file: a zip member that inflates to gigabytes is inflated, a header's
shape is allocated as declared, and a mismatch surfaces as a numpy or zipfile exception. Here
the ``.npy`` header (`numpy.lib.format`) is read first, from the file or from the zip member's
stream, and checked for its dtype (plain numbers of the kinds the caller allows, never
objects or records), its shape (by the caller, against what it expects) and its byte size
(against the file's or the zip's declared size, and the limit). An archive's member count is
and the size of its central directory are read from its end record before zipfile parses
that directory. The data is then read
in bounded pieces into an array of the declared size: a stream that ends early, runs on, or
fails its CRC is an error naming the file. Arrays of the other byte order are converted to
the native one (a lossless copy); nothing else is converted.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from gancore._errors import GancoreError, InvalidArgumentError
from gancore.data._limits import (
    MAX_NPY_BYTES,
    MAX_NPZ_DIRECTORY_BYTES,
    MAX_NPZ_MEMBERS,
    check_limit,
)

__all__ = ["ArrayCheck", "map_npy", "read_npy", "read_npz"]

#: `check(name, shape, dtype)` raises (or returns None) once a header is read, before data.
ArrayCheck = Callable[[str, tuple[int, ...], np.dtype], None]

_CHUNK = 16 << 20
_KIND_NAMES = {"b": "bool", "i": "signed int", "u": "unsigned int", "f": "float",
               "c": "complex"}
#: The end-of-central-directory record, and zip64's end record and its locator.
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


class _Refused(Exception):
    """Raised inside the readers; turned into the caller's error with the file's name."""


def _header(stream: IO[bytes], kinds: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, header bytes) of the ``.npy`` data at `stream`."""
    try:
        major, minor = npy_format.read_magic(stream)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif (major, minor) in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise _Refused(f"has .npy format version {major}.{minor}; 1.0 to 3.0 are read")
    except (_Refused, zipfile.BadZipFile, zlib.error):  # the zip's own errors are reported
        raise
    except Exception as e:  # numpy parses the header's text: ValueError, SyntaxError, ...
        raise _Refused(f"has no valid .npy header ({type(e).__name__}: {e})") from None
    header_bytes = stream.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise _Refused(f"holds {dtype} values (objects or records, which would need pickle); "
                       f"only plain numbers are read")
    if dtype.kind not in kinds:
        allowed = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise _Refused(f"must hold {allowed} values; received {dtype}")
    return tuple(int(d) for d in shape), bool(fortran), dtype, header_bytes


def _read_data(stream: IO[bytes], shape: tuple[int, ...], fortran: bool,
               dtype: np.dtype) -> np.ndarray:
    """The array's data from `stream`, in pieces, into one array of the declared size."""
    count = math.prod(shape)
    flat = np.empty(count, dtype=dtype)
    buffer = flat.view(np.uint8)
    done = 0
    while done < buffer.size:
        piece = stream.read(min(_CHUNK, buffer.size - done))
        if not piece:
            raise _Refused(f"is truncated: its header declares {buffer.size} data bytes, "
                           f"the data ends after {done}")
        buffer[done:done + len(piece)] = np.frombuffer(piece, np.uint8)
        done += len(piece)
    if stream.read(1):
        raise _Refused(f"holds more data than its header declares ({buffer.size} bytes)")
    array = flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _check_size(shape: tuple[int, ...], dtype: np.dtype, budget: int, limit_name: str,
                limit: int) -> int:
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if nbytes > budget:
        raise _Refused(f"declares {dtype} of shape {shape}, {nbytes} bytes, more than "
                       f"{limit_name} allows ({limit} bytes)")
    return nbytes


def read_npy(path: str | os.PathLike[str], *, kinds: str = "f", ndim: tuple[int, ...] = (),
             max_bytes: int = MAX_NPY_BYTES, check: ArrayCheck | None = None,
             what: str = ".npy file",
             error: type[GancoreError] = InvalidArgumentError) -> np.ndarray:
    """The array in the ``.npy`` file `path`, after checking its header: values of the dtype
    kinds `kinds` (numpy's letters: ``"f"`` floats, ``"iu"`` integers, ...), a rank among
    `ndim` (any if empty), what `check(name, shape, dtype)` accepts, at most `max_bytes` of
    data, and exactly as many bytes in the file as the header declares. Anything else
    raises `error` naming the file."""
    max_bytes = check_limit(max_bytes, "max_bytes")
    with _refusals(path, what, error), open(path, "rb") as f:
        shape, fortran, dtype, _ = _file_header(f, path, kinds, ndim, check)
        _check_size(shape, dtype, max_bytes, "max_bytes", max_bytes)
        return _read_data(f, shape, fortran, dtype)


def map_npy(path: str | os.PathLike[str], *, kinds: str = "f", ndim: tuple[int, ...] = (),
            max_bytes: int = MAX_NPY_BYTES, check: ArrayCheck | None = None,
            what: str = ".npy file",
            error: type[GancoreError] = InvalidArgumentError) -> np.ndarray:
    """The array in the ``.npy`` file `path` as a read-only memory map (values read from
    disk when indexed), after the header checks of `read_npy`; `max_bytes` bounds the
    declared payload as there. Values keep the file's byte order."""
    max_bytes = check_limit(max_bytes, "max_bytes")
    with _refusals(path, what, error), open(path, "rb") as f:
        shape, fortran, dtype, header_bytes = _file_header(f, path, kinds, ndim, check)
        _check_size(shape, dtype, max_bytes, "max_bytes", max_bytes)
        if math.prod(shape) == 0:  # an empty file region cannot be mapped
            return np.zeros(shape, dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=header_bytes, shape=shape,
                         order="F" if fortran else "C")


def _file_header(f: IO[bytes], path: str | os.PathLike[str], kinds: str,
                 ndim: tuple[int, ...], check: ArrayCheck | None
                 ) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """The checked header of the open ``.npy`` file `f`: its size must be the header's."""
    shape, fortran, dtype, header_bytes = _header(f, kinds)
    if ndim and len(shape) not in ndim:
        ranks = " or ".join(map(str, ndim))
        raise _Refused(f"must hold an array of rank {ranks}; received shape {shape}")
    if check is not None:
        check(str(path), shape, dtype)
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    size = os.fstat(f.fileno()).st_size
    if size != header_bytes + nbytes:
        state = "is truncated" if size < header_bytes + nbytes else "runs on"
        raise _Refused(f"{state}: its header declares {dtype} of shape {shape} "
                       f"({nbytes} bytes), the file holds {size - header_bytes}")
    return shape, fortran, dtype, header_bytes


@contextlib.contextmanager
def _refusals(path: str | os.PathLike[str], what: str,
              error: type[GancoreError]) -> Iterator[None]:
    """What reading the ``.npy`` file `path` refuses, as one `error` naming it."""
    name = f"{what} {str(path)!r}"
    try:
        yield
    except _Refused as e:
        raise error(f"{name} {e}") from None
    except GancoreError as e:  # from `check`: it names what it expected
        raise error(f"{name}: {e}") from None
    except FileNotFoundError:
        raise error(f"{name} does not exist") from None
    except OSError as e:
        raise error(f"{name} cannot be read: {e.strerror or e}") from None


def _directory(f: IO[bytes], size: int) -> tuple[int, int]:
    """How many members the zip's end record declares, and the size of its central
    directory (zip64's when it has one), read from the file's last bytes before zipfile
    parses anything."""
    f.seek(max(0, size - (_EOCD.size + 0xFFFF)))
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise _Refused("is not a zip archive (no end of central directory record; the file "
                       "is empty, truncated or of another format)")
    fields = _EOCD.unpack_from(tail, at)
    count, directory = fields[4], fields[5]
    if (count == 0xFFFF or directory == 0xFFFFFFFF) and at >= _ZIP64_LOCATOR.size:
        locator = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
        if locator[0] == b"PK\x06\x07" and locator[2] + _ZIP64_EOCD.size <= size:
            f.seek(locator[2])
            record = f.read(_ZIP64_EOCD.size)
            if record[:4] == b"PK\x06\x06":
                count, directory = _ZIP64_EOCD.unpack(record)[7:9]
    return int(count), int(directory)


def read_npz(path: str | os.PathLike[str], *, max_bytes: int, check: ArrayCheck | None = None,
             kinds: str = "biuf", what: str = ".npz archive",
             error: type[GancoreError] = InvalidArgumentError,
             limit_name: str = "max_bytes") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive `path` by name (the member's name without
    ``.npy``), each checked before its data is read: by `check(name, shape, dtype)`, for
    its dtype kind (`kinds`), for a size that agrees with the zip's declared one, and with
    all the arrays together at most `max_bytes` (`limit_name` names that limit in the
    message). Members are stored or deflated (``np.savez``, ``np.savez_compressed``);
    anything else, or an archive of more than `MAX_NPZ_MEMBERS` members, raises `error`
    naming the file and the member."""
    max_bytes = check_limit(max_bytes, limit_name)
    name = f"{what} {str(path)!r}"
    member = ""
    arrays: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as f:
            count, directory = _directory(f, os.fstat(f.fileno()).st_size)
            if count > MAX_NPZ_MEMBERS or directory > MAX_NPZ_DIRECTORY_BYTES:
                raise _Refused(f"lists {count} members in a central directory of {directory} "
                               f"bytes, more than the {MAX_NPZ_MEMBERS} members and "
                               f"{MAX_NPZ_DIRECTORY_BYTES} bytes an archive may have")
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                infos = archive.infolist()
                if len(infos) > MAX_NPZ_MEMBERS:
                    raise _Refused(f"lists {len(infos)} members, more than the "
                                   f"{MAX_NPZ_MEMBERS} an archive may hold")
                budget = max_bytes
                for info in infos:
                    member = info.filename
                    key = _member_key(info, arrays)
                    with archive.open(info) as stream:
                        shape, fortran, dtype, header_bytes = _header(stream, kinds)
                        if check is not None:
                            check(key, shape, dtype)
                        nbytes = _check_size(shape, dtype, budget, limit_name, max_bytes)
                        if info.file_size != header_bytes + nbytes:
                            raise _Refused(
                                f"declares {dtype} of shape {shape} ({nbytes} bytes) in its "
                                f"header, but the zip declares {info.file_size - header_bytes}"
                                f" data bytes")
                        budget -= nbytes
                        arrays[key] = _read_data(stream, shape, fortran, dtype)
                member = ""
    except _Refused as e:
        where = f" member {member!r}" if member else ""
        raise error(f"{name}{where} {e}") from None
    except GancoreError as e:  # from `check`: it names what it expected
        where = f" member {member!r}" if member else ""
        raise error(f"{name}{where}: {e}") from None
    except FileNotFoundError:
        raise error(f"{name} does not exist") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            ValueError, NotImplementedError, RuntimeError) as e:
        # zipfile's own: truncated data, a bad CRC, encryption, an unknown compression.
        where = f" member {member!r}" if member else ""
        raise error(f"{name}{where} is not a readable zip archive: {type(e).__name__}: {e}"
                    ) from None
    return arrays


def _member_key(info: zipfile.ZipInfo, seen: dict[str, Any]) -> str:
    if info.flag_bits & 0x1:
        raise _Refused("is encrypted; checkpoints are plain zip archives")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Refused(f"uses zip compression method {info.compress_type}; only stored and "
                       f"deflated members (np.savez, np.savez_compressed) are read")
    if not info.filename.endswith(".npy"):
        raise _Refused("is not a .npy array")
    key = info.filename[: -len(".npy")]
    if key in seen:
        raise _Refused("is listed twice")
    return key
