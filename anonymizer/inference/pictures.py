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
                    threshold: float) -> Detections:
    """``detect`` (a picture -> boxes in its pixels) on the picture enlarged ``factor`` times, tile by tile
    (``ENLARGE_TILE``): every detection scoring ``threshold`` or more, in the picture's pixels, not merged (tiles
    overlap: the caller merges)."""
    h, w = rgb.shape[:2]
    out = Detections.empty()
    for x1, y1, x2, y2 in grid_tiles(w, h, *ENLARGE_TILE, ENLARGE_OVERLAP):
        big = cv2.resize(rgb[y1:y2, x1:x2], (int(round((x2 - x1) * factor)), int(round((y2 - y1) * factor))),
                         interpolation=cv2.INTER_LINEAR)
        found = detect(big)
        found = found[found.scores >= threshold]
        if len(found):
            out = out.concat(Detections(found.xyxy / factor + np.array([x1, y1, x1, y1], np.float32), found.scores))
    return out
