"""Euclidean distances between two point sets, a block of rows at a time, so that memory
stays bounded for large sets (e.g. 50,000 x 50,000 feature vectors)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["BLOCK_ELEMENTS", "distance_blocks", "kth_neighbour_distances"]

# Largest distance block held at once: 2**22 float64 values = 32 MiB.
BLOCK_ELEMENTS = 2**22


def distance_blocks(x: np.ndarray, y: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield `(rows, d)` where `d[i, j] = ||x[rows][i] - y[j]||_2`, covering all rows of `x`."""
    rows_per_block = max(1, BLOCK_ELEMENTS // len(y))
    y_sq = np.einsum("ij,ij->i", y, y)
    for start in range(0, len(x), rows_per_block):
        rows = slice(start, start + rows_per_block)
        x_block = x[rows]
        # |x|^2 + |y|^2 - 2 x.y runs as one matrix product (BLAS); rounding can push a
        # zero distance slightly below 0, hence the clip before the square root.
        sq = np.einsum("ij,ij->i", x_block, x_block)[:, None] + y_sq[None, :]
        sq -= 2.0 * (x_block @ y.T)
        yield rows, np.sqrt(np.maximum(sq, 0.0))


def kth_neighbour_distances(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of `x` to its k-th nearest other row of `x`.

    A point is at distance 0 from itself, so the k-th neighbour excluding self is the
    (k + 1)-th smallest distance in its row (index `k` after sorting); needs `k < len(x)`.
    """
    radii = np.empty(len(x))
    for rows, block in distance_blocks(x, x):
        radii[rows] = np.partition(block, k, axis=1)[:, k]
    return radii
