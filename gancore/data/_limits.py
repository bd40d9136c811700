"""The resource limits of the file loaders, in one place.

A data file is input: a few hundred bytes of gzip, pickle or PNG can describe gigabytes.
Each loader checks what a file *declares* (a header's dimensions, a pickle's size and
structure, an image's pixel count) against these limits before it allocates, and raises
`InvalidArgumentError` naming the file and the limit. The public loaders take the byte and
pixel limits as keyword arguments (`max_bytes`, `max_pixels`), defaulting to these values.
"""

from __future__ import annotations

import numbers
from typing import Any

from gancore._errors import InvalidArgumentError

#: Largest IDX payload (header-declared, after decompression) `read_idx` will allocate:
#: 1 GiB. MNIST's train images are 47 MB, EMNIST's largest split 547 MB.
MAX_IDX_BYTES = 1 << 30

#: Largest CIFAR-10 batch file `load_cifar10` will read: 256 MiB (a real batch is 31 MB).
MAX_CIFAR_BYTES = 256 << 20

#: Most pickle opcodes a CIFAR-10 file may hold: 1,000,000 (a real batch has about 40,000).
#: Every opcode can build a Python object; this bounds how many a small file can create.
MAX_PICKLE_OPCODES = 1_000_000

#: Deepest nesting of containers a CIFAR-10 pickle may build: 32 (a real batch needs 5).
#: Hashing a tuple nested a million deep overflows the C stack of the interpreter.
MAX_PICKLE_DEPTH = 32

#: Most pixels (width * height) an image may have in `load_image_folder`: 2**26, e.g.
#: 8192 x 8192. Decoding costs about 20 bytes per pixel (about 1.3 GB at the limit).
MAX_IMAGE_PIXELS = 1 << 26


def check_limit(value: Any, name: str) -> int:
    """Return `value` as an int if it is a positive int (a limit), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidArgumentError(f"{name} must be an int > 0; received {value!r}")
    return int(value)
