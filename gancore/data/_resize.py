"""Bilinear resizing of NHWC image batches in numpy, with Pillow's filter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gancore._errors import InvalidArgumentError


def check_size(size: Sequence[int], name: str = "size") -> tuple[int, int]:
    """Return `size` as a `(height, width)` pair of positive ints, or raise."""
    try:
        height, width = size
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"{name} must be a (height, width) pair; received {size!r}"
        ) from None
    for value in (height, width):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value <= 0:
            raise InvalidArgumentError(
                f"{name} must be a (height, width) pair of ints > 0; received {size!r}"
            )
    return int(height), int(width)


def _weights(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) matrix that resamples one axis.

    A triangle filter on pixel centres, as Pillow's BILINEAR: when shrinking, the filter is
    widened by the scale factor so that every input pixel contributes (no aliasing).
    """
    scale = in_size / out_size
    support = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale
    distance = (np.arange(in_size) + 0.5)[None, :] - centres[:, None]
    weights = np.clip(1.0 - np.abs(distance) / support, 0.0, None)
    # The nearest input centre is at most 0.5 away and support >= 1, so no row sums to 0.
    return weights / weights.sum(axis=1, keepdims=True)


def resize_images(images: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize NHWC images to `size = (height, width)`, bilinearly; returns float32.

    Pillow's BILINEAR filter, antialiased when shrinking, applied separably to rows and
    columns. Each output pixel is a convex combination of input pixels, so the output stays
    within the input's range (images in `[-1, 1]` stay in `[-1, 1]`).
    """
    array = np.asarray(images)
    if array.ndim != 4 or not np.issubdtype(array.dtype, np.number):
        raise InvalidArgumentError(
            f"images must be a numeric (N, H, W, C) array; received {array.dtype} of shape "
            f"{array.shape}"
        )
    height, width = check_size(size)
    n, in_height, in_width, channels = array.shape
    array = array.astype(np.float32, copy=False)
    if array.size == 0 or (height, width) == (in_height, in_width):
        return array.copy()
    rows = _weights(in_height, height).astype(np.float32)
    cols = _weights(in_width, width).astype(np.float32)
    # Two matrix products (rows, then columns) keep the work in BLAS.
    out = (rows @ array.reshape(n, in_height, in_width * channels)).reshape(
        n, height, in_width, channels
    )
    out = (out.transpose(0, 1, 3, 2) @ cols.T).transpose(0, 1, 3, 2)
    # Convex weights cannot leave the input's range, but float32 rounding of weights that
    # sum to 1 can overshoot it by an ulp; clip that away so [-1, 1] data stays valid.
    return np.ascontiguousarray(np.clip(out, array.min(), array.max()))
