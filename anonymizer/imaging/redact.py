"""Redaction on arrays: pure image-in, image-out functions (OpenCV), applied plane by plane.

Frames stay in YUV 4:2:0 where the video is: the luma plane is redacted at full size and the chroma planes at
half size, so no colour conversion of the whole frame is needed.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from anonymizer.domain.regions import Regions

Method = Literal["blur", "pixelate", "solid"]
METHODS: tuple[str, ...] = ("blur", "pixelate", "solid")

# Cells across the longest side of a region. Few cells destroy the detail; they do not merely soften it.
_BLUR_CELLS = 3
_PIXELATE_CELLS = 6


def _destroy(roi: np.ndarray, method: str, fill: int) -> np.ndarray:
    h, w = roi.shape[:2]
    if method == "solid":
        return np.full_like(roi, fill)
    if method == "pixelate":
        cells = _PIXELATE_CELLS
        sw, sh = max(1, round(w * cells / max(w, h))), max(1, round(h * cells / max(w, h)))
        small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if method == "blur":
        cells = _BLUR_CELLS
        sw, sh = max(1, round(w * cells / max(w, h))), max(1, round(h * cells / max(w, h)))
        small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA)
        # Smooth at a small size (cheap whatever the region's size), then scale up: a soft colour gradient.
        mw, mh = max(1, round(w * 24 / max(w, h))), max(1, round(h * 24 / max(w, h)))
        mid = cv2.GaussianBlur(cv2.resize(small, (mw, mh), interpolation=cv2.INTER_LINEAR), (0, 0), 3)
        return cv2.resize(mid, (w, h), interpolation=cv2.INTER_LINEAR)
    raise ValueError(f"unknown redaction method {method!r}; expected one of {', '.join(METHODS)}")


def _int_box(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    # Round outwards: a partly covered pixel is redacted.
    x1 = max(0, int(np.floor(box[0] * scale)))
    y1 = max(0, int(np.floor(box[1] * scale)))
    x2 = min(width, int(np.ceil(box[2] * scale)))
    y2 = min(height, int(np.ceil(box[3] * scale)))
    return x1, y1, x2, y2


def _ellipse_mask(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    # Sub-pixel centre and axes (shift=4) so the ellipse spans the whole box.
    s = 16
    cv2.ellipse(mask, (int(w * s / 2), int(h * s / 2)), (int(w * s / 2), int(h * s / 2)), 0, 0, 360, 1, -1, cv2.LINE_8, 4)
    return mask.astype(bool)


def redact_plane(plane: np.ndarray, regions: Regions, method: str, scale: float = 1.0, fill: int = 0) -> np.ndarray:
    """Redact ``regions`` (given in source-frame pixels) in one image plane sampled at ``scale``; in place."""
    height, width = plane.shape[:2]
    items = [(b, True) for b in regions.ellipses] + [(b, False) for b in regions.rects]
    # Largest first: where regions overlap, the smaller (tighter) one is destroyed last, over the larger one's
    # result, so the edge of a large region never cuts sharply through the object a small one surrounds.
    items.sort(key=lambda item: -float((item[0][2] - item[0][0]) * (item[0][3] - item[0][1])))
    for box, ellipse in items:
        x1, y1, x2, y2 = _int_box(box, scale, width, height)
        if x2 <= x1 or y2 <= y1:
            continue
        roi = plane[y1:y2, x1:x2]
        destroyed = _destroy(roi, method, fill)
        if ellipse:
            mask = _ellipse_mask(y2 - y1, x2 - x1)
            if roi.ndim == 3:
                mask = mask[..., None]
            plane[y1:y2, x1:x2] = np.where(mask, destroyed, roi)
        else:
            plane[y1:y2, x1:x2] = destroyed
    return plane


def redact_yuv420(planes: list[np.ndarray], regions: Regions, method: str) -> list[np.ndarray]:
    """Redact Y (full size) and U, V (half size) planes in place; solid fills black."""
    if len(regions) == 0:
        return planes
    y, u, v = planes
    redact_plane(y, regions, method, 1.0, fill=16)
    redact_plane(u, regions, method, u.shape[1] / y.shape[1], fill=128)
    redact_plane(v, regions, method, v.shape[1] / y.shape[1], fill=128)
    return planes


def redact_image(image: np.ndarray, regions: Regions, method: str) -> np.ndarray:
    """Redact an interleaved image (H, W, C) in place."""
    return redact_plane(image, regions, method, 1.0, fill=0)


def region_mask(regions: Regions, width: int, height: int) -> np.ndarray:
    """Boolean (height, width) mask of the pixels that ``redact_plane`` changes for these regions."""
    mask = np.zeros((height, width), bool)
    for box, ellipse in [(b, True) for b in regions.ellipses] + [(b, False) for b in regions.rects]:
        x1, y1, x2, y2 = _int_box(box, 1.0, width, height)
        if x2 <= x1 or y2 <= y1:
            continue
        if ellipse:
            mask[y1:y2, x1:x2] |= _ellipse_mask(y2 - y1, x2 - x1)
        else:
            mask[y1:y2, x1:x2] = True
    return mask
