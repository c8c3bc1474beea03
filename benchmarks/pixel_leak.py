"""Pixel-level leak figure: does the output still show the detail the input had inside a ground-truth box?

For one box on one frame: take the central ellipse of the box (centre of the box, semi-axes 0.4 x width and
0.4 x height, i.e. the ellipse inscribed in the central 80 % of the box), and sum the squared Laplacian
(``cv2.Laplacian`` of the grey image, default 1-pixel aperture: 4-neighbour kernel, float32) over its pixels in the input frame and in the output
frame. The box is **readable** when the output keeps at least ``READABLE`` (0.2) of the input's energy: a blurred
or filled face keeps almost none (measured below 0.02 for the pipeline's blur), an untouched one keeps most of it
(0.5 to 1.0 after re-encoding at CRF 23).

A box whose input core is featureless (mean squared Laplacian per pixel below ``FLOOR``: black or flat frames,
where there is nothing to read and the ratio is noise) is **skipped**, as is a core of fewer than ``MIN_PIXELS``
pixels. Both frames must be in the same orientation and size (the harness rotates both to display orientation).
"""

from __future__ import annotations

import cv2
import numpy as np

CORE = 0.8  # the ellipse spans the central 80 % of the box's width and height
READABLE = 0.2  # output / input Laplacian energy at or above which the box counts as readable
FLOOR = 4.0  # mean squared Laplacian per pixel of the input core below which the box is skipped (featureless):
# on faces_tld_video it skips david frames 0-15 and 23 (the face at grey level 1 to 6 of 255, sensor noise only)
MIN_PIXELS = 16


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def core_mask(box: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Pixels of a (h, w) crop at (x0, y0) whose centres lie in the central ellipse of ``box`` (frame pixels)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    ax, ay = CORE * (box[2] - box[0]) / 2, CORE * (box[3] - box[1]) / 2
    if ax <= 0 or ay <= 0:
        return np.zeros((h, w), bool)
    xs = (np.arange(w) + x0 + 0.5 - cx) / ax
    ys = (np.arange(h) + y0 + 0.5 - cy) / ay
    return (xs[None, :] ** 2 + ys[:, None] ** 2) <= 1.0


def energy_ratio(grey_in: np.ndarray, grey_out: np.ndarray, box: np.ndarray) -> dict:
    """{"ratio": output/input energy or None when skipped, "energy_in": mean per pixel, "readable": bool,
    "skipped": reason or None} for one box (frame pixels, both grey frames of the same size)."""
    height, width = grey_in.shape
    # A crop with a 2 px margin: the Laplacian at the core's edge sees real neighbours, not a border.
    x0 = max(0, int(np.floor(box[0])) - 2)
    y0 = max(0, int(np.floor(box[1])) - 2)
    x1 = min(width, int(np.ceil(box[2])) + 2)
    y1 = min(height, int(np.ceil(box[3])) + 2)
    if x1 <= x0 or y1 <= y0:
        return {"ratio": None, "energy_in": 0.0, "readable": False, "skipped": "empty"}
    mask = core_mask(box, x0, y0, x1 - x0, y1 - y0)
    n = int(mask.sum())
    if n < MIN_PIXELS:
        return {"ratio": None, "energy_in": 0.0, "readable": False, "skipped": "tiny"}
    lap_in = cv2.Laplacian(grey_in[y0:y1, x0:x1], cv2.CV_32F)
    lap_out = cv2.Laplacian(grey_out[y0:y1, x0:x1], cv2.CV_32F)
    e_in = float((lap_in[mask] ** 2).sum())
    e_out = float((lap_out[mask] ** 2).sum())
    per_pixel = e_in / n
    if per_pixel < FLOOR:
        return {"ratio": None, "energy_in": round(per_pixel, 2), "readable": False, "skipped": "featureless"}
    ratio = e_out / e_in
    return {"ratio": round(ratio, 4), "energy_in": round(per_pixel, 2), "readable": ratio >= READABLE,
            "skipped": None}
