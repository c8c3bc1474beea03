"""CenterFace face detector: pure pre- and post-processing, and the detector that runs it."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import nms


def input_size(src_w: int, src_h: int, max_side: int) -> tuple[int, int]:
    """Detection input (w, h): the source scaled so its long side is at most ``max_side`` (0: native), each
    dimension rounded up to a multiple of 32 (the network's stride)."""
    scale = 1.0 if max_side <= 0 or max(src_w, src_h) <= max_side else max_side / max(src_w, src_h)
    w = int(np.ceil(src_w * scale / 32) * 32)
    h = int(np.ceil(src_h * scale / 32) * 32)
    return w, h


def to_blob(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32, 0..255 (what CenterFace was trained on). OpenCV's blob: the
    same values as numpy's transpose and cast, in a third of the CPU."""
    return cv2.dnn.blobFromImage(np.ascontiguousarray(rgb))


def decode(
    heatmap: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    in_w: int,
    in_h: int,
    threshold: float,
    nms_iou: float = 0.3,
) -> Detections:
    """CenterFace outputs -> boxes in input pixels. Each heat-map cell over ``threshold`` is a face centre; its
    size comes from ``exp(scale) * 4`` and its sub-cell position from ``offset``."""
    hm = heatmap[0, 0]
    ys, xs = np.nonzero(hm > threshold)
    if len(ys) == 0:
        return Detections.empty()
    s0 = np.exp(scale[0, 0, ys, xs]) * 4
    s1 = np.exp(scale[0, 1, ys, xs]) * 4
    o0 = offset[0, 0, ys, xs]
    o1 = offset[0, 1, ys, xs]
    x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, in_w)
    y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, in_h)
    x2 = np.minimum(x1 + s1, in_w)
    y2 = np.minimum(y1 + s0, in_h)
    boxes = np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    scores = hm[ys, xs].astype(np.float32)
    keep = nms(boxes, scores, nms_iou)
    return Detections(boxes[keep], scores[keep])


def to_source(dets: Detections, in_w: int, in_h: int, src_w: int, src_h: int) -> Detections:
    """Boxes from detection-input pixels to source-frame pixels."""
    if len(dets) == 0:
        return dets
    factors = np.array([src_w / in_w, src_h / in_h, src_w / in_w, src_h / in_h], np.float32)
    return Detections(dets.xyxy * factors, dets.scores)


class FaceDetector:
    """CenterFace on an ONNX Runtime session. ``detect`` takes RGB already resized to ``input_size``."""

    kind = "face"

    def __init__(self, session: Any, threshold: float, max_side: int) -> None:
        self.session = session
        self.threshold = threshold
        self.max_side = max_side
        self.input_name = session.get_inputs()[0].name
        # Output order by channel count (1 heatmap, 2 scale, 2 offset, 10 landmarks), not by name.
        self.output_names = [o.name for o in session.get_outputs()]

    def input_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        return input_size(src_w, src_h, self.max_side)

    def detect(self, rgb: np.ndarray, src_w: int, src_h: int) -> Detections:
        in_h, in_w = rgb.shape[:2]
        heatmap, scale, offset, _landmarks = self.session.run(self.output_names, {self.input_name: to_blob(rgb)})
        dets = decode(heatmap, scale, offset, in_w, in_h, self.threshold)
        return to_source(dets, in_w, in_h, src_w, src_h)
