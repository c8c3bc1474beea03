"""How much of the picture a redaction takes: the area of the union of a frame's regions over the frame's area,
rasterised on a coarse grid (cheap enough to run on every frame), and its mean and worst over a clip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anonymizer.domain.regions import Regions

#: Grid cell in pixels: a region's share is read at the cell centres (1/8 scale: a 4K frame is a 480x270 grid).
CELL = 8


def _axis(lo: float, hi: float, size: int, cell: int) -> tuple[int, int]:
    """The grid cells whose centres may lie in [lo, hi) along an axis of ``size`` pixels."""
    n = -(-size // cell)
    a = max(0, int(np.floor(lo / cell - 0.5)))
    b = min(n, int(np.ceil(hi / cell + 0.5)))
    return a, b


def redacted_share(regions: Regions, width: int, height: int, cell: int = CELL) -> float:
    """The share of a ``width`` x ``height`` frame inside the union of ``regions`` (rectangles and the ellipses
    inscribed in their boxes), each grid cell counted by whether its centre is inside, weighted by the part of the
    cell that lies in the frame. Exact for rectangles on the grid's lines."""
    if width <= 0 or height <= 0 or not len(regions):
        return 0.0
    cols, rows = -(-width // cell), -(-height // cell)
    hit = np.zeros((rows, cols), bool)
    cx = (np.arange(cols) + 0.5) * cell
    cy = (np.arange(rows) + 0.5) * cell
    for boxes, ellipse in ((regions.rects, False), (regions.ellipses, True)):
        for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
            if x2 <= x1 or y2 <= y1:
                continue
            c0, c1 = _axis(x1, x2, width, cell)
            r0, r1 = _axis(y1, y2, height, cell)
            if c1 <= c0 or r1 <= r0:
                continue
            xs, ys = cx[c0:c1][None, :], cy[r0:r1][:, None]
            if ellipse:
                a, b = (x2 - x1) / 2, (y2 - y1) / 2
                inside = ((xs - (x1 + x2) / 2) / a) ** 2 + ((ys - (y1 + y2) / 2) / b) ** 2 <= 1.0
            else:
                inside = (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)
            hit[r0:r1, c0:c1] |= inside
    # The last column and row may be cut by the frame's edge: weigh each cell by its part inside the frame.
    cw = np.minimum(cell, width - np.arange(cols) * cell).astype(np.float64)
    ch = np.minimum(cell, height - np.arange(rows) * cell).astype(np.float64)
    return float(min(1.0, (ch[:, None] * cw[None, :] * hit).sum() / (width * height)))


@dataclass
class ShareTally:
    """Per-frame shares as they come: the report's ``redacted_share`` (mean over frames, worst frame and its index)."""

    total: float = 0.0
    frames: int = 0
    worst: float = 0.0
    worst_frame: int = -1

    def add(self, index: int, share: float) -> None:
        self.total += share
        self.frames += 1
        if share > self.worst or self.worst_frame < 0:
            self.worst, self.worst_frame = share, index

    def as_report(self) -> dict:
        mean = self.total / self.frames if self.frames else 0.0
        return {"mean": round(mean, 4), "worst": round(self.worst, 4), "worst_frame": max(0, self.worst_frame)}
