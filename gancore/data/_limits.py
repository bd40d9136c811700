"""The resource limits of every file gancore reads, in one place.

A file is input: a few hundred bytes of gzip, pickle, PNG, zip or JSON can describe
gigabytes. Each reader checks what a file *declares* (a header's dimensions, a pickle's size
and structure, an image's pixel count, a zip member's size, a JSON document's size and
depth) against these limits before it allocates, and raises a gancore error naming the file
and the limit. The data loaders take the byte and pixel limits as keyword arguments
(`max_bytes`, `max_pixels`), `read_npy` takes `max_bytes`, and `load_checkpoint` takes a
`CheckpointLimits` (`gancore.training.CheckpointLimits`), all defaulting to these values.
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


#: Largest ``.npy`` payload (header-declared) `read_npy` will allocate: 1 GiB, as for IDX
#: files (50,000 samples of 32 x 32 x 3 float32 are 614 MB). Samples of `gancore eval` and
#: the images of `gancore sample --input` are read through it.
MAX_NPY_BYTES = 1 << 30

#: Largest payload of one ``.npz`` archive of a checkpoint (``arrays.npz`` or
#: ``state.npz``), summed over its members as their headers declare them: 2 GiB, e.g.
#: 500 million float32 weights, or their two Adam moments. The largest built-in network,
#: CycleGAN at 256 x 256, has about 11 million.
MAX_CHECKPOINT_BYTES = 2 << 30

#: Most members an ``.npz`` archive may list: 65,536 (a DCGAN's ``state.npz`` has about 50),
#: in a central directory of at most 8 MiB (numpy writes about 130 bytes a member). zipfile
#: parses the directory whole, a few hundred bytes of memory per entry, before anything
#: else can be checked: both are read from the archive's end record first.
MAX_NPZ_MEMBERS = 1 << 16
MAX_NPZ_DIRECTORY_BYTES = 8 << 20

#: Largest JSON file (``meta.json``, ``state.json``) a checkpoint may hold: 16 MiB. A
#: checkpoint's ``meta.json`` is a few KB; ``state.json`` grows with the logged history,
#: about 120 bytes a log line (100,000 lines: 12 MB).
MAX_JSON_BYTES = 16 << 20

#: Deepest nesting of arrays and objects in a checkpoint's JSON: 32 (gancore writes 8).
#: Parsing JSON nested a million deep overflows the interpreter's stack.
MAX_JSON_DEPTH = 32

#: Largest latent dimension a checkpoint may declare: 65,536 (StyleGAN's is 512). Sampling
#: draws ``n x latent_dim`` noise before any network runs.
MAX_LATENT_DIM = 1 << 16

#: Most values in one sample a checkpoint may declare (height x width x channels): 2**22,
#: e.g. 1024 x 1024 x 4. A native architecture's plugin builds its networks for it.
MAX_SAMPLE_VALUES = 1 << 22

#: Most classes a checkpoint may declare: 65,536.
MAX_CLASSES = 1 << 16

#: Most bytes of samples (and of the noise they are drawn from) `Checkpoint.sample` and
#: `gancore sample` make in one call: 2 GiB, e.g. 4 million 8 x 8 digits or 40,000 images
#: of 64 x 64 x 3.
MAX_SAMPLE_BYTES = 2 << 30

#: Largest TOML config file `gancore train --config` reads: 1 MiB.
MAX_CONFIG_BYTES = 1 << 20


def check_limit(value: Any, name: str) -> int:
    """Return `value` as an int if it is a positive int (a limit), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidArgumentError(f"{name} must be an int > 0; received {value!r}")
    return int(value)
