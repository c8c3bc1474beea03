"""Where a box's content went: the picture's own motion in and around a box, measured frame to frame.

The tracker carries a box between and beyond detections along this measured path instead of along a straight line
grown with the distance (domain.tracking). Each step matches the box's luma (with some context around it, at a
reduced scale) on the next frame, in a window around where the camera's shift and the box's own velocity put it
(``cv2.matchTemplate``, normalised correlation). The step's score says whether the content is still there: an object
that went behind another one no longer matches, one that left the picture scores 0, and the tracker stops there.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import cv2
import numpy as np

from anonymizer.domain.geometry import areas, clip_boxes

# Frames are kept with their longer side at most this many pixels (720p: halved; 1080p: a third; 4K: a sixth):
# a few hundred KiB a frame, for the carrying horizon's hundred-odd frames.
MOTION_SIDE = 640
# The template is the box grown by this share of its size per side (a plate's car, a face's head), at least
# MIN_TEMPLATE pixels across at the reduced scale (a 20 px plate at 4K is 5 px there).
CONTEXT = 0.25
MIN_TEMPLATE = 12
# An object smaller than this (longer side, reduced pixels: 12 px at 720p, 18 at 1080p, 36 at 4K) is not measured: its
# template would be mostly background, whose motion is not the object's (the straight line carries it).
MIN_OBJECT = 6
# The search window: the predicted box grown by this share of its size per side, at least SEARCH_MIN reduced pixels.
SEARCH = 0.6
SEARCH_MIN = 6
SEARCH_SHIFT = 0.25  # plus this share of the expected shift
# A match this close to the best one at the expected place is taken there (sensor noise moves the best by a pixel).
TIE = 0.02
# A box expected less than this share inside the picture is leaving it: too little of it is left to match (the
# context around it would), so it moves on as expected until it is out.
LEAVING = 0.5
# A template whose luma varies less than this (standard deviation, grey levels) has nothing to follow.
FLAT = 2.0


class LocalMotion:
    """The luma of the latest frames at a reduced scale, and box-to-box steps between consecutive ones."""

    def __init__(self, width: int, height: int, keep: int) -> None:
        self.scale = max(1, math.ceil(max(width, height) / MOTION_SIDE))
        self.width, self.height = width, height
        self.keep = max(2, keep)
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self.steps = 0  # template matches run (for the report)

    def add(self, index: int, luma: np.ndarray) -> None:
        s = self.scale
        h, w = luma.shape[:2]
        small = cv2.resize(luma, (w // s, h // s), interpolation=cv2.INTER_AREA) if s > 1 else luma
        self._frames[index] = np.ascontiguousarray(small, dtype=np.uint8)
        while len(self._frames) > self.keep:
            self._frames.popitem(last=False)

    def has(self, index: int) -> bool:
        return index in self._frames

    def step(self, box: np.ndarray, a: int, b: int, shift: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        """Where the content of ``box`` (frame pixels) on frame ``a`` is on frame ``b``, and the match's score
        (normalised correlation, 1 = the same): the box moved by the measured shift, its size kept. ``shift``
        (dx, dy, frame pixels): where to centre the search (the camera's shift and the object's velocity). None
        when either frame is not kept or the box has no texture to follow; a score of 0 when the box left the
        picture."""
        fa, fb = self._frames.get(a), self._frames.get(b)
        if fa is None or fb is None:
            return None
        s = float(self.scale)
        h, w = fa.shape
        guess = np.zeros(2, np.float32) if shift is None else np.asarray(shift, np.float32).reshape(2)
        expected = (np.asarray(box, np.float32) + np.tile(guess, 2)).astype(np.float32)
        whole = max(float(areas(expected[None])[0]), 1e-6)
        inside = float(areas(clip_boxes(expected, self.width, self.height))[0]) / whole  # share in the picture
        if inside <= 0.0:
            return expected, 0.0  # it left the picture
        if inside < LEAVING:
            return expected, 1.0  # leaving (or entering, backwards): what is left in view is carried along its motion
        bw, bh = max(1.0, (box[2] - box[0]) / s), max(1.0, (box[3] - box[1]) / s)
        if max(bw, bh) < MIN_OBJECT:
            return None  # the template would be its context: the background's motion, not the object's
        cx, cy = (box[0] + box[2]) / (2 * s), (box[1] + box[3]) / (2 * s)
        tw = max(MIN_TEMPLATE, bw * (1 + 2 * CONTEXT))
        th = max(MIN_TEMPLATE, bh * (1 + 2 * CONTEXT))
        x1, y1 = int(round(cx - tw / 2)), int(round(cy - th / 2))
        x2, y2 = x1 + int(round(tw)), y1 + int(round(th))
        dx, dy = float(guess[0]) / s, float(guess[1]) / s
        # Only what is in the picture on both frames, where expected, can match: the part leaving is left out.
        x1, y1 = max(0, x1, int(math.ceil(-dx))), max(0, y1, int(math.ceil(-dy)))
        x2, y2 = min(w, x2, int(math.floor(w - dx))), min(h, y2, int(math.floor(h - dy)))
        if x2 - x1 < 4 or y2 - y1 < 4:
            return np.asarray(box, np.float32), 0.0  # (almost) out of the picture
        template = fa[y1:y2, x1:x2]
        if float(template.std()) < FLAT:
            return None
        # (the farther the picture moves, the more its parts move apart: parallax, a wide lens's distortion)
        spread = SEARCH_SHIFT * math.hypot(dx, dy)
        margin_x = max(SEARCH_MIN, SEARCH * bw) + spread
        margin_y = max(SEARCH_MIN, SEARCH * bh) + spread
        sx1, sy1 = int(math.floor(x1 + dx - margin_x)), int(math.floor(y1 + dy - margin_y))
        sx2, sy2 = int(math.ceil(x2 + dx + margin_x)), int(math.ceil(y2 + dy + margin_y))
        sx1, sy1, sx2, sy2 = max(0, sx1), max(0, sy1), min(w, sx2), min(h, sy2)
        if sx2 - sx1 < x2 - x1 or sy2 - sy1 < y2 - y1:
            return np.asarray(box, np.float32), 0.0  # where it was expected is out of the picture
        self.steps += 1
        scores = cv2.matchTemplate(fb[sy1:sy2, sx1:sx2], template, cv2.TM_CCOEFF_NORMED)
        _lo, best, _lo_at, (bx, by) = cv2.minMaxLoc(scores)
        # Where the guess scores as well, within noise, it stands: a still object's box does not jitter.
        gx, gy = int(round(x1 + dx)) - sx1, int(round(y1 + dy)) - sy1
        if 0 <= gy < scores.shape[0] and 0 <= gx < scores.shape[1] and scores[gy, gx] >= best - TIE:
            bx, by, best = gx, gy, float(scores[gy, gx])
        mx, my = (sx1 + bx - x1) * s, (sy1 + by - y1) * s
        moved = np.asarray(box, np.float32) + np.array([mx, my, mx, my], np.float32)
        return moved, float(best) if math.isfinite(best) else 0.0

