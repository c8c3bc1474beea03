"""platenet, the project's own plate detector (``models/platenet.onnx``, trained by ``anonymizer.training``): pure
decoding of its two outputs, and the detector that runs it on a picture at its own size.

Outputs, on a grid of stride ``STRIDE``: ``heat`` (1, 1, gh, gw), the chance that a cell is a plate's centre, and
``ltrb`` (1, 4, gh, gw), the distances in input pixels from the cell's centre to the plate's four sides.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import clip_boxes, nms, scale_about_centre
from anonymizer.inference.pictures import pad32

STRIDE = 4
NMS_IOU = 0.45
MERGE_IOU = 0.5  # one plate found in both views
# Its boxes are lower than annotated plates (median height 0.89 of theirs on the generated video sets, a quarter
# 0.79 or less; widths 0.95): grown about their centre by this (width, height), they cover the plate.
BOX_GROWTH = (1.05, 1.25)
# A frame is shown at its own size and at half of it: plates wider than about 100 px, which the network saw less
# of in training, are found at half size as 50 px ones (benchmarks/RESULTS.md, "platenet"), for a quarter more CPU.
VIEWS = (1.0, 0.5)


def peaks(heat: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the cells scoring ``threshold`` or more that are the maximum of their 3x3 neighbourhood."""
    local = cv2.dilate(heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero((heat >= threshold) & (heat >= local))
    return ys, xs


def decode(heat: np.ndarray, ltrb: np.ndarray, threshold: float, stride: int = STRIDE) -> Detections:
    """Boxes in input pixels from the model's outputs (batch of one): the local maxima of the heat map, each with
    the box its cell regresses; NMS at ``NMS_IOU``."""
    h = np.ascontiguousarray(heat[0, 0], np.float32)
    ys, xs = peaks(h, threshold)
    if len(ys) == 0:
        return Detections.empty()
    cx, cy = (xs + 0.5) * stride, (ys + 0.5) * stride
    d = ltrb[0][:, ys, xs].astype(np.float32)
    boxes = np.stack([cx - d[0], cy - d[1], cx + d[2], cy + d[3]], axis=1)
    scores = h[ys, xs]
    keep = nms(boxes, scores, NMS_IOU)
    return Detections(boxes[keep], scores[keep])


def to_blob(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 0..255 (the network normalises inside)."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32)


class PlateNetDetector:
    """platenet on an ONNX Runtime session: plates on an RGB picture, boxes in its pixels. It is trained to see
    plates at the size they have in a frame, so it is never shown a frame enlarged."""

    kind = "plate"

    def __init__(self, session: Any, threshold: float) -> None:
        self.session = session
        self.threshold = threshold
        self.input_name = session.get_inputs()[0].name

    def detect_native(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        heat, ltrb = self.session.run(None, {self.input_name: to_blob(pad32(rgb))})
        found = decode(heat, ltrb, self.threshold)
        if len(found) == 0:
            return found
        return Detections(clip_boxes(scale_about_centre(found.xyxy, *BOX_GROWTH), w, h), found.scores)

    def detect_views(self, rgb: np.ndarray) -> Detections:
        """The picture at each of ``VIEWS`` (its own size, half of it), boxes in its pixels; where both views find one
        plate, the better box (NMS: an enclosing merge also swallowed the look-alikes next to a small plate)."""
        h, w = rgb.shape[:2]
        found = Detections.empty()
        for scale in VIEWS:
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            view = rgb if (sw, sh) == (w, h) else cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
            more = self.detect_native(view)
            if len(more):
                factor = np.array([w / sw, h / sh, w / sw, h / sh], np.float32)
                found = found.concat(Detections(clip_boxes(more.xyxy * factor, w, h), more.scores))
        if len(found) < 2:
            return found
        return found[nms(found.xyxy, found.scores, MERGE_IOU)]
