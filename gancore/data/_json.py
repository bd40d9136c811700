"""JSON files from strangers: bounded in size and nesting before they are parsed.

`json.loads` of a file of any size holds all of it, and of arrays nested deep enough it
overflows the interpreter's stack. `read_json` refuses a file larger than its limit from
its size on disk, text that is not UTF-8, and nesting deeper than its limit (counted on the
text with the strings taken out, before parsing); the caller then checks the structure.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from gancore._errors import GancoreError, InvalidArgumentError
from gancore.data._limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, check_limit

__all__ = ["read_json"]

# A JSON string: quotes around anything but quotes and backslashes, or escapes.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_PIECE = 1 << 20


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file",
              max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH,
              error: type[GancoreError] = InvalidArgumentError) -> Any:
    """The value in the JSON file `path`: at most `max_bytes` long, UTF-8, nested at most
    `max_depth` deep; anything else raises `error` naming the file."""
    max_bytes = check_limit(max_bytes, "max_bytes")
    max_depth = check_limit(max_depth, "max_depth")
    name = f"{what} {str(path)!r}"
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise error(f"{name} is {size} bytes, more than max_bytes allows "
                            f"({max_bytes} bytes)")
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{name} does not exist") from None
    except OSError as e:
        raise error(f"{name} cannot be read: {e.strerror or e}") from None
    if len(raw) > max_bytes:  # it grew since it was measured
        raise error(f"{name} is more than max_bytes allows ({max_bytes} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{name} is not UTF-8 text (a binary file?): {e}") from None
    depth = _depth(raw)
    if depth > max_depth:
        raise error(f"{name} nests arrays and objects {depth} deep, deeper than max_depth "
                    f"allows ({max_depth})")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise error(f"{name} is not valid JSON: {e}") from None


def _depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings (counted a piece at a time)."""
    text = _STRING.sub(b'""', raw)
    level = deepest = 0
    for start in range(0, len(text), _PIECE):
        codes = np.frombuffer(text, np.uint8, count=min(_PIECE, len(text) - start),
                              offset=start)
        delta = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int32)
        delta -= (codes == ord("]")) | (codes == ord("}"))
        running = level + np.cumsum(delta)
        deepest = max(deepest, int(running.max()))
        level = int(running[-1])
    return deepest
