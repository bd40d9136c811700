"""An image folder: one sub-folder per class, images of any common format inside."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gancore._errors import GancoreError, InvalidArgumentError
from gancore.data._dataset import Dataset
from gancore.data._resize import check_size, resize_images

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_PIL_MODES = {1: "L", 3: "RGB"}


def _import_pillow() -> Any:
    try:
        # Imported here, not at module level: `import gancore.data` must stay light.
        from PIL import Image
    except ImportError as e:
        raise GancoreError(
            "load_image_folder needs Pillow, which is not installed: pip install pillow"
        ) from e
    return Image


def _read_image(image_module: Any, path: Path, mode: str) -> np.ndarray:
    try:
        with image_module.open(path) as image:
            pixels = np.asarray(image.convert(mode), dtype=np.float32)
    except (OSError, ValueError) as e:  # Pillow's UnidentifiedImageError is an OSError
        raise InvalidArgumentError(f"cannot read image {str(path)!r}: {e}") from e
    # Greyscale comes back (H, W); give it the channel axis NHWC needs.
    return (pixels / 127.5 - 1.0).reshape(pixels.shape[0], pixels.shape[1], -1)


def load_image_folder(
    root: str | os.PathLike[str],
    size: Sequence[int] = (64, 64),
    channels: int = 3,
    name: str | None = None,
) -> Dataset:
    """Load `root/<class name>/<image>` files as a labelled `Dataset`.

    The sub-folder names, sorted, are the class names (hidden folders are skipped); each
    must hold at least one image (suffixes in `IMAGE_SUFFIXES`, any case). Images are read
    with Pillow, converted to RGB (`channels=3`) or greyscale (`channels=1`), and resized
    to `size = (height, width)` with `resize_images` (bilinear, antialiased when
    shrinking): (N, height, width, channels) in `[-1, 1]`. `name` defaults to the folder's
    name. Needs Pillow.
    """
    height, width = check_size(size)
    if isinstance(channels, bool) or channels not in _PIL_MODES:
        raise InvalidArgumentError(f"channels must be 1 or 3; received {channels!r}")
    folder = Path(root)
    if not folder.is_dir():
        raise InvalidArgumentError(f"root must be an existing directory; received {str(root)!r}")
    image_module = _import_pillow()
    class_dirs = sorted(
        (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.name,
    )
    if not class_dirs:
        raise InvalidArgumentError(
            f"root must contain one sub-folder per class; {str(folder)!r} has none"
        )
    images, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(
            f for f in class_dir.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise InvalidArgumentError(
                f"class folder {str(class_dir)!r} must hold at least one image "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}); it holds none"
            )
        for file in files:
            pixels = _read_image(image_module, file, _PIL_MODES[channels])
            images.append(resize_images(pixels[np.newaxis], (height, width))[0])
            labels.append(label)
    return Dataset(
        name=name or folder.name,
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        num_classes=len(class_dirs),
        class_names=tuple(d.name for d in class_dirs),
    )
