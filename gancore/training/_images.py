"""Pictures of samples: image grids (PNG), training-progress GIFs and 2-D scatter plots."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gancore._errors import InvalidArgumentError

__all__ = ["image_grid", "save_gif", "save_png", "save_points_plot", "save_samples"]


def image_grid(images: np.ndarray, columns: int | None = None, scale: int = 1,
               padding: int = 1) -> np.ndarray:
    """NHWC images in [-1, 1] tiled into one uint8 picture (H', W', C) with C in {1, 3}."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InvalidArgumentError(
            f"images must be NHWC with 1 or 3 channels; received shape {images.shape}"
        )
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pixels = np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255,
                   dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = pixels[i]
    return grid


def _scale_for(height: int) -> int:
    # Small images (8x8 digits) are enlarged so that a grid is readable.
    return max(1, 64 // max(1, height))


def save_png(path: str | os.PathLike[str], picture: np.ndarray) -> Path:
    """Write a uint8 (H, W, C) picture as PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    squeezed = picture[..., 0] if picture.shape[-1] == 1 else picture
    Image.fromarray(squeezed).save(path)
    return path


def save_gif(path: str | os.PathLike[str], frames: Sequence[np.ndarray],
             duration_ms: int = 300) -> Path:
    """Write uint8 pictures as an animated GIF that loops."""
    from PIL import Image

    if not frames:
        raise InvalidArgumentError("frames must hold at least one picture; received none")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path


def save_points_plot(path: str | os.PathLike[str], points: np.ndarray,
                     means: np.ndarray | None = None, title: str = "") -> Path:
    """A scatter plot of 2-D samples, over the mixture's modes when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="samples")
    if means is not None:
        ax.scatter(means[:, 0], means[:, 1], s=25, c="red", marker="x", label="modes")
    ax.set_aspect("equal")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def samples_picture(samples: np.ndarray, columns: int | None = None) -> np.ndarray | None:
    """The grid picture of image samples (`columns` wide, default square), or None for
    non-image samples."""
    if samples.ndim != 4:
        return None
    return image_grid(samples, columns=columns, scale=_scale_for(samples.shape[1]))


def save_samples(path: str | os.PathLike[str], samples: np.ndarray,
                 means: np.ndarray | None = None, columns: int | None = None) -> Path:
    """Images as a PNG grid (`columns` wide, default square); 2-D points as a scatter
    plot; `.npy` paths as raw arrays."""
    path = Path(path)
    if path.suffix == ".npy":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, samples, allow_pickle=False)
        return path
    if path.suffix.lower() != ".png":
        raise InvalidArgumentError(f"out must end in .png or .npy; received {str(path)!r}")
    picture = samples_picture(samples, columns)
    if picture is not None:
        return save_png(path, picture)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return save_points_plot(path, samples, means)
    raise InvalidArgumentError(
        f"samples must be NHWC images or 2-D points to be drawn; received shape {samples.shape}"
    )
