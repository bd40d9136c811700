"""An image folder: one sub-folder per class, images of any common format inside."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore._errors import GancoreError, InvalidArgumentError
from gancore.data._dataset import Dataset
from gancore.data._limits import MAX_IMAGE_PIXELS, check_limit
from gancore.data._resize import check_size, resize_images
from gancore.data._streaming import StreamingDataset

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_PIL_MODES = {1: "L", 3: "RGB"}
# The Pillow formats of IMAGE_SUFFIXES. Pillow recognises a file by its content, not its
# name; naming the formats keeps out the ones that decode another size than their header
# declares (ICO, ICNS) and the many exotic decoders.
_PIL_FORMATS = ("BMP", "GIF", "JPEG", "PNG", "PPM", "TIFF", "WEBP")


@functools.cache
def _formats(image_module: Any) -> tuple[str, ...]:
    # Those of this Pillow build (WEBP needs libwebp); init() registers every plugin.
    image_module.init()
    return tuple(name for name in _PIL_FORMATS if name in image_module.OPEN)


def _import_pillow() -> Any:
    try:
        # Imported here, not at module level: `import gancore.data` must stay light.
        from PIL import Image
    except ImportError as e:
        raise GancoreError(
            "load_image_folder needs Pillow, which is not installed: pip install pillow"
        ) from e
    return Image


def _read_image(
    image_module: Any, path: Path, mode: str, max_pixels: int = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """One image file as (H, W, C) float32 in `[-1, 1]`, C = 1 (`mode="L"`) or 3 ("RGB").

    The pixel count is read from the header and checked against `max_pixels` before
    anything is decoded. 8-bit images are converted by Pillow and mapped as
    `x / 127.5 - 1`. Single-channel images of more depth are scaled by their real range
    (greyscale, replicated to RGB for `mode="RGB"`): 16-bit integers ("I;16", and "I",
    which must then hold values in [0, 65535]) by 65535; 32-bit floats ("F") must be finite
    and in [0, 1]. Any problem raises `InvalidArgumentError` naming the file.
    """
    where = f"image {str(path)!r}"
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 megapixels on; max_pixels is checked just below.
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            image = image_module.open(path, formats=_formats(image_module))
    except image_module.DecompressionBombError as e:
        raise InvalidArgumentError(
            f"{where} has more pixels than Pillow allows: {e} (to read it, raise "
            "PIL.Image.MAX_IMAGE_PIXELS as well as max_pixels)"
        ) from None
    except Exception as e:  # a corrupt file can fail in many ways; all mean the same
        raise InvalidArgumentError(f"cannot read {where}: {type(e).__name__}: {e}") from e
    with image:
        _check_pixels(image.size, max_pixels, where)
        try:
            image.load()
            _check_pixels(image.size, max_pixels, where)  # a decoder may change the size
            if image.mode == "F" or image.mode.startswith("I"):
                values = np.asarray(image)
            else:
                values = np.array(image.convert(mode), dtype=np.float32)
        except InvalidArgumentError:
            raise
        except Exception as e:
            raise InvalidArgumentError(f"cannot read {where}: {type(e).__name__}: {e}") from e
        source_mode = image.mode
    if source_mode == "F" or source_mode.startswith("I"):
        pixels = _scale_deep(values, source_mode, where)
        if mode == "RGB":
            pixels = np.repeat(pixels, 3, axis=-1)
        return pixels
    # In place: one float32 array, no temporaries of its size.
    values /= 127.5
    values -= 1.0
    # Greyscale comes back (H, W); give it the channel axis NHWC needs.
    return values.reshape(values.shape[0], values.shape[1], -1)


def _check_pixels(size: tuple[int, int], max_pixels: int, where: str) -> None:
    width, height = size
    if not 0 < width * height <= max_pixels:
        raise InvalidArgumentError(
            f"{where} must have between 1 and max_pixels={max_pixels} pixels; received "
            f"{width} x {height} = {width * height} (pass a larger max_pixels to read it)"
        )


def _scale_deep(values: np.ndarray, mode: str, where: str) -> np.ndarray:
    """A single-channel image of more than 8 bits, (H, W), as (H, W, 1) in `[-1, 1]`."""
    if values.ndim != 2:
        raise InvalidArgumentError(
            f"{where} in mode {mode!r} must have one channel; received shape {values.shape}"
        )
    if mode == "F":
        finite = np.isfinite(values)
        if not finite.all():
            raise InvalidArgumentError(
                f"{where} must hold finite values; received {values.size - int(finite.sum())} "
                f"nan or inf pixels among {values.size}"
            )
        low, high, top = float(values.min()), float(values.max()), 1.0
    else:
        low, high, top = int(values.min()), int(values.max()), 65535
    if low < 0 or high > top:
        kind = "a float image (mode 'F')" if mode == "F" else f"a 16-bit image (mode {mode!r})"
        raise InvalidArgumentError(
            f"{where} is {kind}, whose values must lie in [0, {top:g}]; received values in "
            f"[{low:g}, {high:g}]"
        )
    # top / 2 is exact in float32 (32767.5, 0.5): 0 and top map to -1 and 1 exactly, and
    # a 16-bit 257 * k to the same float as the 8-bit k (k / 127.5 - 1).
    pixels = values.astype(np.float32)
    pixels /= top / 2
    pixels -= 1.0
    return pixels[..., np.newaxis]


def _scan(root: str | os.PathLike[str]) -> tuple[Path, list[Path], list[Path], list[int]]:
    """The folder, its class folders (sorted, hidden ones skipped), and every image file
    (sorted within its class) with its class index."""
    folder = Path(root)
    if not folder.is_dir():
        raise InvalidArgumentError(f"root must be an existing directory; received {str(root)!r}")
    class_dirs = sorted(
        (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.name,
    )
    if not class_dirs:
        raise InvalidArgumentError(
            f"root must contain one sub-folder per class; {str(folder)!r} has none"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        found = sorted(
            f for f in class_dir.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise InvalidArgumentError(
                f"class folder {str(class_dir)!r} must hold at least one image "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}); it holds none"
            )
        files += found
        labels += [label] * len(found)
    return folder, class_dirs, files, labels


def load_image_files(
    root: str | os.PathLike[str],
    size: Sequence[int] = (128, 128),
    channels: int = 3,
    name: str | None = None,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    stream: bool = False,
) -> Dataset | StreamingDataset:
    """Load every image of a folder (`root/<image>`, as CycleGAN's ``trainA`` / ``trainB``
    hold them; sub-folders' images too, sorted) as an unlabelled `Dataset`: read, checked,
    converted and resized as `load_image_folder` does them, with the same limits."""
    height, width = check_size(size)
    max_pixels = check_limit(max_pixels, "max_pixels")
    if isinstance(channels, bool) or channels not in _PIL_MODES:
        raise InvalidArgumentError(f"channels must be 1 or 3; received {channels!r}")
    folder = Path(root)
    if not folder.is_dir():
        raise InvalidArgumentError(f"root must be an existing directory; received {str(root)!r}")
    files = sorted(f for f in folder.rglob("*") if f.is_file()
                   and f.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in f.relative_to(folder).parts))
    if not files:
        raise InvalidArgumentError(
            f"root must hold at least one image ({', '.join(sorted(IMAGE_SUFFIXES))}); "
            f"{str(folder)!r} holds none"
        )
    _import_pillow()
    reader = FolderReader(tuple(files), (height, width), _PIL_MODES[channels], max_pixels)
    dataset = StreamingDataset(name=name or folder.name, reader=reader, labels=None,
                               num_classes=None, class_names=None)
    return dataset if stream else dataset.load()


@attrs.frozen(eq=False)
class FolderReader:
    """Image files decoded when read: Pillow, the `mode` ("L" or "RGB"), resized to `size`
    as `load_image_folder` does (the same limits and errors, raised when a file is read)."""

    files: tuple[Path, ...]
    size: tuple[int, int]
    mode: str
    max_pixels: int

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample, `(height, width, channels)`."""
        return (*self.size, 3 if self.mode == "RGB" else 1)

    def __len__(self) -> int:
        return len(self.files)

    def read(self, index: np.ndarray) -> np.ndarray:
        """The images at `index`, decoded now."""
        image_module = _import_pillow()
        out = np.empty((len(index), *self.shape), np.float32)
        for row, i in enumerate(index):
            out[row] = _decode(image_module, self.files[i], self.mode, self.size,
                               self.max_pixels)
        return out

    def content(self) -> Iterator[bytes]:
        """Each file's path (relative to the root's parent) and bytes, in order."""
        for file in self.files:
            yield f"{file.parent.name}/{file.name}".encode()
            try:
                yield file.read_bytes()
            except OSError as e:
                raise InvalidArgumentError(f"cannot read image {str(file)!r}: {e}") from e


def _decode(image_module: Any, file: Path, mode: str, size: tuple[int, int],
            max_pixels: int) -> np.ndarray:
    pixels = _read_image(image_module, file, mode, max_pixels)
    return resize_images(pixels[np.newaxis], size)[0]


def load_image_folder(
    root: str | os.PathLike[str],
    size: Sequence[int] = (64, 64),
    channels: int = 3,
    name: str | None = None,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    stream: bool = False,
) -> Dataset | StreamingDataset:
    """Load `root/<class name>/<image>` files as a labelled `Dataset`.

    The sub-folder names, sorted, are the class names (hidden folders are skipped); each
    must hold at least one image (suffixes in `IMAGE_SUFFIXES`, any case). Images are read
    with Pillow, converted to RGB (`channels=3`) or greyscale (`channels=1`), and resized
    to `size = (height, width)` with `resize_images` (bilinear, antialiased when
    shrinking): (N, height, width, channels) in `[-1, 1]`. `name` defaults to the folder's
    name. Needs Pillow.

    An image may have at most `max_pixels` pixels (default `MAX_IMAGE_PIXELS`, 2**26, e.g.
    8192 x 8192; decoding costs about 20 bytes per pixel), read from its header before it
    is decoded. 16-bit greyscale images are scaled by 65535 and float images ("F") must
    hold finite values in [0, 1]. A file that cannot be decoded, or breaks a limit, raises
    `InvalidArgumentError` naming it.

    With `stream`, only the file list is read now: a `StreamingDataset` decodes each
    batch's images when the batch is drawn (a broken file raises the same error then),
    and its batches equal those of the in-memory dataset.
    """
    height, width = check_size(size)
    max_pixels = check_limit(max_pixels, "max_pixels")
    if isinstance(channels, bool) or channels not in _PIL_MODES:
        raise InvalidArgumentError(f"channels must be 1 or 3; received {channels!r}")
    folder, class_dirs, files, labels = _scan(root)
    _import_pillow()  # a missing Pillow is reported now, not at the first batch
    reader = FolderReader(tuple(files), (height, width), _PIL_MODES[channels], max_pixels)
    dataset = StreamingDataset(
        name=name or folder.name,
        reader=reader,
        labels=np.asarray(labels, dtype=np.int64),
        num_classes=len(class_dirs),
        class_names=tuple(d.name for d in class_dirs),
    )
    # One decoding path: in memory, every sample read through the streaming reader.
    return dataset if stream else dataset.load()
