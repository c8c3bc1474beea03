"""Detection tiles: overlapping windows at full resolution, so that a small object reaches the detector at the
size it has in the frame instead of the size a downscaled frame leaves of it."""

from __future__ import annotations

import math

import cv2
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


def _area(r: list[int]) -> int:
    return max(0, r[2] - r[0]) * max(0, r[3] - r[1])


def due_rects(mask: np.ndarray, scale: int, margin: int, width: int, height: int, min_side: int = 0) -> np.ndarray:
    """(R, 4) int rectangles at full size around the true cells of ``mask`` (a boolean picture at 1/``scale``):
    each connected group's bounding box grown by ``margin`` pixels per side (so an object up to ``margin`` pixels
    that touches a true cell lies whole inside), at least ``min_side`` square where the frame allows, clipped to
    the frame; two rectangles are merged into their union where that costs no more pixels than the two apart."""
    if not mask.any():
        return np.zeros((0, 4), np.int64)
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    rects = []
    for x, y, w, h, _pixels in stats[1:n]:
        x1, y1, x2, y2 = x * scale - margin, y * scale - margin, (x + w) * scale + margin, (y + h) * scale + margin
        if min_side:
            grow_x, grow_y = max(0, min_side - (x2 - x1)), max(0, min_side - (y2 - y1))
            x1, x2 = x1 - grow_x // 2, x2 + grow_x - grow_x // 2
            y1, y2 = y1 - grow_y // 2, y2 + grow_y - grow_y // 2
        rects.append([max(0, x1), max(0, y1), min(width, x2), min(height, y2)])
    merged = True
    while merged and len(rects) > 1:
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                u = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                if _area(u) <= _area(a) + _area(b):  # the union costs no more than the two apart
                    rects[i] = u
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return np.asarray(rects, np.int64).reshape(-1, 4)
