"""One struct-of-arrays type for detections: boxes in source-frame pixels, scores and kinds.

Shapes are checked on construction; filtering uses boolean masks or index arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

FACE = "face"
PLATE = "plate"
KINDS = (FACE, PLATE)


@dataclass(frozen=True)
class Detections:
    """``xyxy``: float32 (N, 4) boxes as x1, y1, x2, y2 in source-frame pixels; ``scores``: float32 (N,)."""

    xyxy: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(scores) != len(xyxy):
            raise ValueError(f"{len(xyxy)} boxes but {len(scores)} scores")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    @classmethod
    def from_boxes(cls, boxes: object, score: float = 1.0) -> "Detections":
        xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        return cls(xyxy, np.full((len(xyxy),), score, np.float32))

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: object) -> "Detections":
        return Detections(self.xyxy[index], self.scores[index])  # type: ignore[index]

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        for box, score in zip(self.xyxy, self.scores):
            yield box, float(score)

    def concat(self, other: "Detections") -> "Detections":
        return Detections(np.concatenate([self.xyxy, other.xyxy]), np.concatenate([self.scores, other.scores]))
