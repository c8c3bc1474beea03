"""Where a frame changed: a cheap look at the luma plane, used to decide where full-resolution detection is due."""

from __future__ import annotations

import cv2
import numpy as np

# Luma is compared at 1/MOTION_SCALE of the frame's size: a moving person changes many such cells, sensor noise
# and compression flicker stay under the threshold.
MOTION_SCALE = 4
MOTION_THRESHOLD = 10  # grey levels, after a 3x3 box filter at the reduced size
MOTION_DILATE = 5  # cells (20 px at full size): an object's edges move, its inside may not


def thumbnail(luma: np.ndarray) -> np.ndarray:
    """The luma plane at 1/MOTION_SCALE (int16), smoothed."""
    small = np.ascontiguousarray(luma[::MOTION_SCALE, ::MOTION_SCALE])
    return cv2.blur(small, (3, 3)).astype(np.int16)


def changed(previous: np.ndarray | None, current: np.ndarray) -> np.ndarray:
    """Boolean mask (at 1/MOTION_SCALE) of what changed between two thumbnails; everything when there is no
    previous one or the sizes differ."""
    if previous is None or previous.shape != current.shape:
        return np.ones(current.shape, bool)
    moved = (np.abs(current - previous) > MOTION_THRESHOLD).astype(np.uint8)
    if moved.any():
        moved = cv2.dilate(moved, np.ones((MOTION_DILATE, MOTION_DILATE), np.uint8))
    return moved.astype(bool)


def unchanged(previous: np.ndarray, current: np.ndarray) -> bool:
    """Whether no cell changed between two thumbnails (same size) by more than MOTION_THRESHOLD: the picture is
    the same up to sensor noise and compression flicker."""
    if previous.shape != current.shape:
        return False
    return not bool((np.abs(current - previous) > MOTION_THRESHOLD).any())


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
