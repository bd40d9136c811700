"""CIFAR-10's "python version" batches, unpickled without running arbitrary code.

A pickle is a program. Before it runs, `_check_structure` walks its opcodes and refuses
one that is too long, nests too deep or uses opcodes a batch never needs; then an
unpickler whose only globals are checking stand-ins for numpy's array constructors runs
it. The limits are in `gancore.data._limits`.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import pickletools
from pathlib import Path
from typing import Any

import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.data._dataset import Dataset
from gancore.data._limits import (
    MAX_CIFAR_BYTES,
    MAX_PICKLE_DEPTH,
    MAX_PICKLE_OPCODES,
    check_limit,
)

CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_SPLIT_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
# The folder the official archive unpacks to; accepted as a child of the given folder.
_ARCHIVE_FOLDER = "cifar-10-batches-py"


# The opcodes a CIFAR-10 batch is written with (protocols 0 to 4): scalars, strings,
# lists, tuples, dicts, the memo, globals, REDUCE and BUILD. Sets (which hash their
# items), out-of-band buffers, extension codes and the object-building opcodes (INST,
# OBJ, NEWOBJ) are refused. Leaves push a value that holds no other value.
_LEAF_OPCODES = frozenset(
    {
        "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2",
        "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
        "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
        "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "GLOBAL",
    }
)  # fmt: skip
_ALLOWED_OPCODES = _LEAF_OPCODES | frozenset(
    {
        "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
        "EMPTY_LIST", "LIST", "APPEND", "APPENDS",
        "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
        "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
        "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
        "STACK_GLOBAL", "REDUCE", "BUILD",
    }
)  # fmt: skip


# A batch is one dict of 4 or 5 entries; thousands of keys would only serve keys that
# share a hash (ints k * (2**61 - 1)), whose insertions take quadratic time.
_MAX_DICT_ENTRIES = 1000


class _Node:
    """A value on the simulated unpickling stack: how deeply it nests containers."""

    __slots__ = ("depth",)

    def __init__(self, depth: int) -> None:
        self.depth = depth


def _check_structure(raw: bytes, max_opcodes: int, max_depth: int) -> None:
    """Walk the pickle's opcodes, building nothing, and refuse what would build too much.

    At most `max_opcodes` opcodes (each can create an object: the count bounds the memory
    a small file can claim) and containers nested at most `max_depth` deep (hashing a
    tuple nested a million deep, as a dict key, overflows the interpreter's C stack).
    Dicts may hold at most `_MAX_DICT_ENTRIES` entries in all (keys that share a hash make
    each insertion scan the others: quadratic time). Memo indices must be at most the
    number of opcodes read (the unpickler allocates its
    memo up to the largest index). The stack is simulated as the unpickler runs it; a
    value fetched from the memo is the same node, so sharing cannot hide the depth of a
    tuple. Raises `InvalidArgumentError` for a limit, `pickle.UnpicklingError` for a
    malformed pickle.
    """
    stack: list[_Node] = []
    marks: list[int] = []  # the stack length at each open MARK
    memo: dict[Any, _Node] = {}
    entries = 0  # dict entries set, in all dicts

    def fence() -> int:
        return marks[-1] if marks else 0

    def pop() -> _Node:
        if len(stack) <= fence():
            raise pickle.UnpicklingError("unpickling stack underflow")
        return stack.pop()

    def top() -> _Node:
        if len(stack) <= fence():
            raise pickle.UnpicklingError("unpickling stack underflow")
        return stack[-1]

    def pop_to_mark() -> list[_Node]:
        if not marks:
            raise pickle.UnpicklingError("could not find MARK")
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def holding(items: list[_Node]) -> int:
        return 1 + max((item.depth for item in items), default=0)

    try:
        for count, (opcode, arg, pos) in enumerate(pickletools.genops(raw), start=1):
            if count > max_opcodes:
                raise InvalidArgumentError(
                    f"a CIFAR-10 batch may hold at most {max_opcodes} pickle opcodes "
                    "(a real one has about 40,000); received more"
                )
            name = opcode.name
            if name not in _ALLOWED_OPCODES:
                raise InvalidArgumentError(
                    f"refusing the pickle opcode {name} at byte {pos}: a CIFAR-10 batch "
                    "is written with scalars, strings, lists, tuples, dicts and numpy arrays"
                )
            node = None
            if name in _LEAF_OPCODES:
                stack.append(_Node(0))
            elif name in ("EMPTY_LIST", "EMPTY_TUPLE", "EMPTY_DICT"):
                stack.append(_Node(1))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                items = [pop() for _ in range(int(name[-1]))]
                node = _Node(holding(items))
                stack.append(node)
            elif name in ("TUPLE", "LIST", "DICT"):
                items = pop_to_mark()
                entries += len(items) // 2 if name == "DICT" else 0
                node = _Node(holding(items))
                stack.append(node)
            elif name in ("APPEND", "BUILD"):  # BUILD: the object holds its state
                items = [pop()]
                node = top()
                node.depth = max(node.depth, holding(items))
            elif name == "SETITEM":
                items = [pop(), pop()]
                entries += 1
                node = top()
                node.depth = max(node.depth, holding(items))
            elif name in ("APPENDS", "SETITEMS"):
                items = pop_to_mark()
                entries += len(items) // 2 if name == "SETITEMS" else 0
                node = top()
                node.depth = max(node.depth, holding(items))
            elif name == "REDUCE":
                args = pop()
                pop()
                node = _Node(args.depth)  # what a call returns may hold its arguments
                stack.append(node)
            elif name == "STACK_GLOBAL":
                pop()
                pop()
                stack.append(_Node(0))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                # The C unpickler sizes its memo by the largest index: a 10-byte pickle
                # putting at index 2**31 claims 32 GB. A pickler numbers puts from 0.
                if not isinstance(arg, int) or not 0 <= arg <= count:
                    raise InvalidArgumentError(
                        f"a CIFAR-10 batch may only store memo entries numbered from 0 up; "
                        f"received index {arg} at byte {pos}, after {count} opcodes"
                    )
                memo[arg] = top()
            elif name == "MEMOIZE":
                memo[len(memo)] = top()
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise pickle.UnpicklingError(f"memo key {arg!r} has not been stored")
                stack.append(memo[arg])
            elif name == "DUP":
                stack.append(top())
            elif name == "POP":
                if marks and marks[-1] == len(stack):
                    marks.pop()
                else:
                    pop()
            elif name == "POP_MARK":
                pop_to_mark()
            elif name == "MARK":
                marks.append(len(stack))
            # PROTO, FRAME and STOP change nothing on the stack.
            if entries > _MAX_DICT_ENTRIES:
                raise InvalidArgumentError(
                    f"a CIFAR-10 batch's dicts may hold at most {_MAX_DICT_ENTRIES} entries in "
                    f"all (a real one has 4); received more at byte {pos}"
                )
            if node is not None and node.depth > max_depth:
                raise InvalidArgumentError(
                    f"a CIFAR-10 batch may nest containers at most {max_depth} deep (a real "
                    f"one needs 5); received deeper nesting at byte {pos}"
                )
    except (InvalidArgumentError, pickle.UnpicklingError):
        raise
    except Exception as e:  # genops: unknown opcode, truncated argument, bad text
        raise pickle.UnpicklingError(str(e)) from e


def _refuse(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{message}; a CIFAR-10 batch holds plain numpy arrays")


class _PendingArray:
    """What numpy's `_reconstruct` stands for: an empty array that BUILD fills.

    numpy's own `__setstate__` would trust the pickle's dtype flags and sizes; this one
    checks them and builds the array with `np.frombuffer` from the pickle's bytes.
    """

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        self.array = _array_from_state(state)


class _PendingDtype:
    """What `numpy.dtype(...)` stands for: a plain numeric dtype, byte order set by BUILD."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        # (version, byte order, subarray, names, fields, elsize, alignment, flags[, meta]):
        # only the byte order is taken; a plain dtype has no subarray, names or fields.
        order: Any = state[1] if isinstance(state, tuple) and len(state) >= 5 else None
        order = order.decode("ascii", "replace") if isinstance(order, bytes) else order
        if order not in ("<", ">", "|", "=") or state[2:5] != (None, None, None):
            raise _refuse(f"refusing the numpy dtype state {_describe(state)}")
        self.dtype = self.dtype if order == "|" else self.dtype.newbyteorder(order)


class _NdarrayName:
    """Stands for `numpy.ndarray` in a pickle: `_reconstruct`'s first argument, never
    called (calling `numpy.ndarray(shape)` would allocate any shape the pickle names)."""

    def __repr__(self) -> str:
        return "numpy.ndarray"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _refuse("refusing to call numpy.ndarray, which allocates any shape it is given")


_NDARRAY = _NdarrayName()


def _reconstruct(subtype: Any, shape: Any, _code: Any) -> _PendingArray:
    # numpy pickles every array as _reconstruct(ndarray, (0,), b'b') and then BUILD.
    if subtype is not _NDARRAY or not _is_shape(shape) or math.prod(shape) != 0:
        shown = shape if _is_shape(shape) else _describe(shape)
        raise _refuse(
            "refusing numpy's _reconstruct except as numpy writes it, with numpy.ndarray "
            f"and an empty shape such as (0,); received {_describe(subtype)} and {shown}"
        )
    return _PendingArray()


def _make_dtype(spec: Any, align: Any = False, copy: Any = False) -> _PendingDtype:
    spec = spec.decode("ascii", "replace") if isinstance(spec, bytes) else spec
    dtype = None
    if isinstance(spec, str) and len(spec) <= 8:
        with contextlib.suppress(TypeError, ValueError):  # not a dtype numpy knows
            dtype = np.dtype(spec)
    if dtype is None or dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype:
        shown = repr(spec) if isinstance(spec, str) and len(spec) <= 8 else _describe(spec)
        raise _refuse(f"refusing the numpy dtype {shown}: only bool, int, uint and float")
    return _PendingDtype(dtype)


def _is_shape(shape: Any) -> bool:
    return (
        isinstance(shape, tuple)
        and len(shape) <= 32
        and all(type(size) is int and size >= 0 for size in shape)
    )


def _array_from_state(state: Any) -> np.ndarray:
    # numpy's state: (version, shape, dtype, is_fortran, data), or the same without version.
    if isinstance(state, tuple) and len(state) == 5:
        state = state[1:]
    if not isinstance(state, tuple) or len(state) != 4:
        raise _refuse(f"refusing the numpy array state {_describe(state)}")
    shape, dtype, fortran, data = state
    if (
        not _is_shape(shape)
        or not isinstance(dtype, _PendingDtype)
        or type(fortran) not in (bool, int)
        or not isinstance(data, bytes)
    ):
        raise _refuse(
            "refusing a numpy array state that is not (shape, dtype, is_fortran, bytes); "
            f"received ({_describe(shape)}, {_describe(dtype)}, {_describe(fortran)}, "
            f"{_describe(data)})"
        )
    expected = math.prod(shape) * dtype.dtype.itemsize
    if len(data) != expected:
        raise _refuse(
            f"refusing a numpy array of shape {shape} and dtype {dtype.dtype}, which needs "
            f"{expected} bytes of data; received {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype.dtype).reshape(shape, order="F" if fortran else "C")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    # The official batches were pickled by numpy 1 under Python 2 (module numpy.core);
    # numpy 2 pickles name numpy._core. Both map to the checking stand-ins above, so the
    # deprecated numpy.core shim is never imported and numpy's own constructors never run.
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _make_dtype,
    }


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain containers, and nothing else.

    Unpickling calls whatever `find_class` returns; a pickle naming `os.system` would run a
    command. Only stand-ins for the callables that rebuild an ndarray are let through, and
    they check their arguments before anything is allocated.
    """

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[module, name]
        except KeyError:
            raise InvalidArgumentError(
                f"refusing to unpickle {module}.{name}: a CIFAR-10 batch may only hold numpy "
                "arrays, lists, bytes and numbers"
            ) from None


def _unpickle(path: Path, max_bytes: int) -> Any:
    where = f"CIFAR-10 file {str(path)!r}"
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            raw = b"" if size > max_bytes else file.read(max_bytes + 1)
    except OSError as e:
        raise InvalidArgumentError(f"cannot read {where}: {e}") from e
    if size > max_bytes or len(raw) > max_bytes:
        raise InvalidArgumentError(
            f"{where} is larger than max_bytes allows: it has {max(size, len(raw))} bytes; "
            f"max_bytes allows at most {max_bytes} (a real batch has 31 MB; pass a larger "
            "max_bytes to read it)"
        )
    try:
        _check_structure(raw, MAX_PICKLE_OPCODES, MAX_PICKLE_DEPTH)
        # encoding="bytes": the batches were written by Python 2, whose str keys are bytes.
        return _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"{where}: {e}") from None
    except Exception as e:  # a corrupt pickle can fail in many ways; all mean the same
        raise InvalidArgumentError(
            f"{where} is not a readable pickle: {type(e).__name__}: {e}"
        ) from e


def _unwrap(value: Any) -> Any:
    return value.array if isinstance(value, _PendingArray) else value


def _read_batch(path: Path, max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path, max_bytes)
    data = _unwrap(batch.get(b"data")) if isinstance(batch, dict) else None
    labels = _unwrap(batch.get(b"labels", [])) if isinstance(batch, dict) else None
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or (data.shape[1] != 3 * 32 * 32)
    ):
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(path)!r} must be a dict whose b'data' is uint8 of shape "
            f"(N, 3072); received {type(batch).__name__} with b'data' = {_describe(data)}"
        )
    label_array = _label_array(labels)
    if (
        isinstance(label_array, str)
        or label_array.shape != (len(data),)
        or not np.issubdtype(label_array.dtype, np.integer)
    ):
        received = label_array if isinstance(label_array, str) else _describe(label_array)
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(path)!r} must hold b'labels', {len(data)} integers; "
            f"received {received}"
        )
    if len(label_array) and (label_array.min() < 0 or label_array.max() >= 10):
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(path)!r}: labels must lie in [0, 10) for the 10 classes; "
            f"received values in [{label_array.min()}, {label_array.max()}]"
        )
    # Each row is one image, channel-major (CHW): 1024 red, then green, then blue values.
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    return images, label_array.astype(np.int64)


def _label_array(labels: Any) -> np.ndarray | str:
    """Labels as an array, or a description of why they are not flat integers.

    Only a flat list of ints is handed to numpy: `np.asarray` of a list whose items are
    one shared list, repeated, would copy out every repetition (a 62 KB pickle, 800 MB).
    """
    if isinstance(labels, np.ndarray):
        return labels
    if not isinstance(labels, list | tuple):
        return _describe(labels)
    for i, label in enumerate(labels):
        # type(...) is int: no bools, no nested lists.
        if type(label) is not int:
            return f"{_describe(labels)} whose item {i} is {_describe(label)}"
        if not -(2**63) <= label < 2**63:  # numpy would overflow
            return f"{_describe(labels)} whose item {i} is an int beyond int64"
    return np.asarray(labels)


def _describe(value: Any) -> str:
    # Never repr a value from the file: a pickle's shared lists can make a repr gigabytes.
    if isinstance(value, np.ndarray):
        return f"{value.dtype} of shape {value.shape}"
    if isinstance(value, _PendingArray):
        return "a numpy array without its data"
    if value is _NDARRAY:
        return "numpy.ndarray"
    if isinstance(value, list | tuple | dict | bytes | str):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__


def _class_names(folder: Path, max_bytes: int) -> tuple[str, ...]:
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        return CIFAR10_CLASS_NAMES
    meta = _unpickle(meta_path, max_bytes)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if (
        not isinstance(names, list)
        or len(names) != 10
        or not all(type(n) in (bytes, str) and 0 < len(n) <= 1000 for n in names)
    ):
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(meta_path)!r} must hold b'label_names', a list of 10 names "
            f"(bytes or str, 1 to 1000 characters); received {_describe_names(names)}"
        )
    try:
        return tuple(n.decode() if isinstance(n, bytes) else n for n in names)
    except UnicodeDecodeError as e:
        raise InvalidArgumentError(
            f"CIFAR-10 file {str(meta_path)!r} must hold b'label_names' in UTF-8; {e}"
        ) from None


def _describe_names(names: Any) -> str:
    if isinstance(names, list) and len(names) == 10:
        kinds = ", ".join(_describe(n) for n in names)
        return f"a list of {kinds}"
    return _describe(names)


def load_cifar10(
    folder: str | os.PathLike[str], split: str = "train", *, max_bytes: int = MAX_CIFAR_BYTES
) -> Dataset:
    """CIFAR-10 from its "python version" batches: (N, 32, 32, 3) in `[-1, 1]`, 10 classes.

    `folder` holds `data_batch_1` ... `data_batch_5` (`split="train"`) or `test_batch`
    (`split="test"`), or is the folder that contains `cifar-10-batches-py`. Class names
    come from `batches.meta` when present. Nothing is downloaded.

    The pickles are read by an unpickler that rebuilds numpy arrays only; anything else in
    them raises `InvalidArgumentError` (a `GancoreError`) instead of being executed. Each
    file may have at most `max_bytes` bytes (default `MAX_CIFAR_BYTES`, 256 MiB; a real
    batch has 31 MB), at most `MAX_PICKLE_OPCODES` (1,000,000) opcodes and containers
    nested at most `MAX_PICKLE_DEPTH` (32) deep, all checked before anything is built.
    A batch must hold b'data', uint8 of shape (N, 3072), and b'labels', N ints in [0, 10).
    """
    max_bytes = check_limit(max_bytes, "max_bytes")
    if split not in _SPLIT_FILES:
        raise InvalidArgumentError(f"split must be one of 'train', 'test'; received {split!r}")
    root = Path(folder)
    if (root / _ARCHIVE_FOLDER).is_dir():
        root = root / _ARCHIVE_FOLDER
    paths = [root / file_name for file_name in _SPLIT_FILES[split]]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise InvalidArgumentError(
            f"folder {str(folder)!r} must contain the CIFAR-10 {split} batches "
            f"{', '.join(_SPLIT_FILES[split])}; missing: {', '.join(missing)}"
        )
    batches = [_read_batch(path, max_bytes) for path in paths]
    # In place: one float32 copy of the images, not three.
    images = np.concatenate([images for images, _ in batches]).astype(np.float32)
    images /= 127.5
    images -= 1.0
    return Dataset(
        name="cifar10",
        images=images,
        labels=np.concatenate([labels for _, labels in batches]),
        num_classes=10,
        class_names=_class_names(root, max_bytes),
    )
