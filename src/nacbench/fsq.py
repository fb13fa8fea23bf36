"""Finite Scalar Quantization index arithmetic (mixed-radix digits <-> flat indices).

An FSQ codebook is the Cartesian product of D scalar grids with ``levels[d]`` points each. A code is
stored as one flat index in which dimension 0 is the least significant digit::

    index = sum_d level_d * prod(levels[:d])

(vector-quantize-pytorch's ``_basis = cumprod([1] + levels[:-1])``, which NeuCodec uses). The channel's
Gray and product labellings work digit by digit, so they need these conversions; keeping them here, pure
and vectorised, means every stage agrees on the digit order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Levels", "fsq_basis", "indices_to_levels", "level_values", "levels_to_indices"]

#: level counts per dimension: a config's list, or an integer array already checked by one of these
Levels = Sequence[int] | np.ndarray


def _checked_levels(levels: Levels) -> np.ndarray:
    arr = np.asarray(list(levels), dtype=np.int64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"FSQ levels must be a non-empty 1-D sequence, got {levels!r}")
    if np.any(arr < 2):
        raise ValueError(f"every FSQ level count must be >= 2, got {list(levels)}")
    return arr


def fsq_basis(levels: Levels) -> np.ndarray:
    """Place value of each digit: ``[1, L0, L0*L1, ...]`` (dimension 0 least significant)."""
    arr = _checked_levels(levels)
    return np.concatenate([[1], np.cumprod(arr[:-1])]).astype(np.int64)


def indices_to_levels(indices: np.ndarray, levels: Levels) -> np.ndarray:
    """Split flat FSQ indices into per-dimension level indices, shape ``[..., D]``.

    Raises if an index lies outside ``[0, prod(levels))`` — a silently wrapped digit would hide a bug in
    the channel's out-of-range policy.
    """
    arr = _checked_levels(levels)
    idx = np.asarray(indices, dtype=np.int64)
    size = int(np.prod(arr))
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(f"FSQ index outside [0, {size}) for levels {arr.tolist()}")
    return (idx[..., None] // fsq_basis(arr)) % arr


def levels_to_indices(level_arr: np.ndarray, levels: Levels) -> np.ndarray:
    """Inverse of :func:`indices_to_levels`: ``[..., D]`` level indices -> flat indices ``[...]``."""
    arr = _checked_levels(levels)
    lv = np.asarray(level_arr, dtype=np.int64)
    if lv.shape[-1:] != (arr.size,):
        raise ValueError(f"last axis must have {arr.size} digits for levels {arr.tolist()}, got {lv.shape}")
    if lv.size and (np.any(lv < 0) or np.any(lv >= arr)):
        raise ValueError(f"FSQ level index outside its range for levels {arr.tolist()}")
    return (lv * fsq_basis(arr)).sum(axis=-1)


def level_values(levels: Levels) -> list[np.ndarray]:
    """Per dimension, the value the quantizer outputs for each level index.

    vector-quantize-pytorch renormalises a level ``l`` of an ``L``-level grid to ``(l - L//2) / (L//2)``
    (for L=4: -1, -0.5, 0, 0.5 — an asymmetric grid, which is why it is computed, not assumed).
    """
    arr = _checked_levels(levels)
    return [(np.arange(n, dtype=np.float64) - n // 2) / (n // 2) for n in arr.tolist()]
