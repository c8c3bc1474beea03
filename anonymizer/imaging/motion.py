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
