"""platedet (YOLOv8) plate detector: pure letterbox, anchor grid and decoding, and the detector that runs it."""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import clip_boxes, merge_enclosing, nms
from anonymizer.inference.pictures import ENLARGE_TILE, detect_enlarged

YOLO_STRIDES = (8, 16, 32)
PAD_VALUE = 114


def input_size(src_w: int, src_h: int, max_side: int) -> tuple[int, int, int, int]:
    """(resized_w, resized_h, canvas_w, canvas_h): the source scaled down so its long side is at most
    ``max_side`` (never up: upscaling a small frame costs 15x the time for no measured gain); the canvas is that
    rounded up to multiples of 32 (letterbox padding is split evenly on both sides)."""
    ratio = min(1.0, max_side / max(src_w, src_h))
    rw, rh = int(round(src_w * ratio)), int(round(src_h * ratio))
    cw, ch = int(np.ceil(rw / 32) * 32), int(np.ceil(rh / 32) * 32)
    return rw, rh, cw, ch


def anchor_grid(width: int, height: int, dtype: type = np.float16) -> tuple[np.ndarray, np.ndarray]:
    """YOLOv8 anchor points (1, 2, N) as cell centres in grid units, and strides (1, N), for an input size."""
    points, strides = [], []
    for s in YOLO_STRIDES:
        gh, gw = height // s, width // s
        ys, xs = np.meshgrid(np.arange(gh) + 0.5, np.arange(gw) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full(gh * gw, s))
    return np.concatenate(points, axis=1)[None].astype(dtype), np.concatenate(strides)[None].astype(dtype)


def letterbox(rgb: np.ndarray, canvas_w: int, canvas_h: int) -> tuple[np.ndarray, float, float]:
    """Pad a resized RGB image to the canvas, centred: (canvas, pad_x, pad_y)."""
    h, w = rgb.shape[:2]
    pad_x, pad_y = (canvas_w - w) / 2, (canvas_h - h) / 2
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    canvas = np.full((canvas_h, canvas_w, 3), PAD_VALUE, np.uint8)
    canvas[top : top + h, left : left + w] = rgb
    return canvas, float(left), float(top)


def to_blob(canvas: np.ndarray, dtype: type = np.float16) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W), 0..1, in the model's input type (float16 as shipped, float32 once
    widened or quantised)."""
    blob = cv2.dnn.blobFromImage(np.ascontiguousarray(canvas), 1.0 / 255.0)  # numpy's values, less CPU
    return blob if dtype == np.float32 else blob.astype(dtype)


def decode(output: np.ndarray, threshold: float, nms_iou: float = 0.45) -> Detections:
    """(1, 4 + classes [+ mask coefs], N) -> boxes in canvas pixels (xywh centre -> xyxy), NMS applied."""
    pred = output[0].astype(np.float32)
    scores = pred[4:5].max(axis=0)  # one class: plate
    keep = scores > threshold
    if not keep.any():
        return Detections.empty()
    cx, cy, w, h = pred[0, keep], pred[1, keep], pred[2, keep], pred[3, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores = scores[keep]
    idx = nms(boxes, scores, nms_iou)
    return Detections(boxes[idx], scores[idx])


def to_source(dets: Detections, pad_x: float, pad_y: float, resized_w: int, resized_h: int, src_w: int, src_h: int) -> Detections:
    if len(dets) == 0:
        return dets
    xyxy = dets.xyxy - np.array([pad_x, pad_y, pad_x, pad_y], np.float32)
    xyxy *= np.array([src_w / resized_w, src_h / resized_h, src_w / resized_w, src_h / resized_h], np.float32)
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, src_w)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, src_h)
    return Detections(xyxy, dets.scores)


# platedet also runs on the picture enlarged ENLARGE times: a 40-80 px wide plate is 10-20 px tall, and platedet finds
# many more of them twice the size. Always on photos (no neighbouring frames to make up for a miss); on video frames
# only in the full-resolution pass with ``plate_fine platedet`` (``pipelines.detection.FINE_ENLARGED``): the default,
# platenet, looks at the frame's own size (docs/decisions/0003-own-plate-detector.md).
ENLARGE = 2.0
MERGE_IOU = 0.5  # one plate found twice: in two overlapping tiles, or by two detectors


def merge(a: Detections, b: Detections | None = None) -> Detections:
    """Boxes of one or two detectors (or of overlapping tiles) merged without losing a pixel
    (``merge_enclosing``)."""
    both = a if b is None else a.concat(b)
    if len(both) < 2:
        return both
    return Detections(*merge_enclosing(both.xyxy, both.scores, MERGE_IOU))


def detect_enlarged_merged(detect_native: Callable[[np.ndarray], Detections], rgb: np.ndarray, factor: float,
                           threshold: float, tile: tuple[int, int] = ENLARGE_TILE) -> Detections:
    """A plate detector's ``detect_native`` on the picture enlarged ``factor`` times, in tiles
    (``tile``), detections scoring ``threshold`` or more: boxes in the picture's pixels, the
    duplicates of overlapping tiles merged (``merge``)."""
    h, w = rgb.shape[:2]
    found = merge(detect_enlarged(detect_native, rgb, factor, threshold, tile))
    return Detections(clip_boxes(found.xyxy, w, h), found.scores)


class PlateDetector:
    """platedet on an ONNX Runtime session. ``detect`` takes RGB already resized to ``input_size``'s first two."""

    kind = "plate"

    def __init__(self, session: Any, threshold: float, max_side: int = 640) -> None:
        self.session = session
        self.threshold = threshold
        self.max_side = max_side
        first = session.get_inputs()[0]
        self.input_name = first.name
        self.dtype = np.float16 if first.type == "tensor(float16)" else np.float32
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def input_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        rw, rh, _, _ = input_size(src_w, src_h, self.max_side)
        return rw, rh

    def detect(self, rgb: np.ndarray, src_w: int, src_h: int) -> Detections:
        rh, rw = rgb.shape[:2]
        _, _, cw, ch = input_size(src_w, src_h, self.max_side)
        if (rw, rh) != self.input_size(src_w, src_h):
            rgb = cv2.resize(rgb, self.input_size(src_w, src_h), interpolation=cv2.INTER_AREA)
            rh, rw = rgb.shape[:2]
        dets, pad_x, pad_y = self._run(rgb, cw, ch)
        return to_source(dets, pad_x, pad_y, rw, rh, src_w, src_h)

    def _run(self, rgb: np.ndarray, cw: int, ch: int) -> tuple[Detections, float, float]:
        """Letterbox onto a (cw, ch) canvas and run the model: boxes in canvas pixels, and the padding."""
        canvas, pad_x, pad_y = letterbox(rgb, cw, ch)
        if (cw, ch) not in self._grids:
            self._grids[(cw, ch)] = anchor_grid(cw, ch, self.dtype)
        anchors, strides = self._grids[(cw, ch)]
        (out,) = self.session.run(None, {self.input_name: to_blob(canvas, self.dtype), "anchors": anchors, "strides": strides})
        return decode(out, self.threshold), pad_x, pad_y

    def detect_native(self, rgb: np.ndarray) -> Detections:
        """Detect on an RGB picture at its own size, whatever ``max_side`` says (full-resolution tiles, and small
        photos scaled up by the caller): boxes in that picture's pixels."""
        h, w = rgb.shape[:2]
        cw, ch = int(np.ceil(w / 32) * 32), int(np.ceil(h / 32) * 32)
        dets, pad_x, pad_y = self._run(rgb, cw, ch)
        return to_source(dets, pad_x, pad_y, w, h, w, h)

    def detect_enlarged(self, rgb: np.ndarray, factor: float = ENLARGE, tile: tuple[int, int] = ENLARGE_TILE,
                        second_threshold: float | None = None, threshold: float | None = None,
                        second_factor: float | None = None, second_tile: tuple[int, int] | None = None) -> Detections:
        """Photos (``FrameDetector.image``) and, with ``plate_fine platedet``, video frames' full-resolution pass
        (``detection.run_fine``): the picture enlarged ``factor`` times, in tiles (``tile``: ``pictures.ENLARGE_TILE``
        by default), at the detector's own threshold or ``threshold`` when higher; boxes in the picture's pixels, the
        duplicates of overlapping tiles merged without losing a pixel. ``second_threshold``, ``second_factor`` and
        ``second_tile`` are the second detector's (``PlateUnion``); platedet alone has none."""
        floor = self.threshold if threshold is None else max(self.threshold, threshold)
        return detect_enlarged_merged(self.detect_native, rgb, factor, floor, tile)

