"""Box geometry: pure numpy functions on (N, 4) x1, y1, x2, y2 arrays."""

from __future__ import annotations

import numpy as np


def areas(xyxy: np.ndarray) -> np.ndarray:
    """Area of each box; inverted boxes have area 0."""
    w = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None)
    h = np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
    return w * h


def intersection_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Area of the intersection of every box in ``a`` with every box in ``b`` (float64): shape (len(a), len(b))."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)


def _iou_from(inter: np.ndarray, area_a: np.ndarray, area_b: np.ndarray) -> np.ndarray:
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``: shape (len(a), len(b))."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return _iou_from(intersection_matrix(a, b), areas(a), areas(b))


def clip_boxes(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes to the frame [0, width] x [0, height]."""
    out = np.asarray(xyxy, np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def scale_about_centre(xyxy: np.ndarray, factor_x: float, factor_y: float | None = None) -> np.ndarray:
    """Grow (or shrink) each box about its centre by a factor per axis."""
    factor_y = factor_x if factor_y is None else factor_y
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
    cy = (xyxy[:, 1] + xyxy[:, 3]) / 2
    hw = (xyxy[:, 2] - xyxy[:, 0]) / 2 * factor_x
    hh = (xyxy[:, 3] - xyxy[:, 1]) / 2 * factor_y
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1).astype(np.float32)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    suppressed = np.zeros(len(order), bool)
    ious = iou_matrix(xyxy, xyxy)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= ious[i] >= iou_threshold
    return np.asarray(keep, dtype=np.int64)


def merge_enclosing(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy non-maximum suppression that loses no pixel: each kept box (best score first) grows to enclose the
    boxes it suppresses. For boxes of one object from two detectors, whose extents differ: the redaction covers
    what either found. Returns (boxes, scores), best score first."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    ious = iou_matrix(xyxy, xyxy)
    taken = np.zeros(len(xyxy), bool)
    boxes, kept = [], []
    for i in order:
        if taken[i]:
            continue
        group = ~taken & (ious[i] >= iou_threshold)
        group[i] = True
        taken |= group
        members = xyxy[group]
        boxes.append([members[:, 0].min(), members[:, 1].min(), members[:, 2].max(), members[:, 3].max()])
        kept.append(scores[i])
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(kept, np.float32)


def suppress_redundant(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float, contain: float,
                       area_ratio: float) -> np.ndarray:
    """Greedy non-maximum suppression that also drops fragments: best score first, a box is dropped when a kept box
    overlaps it by IoU ``iou_threshold`` or holds at least ``contain`` of it while being at most 1 / ``area_ratio``
    times its area (a part of the same object found at another scale, not a small object inside a large box). A
    kept box keeps its own extent, and a fragment scoring better never drops the whole box it lies in: what is
    lost is at most 1 - ``contain`` of a dropped box (as with NMS). Returns the kept indices, best score first."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores), kind="stable")
    a = areas(xyxy)
    inter = intersection_matrix(xyxy, xyxy)
    with np.errstate(divide="ignore", invalid="ignore"):
        # held[i, j]: box j lies ``contain`` inside box i, which is at most 1 / area_ratio times larger than j
        held = (np.where(a[None, :] > 0, inter / a[None, :], 0.0) >= contain) & (a[None, :] >= area_ratio * a[:, None])
    drop = (_iou_from(inter, a, a) >= iou_threshold) | held
    suppressed = np.zeros(len(xyxy), bool)
    keep: list[int] = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= drop[i]
    return np.asarray(keep, dtype=np.int64)


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap - 1  # a pixel of slack for the integer starts
    n = -(-(length - tile) // step) + 1
    return [(k * (length - tile)) // (n - 1) for k in range(n)]


def grid_tiles(width: int, height: int, tile_w: int, tile_h: int, overlap: int) -> np.ndarray:
    """Tiles (N, 4) int x1, y1, x2, y2 covering a width x height picture, each at most tile_w x tile_h, neighbours
    overlapping so that any box at most ``overlap`` wide and tall lies wholly inside one tile. Needs tiles larger
    than ``overlap + 1`` on each side."""
    if tile_w <= overlap + 1 or tile_h <= overlap + 1:
        raise ValueError(f"tiles {tile_w}x{tile_h} must be larger than the overlap {overlap} + 1")
    xs, ys = _starts(width, tile_w, overlap), _starts(height, tile_h, overlap)
    return np.array([[x, y, min(width, x + tile_w), min(height, y + tile_h)] for y in ys for x in xs], np.int64)
