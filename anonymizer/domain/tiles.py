"""Detection tiles: overlapping windows at full resolution, so that a small object reaches the detector at the
size it has in the frame instead of the size a downscaled frame leaves of it."""

from __future__ import annotations

import math

import numpy as np


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    n = 1 + math.ceil((length - tile) / step)
    spacing = (length - tile) / (n - 1)
    return [int(math.floor(i * spacing)) for i in range(n - 1)] + [length - tile]


def tile_grid(width: int, height: int, tile: int, overlap: int) -> np.ndarray:
    """(T, 4) int tiles x1, y1, x2, y2 covering the frame, at most ``tile`` square, evenly spread, neighbours
    overlapping by at least ``overlap`` pixels: every object no larger than ``overlap`` lies wholly inside one."""
    if tile <= overlap:
        raise ValueError("tile must be larger than overlap")
    out = [
        (x, y, min(width, x + tile), min(height, y + tile))
        for y in _starts(height, tile, overlap)
        for x in _starts(width, tile, overlap)
    ]
    return np.asarray(out, np.int64).reshape(-1, 4)


def active_tiles(tiles: np.ndarray, mask: np.ndarray, scale: int = 1) -> np.ndarray:
    """Which tiles hold any true cell of ``mask`` (a boolean picture at 1/``scale`` of the frame's size)."""
    out = np.zeros(len(tiles), bool)
    for i, (x1, y1, x2, y2) in enumerate(tiles):
        out[i] = bool(mask[y1 // scale : -(-y2 // scale), x1 // scale : -(-x2 // scale)].any())
    return out
