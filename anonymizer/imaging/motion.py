"""Where a frame changed: a cheap look at the luma plane, used to decide where full-resolution detection is due."""

from __future__ import annotations

from array import array

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


# The camera path is estimated on the luma scaled to this width (or less): phase correlation of consecutive frames.
CAMERA_WIDTH = 320
# A shift is taken as the camera's only where it explains the picture: the previous frame moved by it must differ
# from the current one by at most CAMERA_BETTER of their difference unmoved (mean absolute, smoothed). A fixed
# camera's view crossed by a large object (whose motion phase correlation may pick) fails this: moving the whole
# background makes the match worse (a crossing object scored above 1; a moving camera's shifts mostly well under).
CAMERA_BETTER = 0.85
CAMERA_MIN_SIDE = 16  # frames smaller than this either way keep a still path


class CameraPath:
    """Where the scene has moved in the picture, frame by frame: the cumulative global shift between consecutive
    frames, estimated by phase correlation of their luma scaled to ``CAMERA_WIDTH`` (about 1 ms a frame). It models
    a pan or a shake as one translation, not parallax, roll or a lens's distortion; the tracker pads for those and
    keeps its picture-space boxes too, so a wrong estimate (a bus filling a fixed camera's view) costs blurred area,
    not coverage. A shift that does not explain the picture (``CAMERA_BETTER``) counts as none: a fixed camera
    keeps a still path. ``path(frame)`` -> (dx, dy) in frame pixels; frames must be added in order."""

    def __init__(self) -> None:
        # x, y of every frame so far, flat doubles: 16 bytes a frame (a day at 25 fps: 35 MB)
        self._offsets = array("d")
        self.moved_frames = 0  # frames whose shift from the previous one was taken as the camera's
        self.largest_step = 0.0  # pixels, the largest such shift
        self._previous: np.ndarray | None = None
        self._window: np.ndarray | None = None
        self._scale = 1.0

    def add(self, index: int, luma: np.ndarray) -> None:
        if index != len(self):
            raise ValueError(f"camera path: frame {index} after {len(self) - 1}")
        h, w = luma.shape[:2]
        if min(h, w) < CAMERA_MIN_SIDE:  # nothing to correlate: the path stays still
            self._extend(0.0, 0.0)
            return
        width = min(CAMERA_WIDTH, w)
        height = max(8, int(round(h * width / w)))
        step = max(1, w // (2 * CAMERA_WIDTH))  # every step-th pixel first: a third of the cost at 1080p
        small = cv2.resize(luma[::step, ::step], (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._previous is None or self._previous.shape != small.shape:
            self._extend(0.0, 0.0)
            self._window = cv2.createHanningWindow((width, height), cv2.CV_32F)
            self._scale = w / width
        else:
            # (phaseCorrelate multiplies its inputs by the window in place: it gets copies)
            (dx, dy), _response = cv2.phaseCorrelate(self._previous.copy(), small.copy(), self._window)
            if not _explains(self._previous, small, dx, dy):
                dx = dy = 0.0
            else:
                self.moved_frames += 1
                self.largest_step = max(self.largest_step, float(np.hypot(dx, dy)) * self._scale)
            self._extend(dx * self._scale, dy * self._scale)
        self._previous = small

    def _extend(self, dx: float, dy: float) -> None:
        """The next frame's offset: the previous one moved by (dx, dy)."""
        x, y = (self._offsets[-2], self._offsets[-1]) if self._offsets else (0.0, 0.0)
        self._offsets.extend((x + dx, y + dy))

    def __call__(self, frame: int) -> np.ndarray:
        if not 0 <= frame < len(self):
            raise IndexError(f"camera path: no frame {frame}")
        return np.array((self._offsets[2 * frame], self._offsets[2 * frame + 1]), np.float32)

    def __len__(self) -> int:
        return len(self._offsets) // 2


def _explains(previous: np.ndarray, current: np.ndarray, dx: float, dy: float) -> bool:
    """Whether moving ``previous`` by (dx, dy) makes it match ``current`` clearly better than leaving it (compared
    where both versions overlap the picture, smoothed: a sub-pixel shift resamples fine texture, which alone would
    make a true shift look worse)."""
    h, w = current.shape
    mx, my = int(np.ceil(abs(dx))) + 1, int(np.ceil(abs(dy))) + 1
    if 2 * mx >= w or 2 * my >= h or (abs(dx) < 0.25 and abs(dy) < 0.25):
        return False
    previous, current = cv2.GaussianBlur(previous, (5, 5), 0), cv2.GaussianBlur(current, (5, 5), 0)
    moved = cv2.warpAffine(previous, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), flags=cv2.INTER_LINEAR)
    inner = (slice(my, h - my), slice(mx, w - mx))
    still = float(np.abs(current[inner] - previous[inner]).mean())
    shifted = float(np.abs(current[inner] - moved[inner]).mean())
    return shifted <= CAMERA_BETTER * still
