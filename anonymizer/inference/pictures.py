"""Pictures as detectors are shown them: padded to their stride, or enlarged in tiles (pure numpy and OpenCV)."""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import grid_tiles

# Pictures larger than ENLARGE_TILE (native pixels; 1080p fits) are enlarged in tiles of that size, overlapping so
# that an object up to ENLARGE_OVERLAP pixels lies whole inside one (larger ones are the plain run's): a 4K frame
# enlarged 2x whole is a 7680x4320 input, several GiB of activations.
ENLARGE_TILE = (2048, 1152)
ENLARGE_OVERLAP = 128
# Video frames' enlarged plate pass (``pipelines.detection.run_fine``, ``plate_fine platedet`` only): a picture of
# more than FINE_TILE_PIXELS is cut in overlapping tiles (``fine_tile``: 1080p in two, 4K in nine), so that
# platedet's activations, and its arena's peak, are about half those of the whole 1080p frame enlarged.
FINE_TILE_PIXELS = 1280 * 736
# The full-resolution pass at the picture's own size (``pipelines.detection.run_own_size``): a picture of more than
# NATIVE_TILE_PIXELS (a 1080p frame padded to 1920x1088) runs in overlapping tiles of at most 1.25 times that (4K in
# four), which bounds the detector's memory for no more CPU (docs/decisions/0002-plates-full-resolution-pass.md). The
# overlap is twice the enlarged pass's: an object up to NATIVE_OVERLAP pixels lies whole in one tile (larger ones are
# the coarse pass's too: at 4K a 256 px face is 64 px at the coarse input).
NATIVE_TILE_PIXELS = 1920 * 1088
NATIVE_OVERLAP = 256


def fine_tile(width: int, height: int, pixels: int = FINE_TILE_PIXELS, overlap: int = ENLARGE_OVERLAP) -> tuple[int, int]:
    """The tile (native pixels) of the enlarged video pass for a picture of this size: the picture itself up to
    ``pixels`` (a tile never smaller than the overlap allows: a small crop is one tile), else the equal parts per
    side (plus the overlap) whose tiles are at most 1.25 ``pixels`` with the fewest pixels in all (at
    ``FINE_TILE_PIXELS``, 1080p: two halves side by side; 4K: 3 x 3). A pass enlarging more than 2x gives a
    proportionally smaller ``pixels``, so that its tiles, enlarged, are no larger. ``overlap``: the tiles'
    (``grid_tiles``), ENLARGE_OVERLAP or NATIVE_OVERLAP."""
    def part(length: int, n: int) -> int:  # the shortest tile that n tiles of ``grid_tiles`` cover length with
        # (never thinner than ``grid_tiles`` allows: a side of a small or long, thin picture is one tile however short)
        tile = length if n == 1 else -(-(length + (n - 1) * (overlap + 1)) // n) + 1
        return max(tile, overlap + 2)

    if width * height <= pixels:
        return part(width, 1), part(height, 1)

    best = None
    for nx in range(1, 9):
        for ny in range(1, 9):
            tw, th = part(width, nx), part(height, ny)
            if tw * th <= 1.25 * pixels and (best is None or nx * ny * tw * th < best[0]):
                best = (nx * ny * tw * th, tw, th)
    if best is None:
        return part(width, 8), part(height, 8)
    return best[1], best[2]


def pad32(rgb: np.ndarray) -> np.ndarray:
    """The picture on a black canvas whose sides are multiples of 32 (the networks' coarsest stride)."""
    h, w = rgb.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    if (ph, pw) == (h, w):
        return rgb
    out = np.zeros((ph, pw, 3), np.uint8)
    out[:h, :w] = rgb
    return out


def detect_enlarged(detect: Callable[[np.ndarray], Detections], rgb: np.ndarray, factor: float,
                    threshold: float, tile: tuple[int, int] = ENLARGE_TILE) -> Detections:
    """``detect`` (a picture -> boxes in its pixels) on the picture enlarged ``factor`` times, tile by tile
    (``tile``, native pixels: ``ENLARGE_TILE`` by default): every detection scoring ``threshold`` or more, in the picture's pixels, not merged (tiles
    overlap: the caller merges)."""
    h, w = rgb.shape[:2]
    out = Detections.empty()
    for x1, y1, x2, y2 in grid_tiles(w, h, *tile, ENLARGE_OVERLAP):
        big = cv2.resize(rgb[y1:y2, x1:x2], (int(round((x2 - x1) * factor)), int(round((y2 - y1) * factor))),
                         interpolation=cv2.INTER_LINEAR)
        found = detect(big)
        found = found[found.scores >= threshold]
        if len(found):
            out = out.concat(Detections(found.xyxy / factor + np.array([x1, y1, x1, y1], np.float32), found.scores))
    return out
