"""Face tracks inside one clip, by position only, for an access copy that keeps the requester unredacted.

The DPO picks, on the review page, the track that shows the requester; ``keep_mask`` then tells the anonymiser,
frame by frame, which of the boxes it is about to redact belong to that track. A track is a sequence of boxes on
frames of one clip, joined by overlap and centre distance: no appearance, no embedding, nothing that could link a
person across clips. Between two observations a track's box is interpolated; before its first and after its last
it does not exist, so nothing is kept there (a missed keep redacts the requester, never someone else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from anonymizer.domain.geometry import iou_matrix


@dataclass(frozen=True)
class Track:
    id: int
    frames: tuple[int, ...]  # increasing frame indices of the clip
    boxes: np.ndarray  # (len(frames), 4) x1, y1, x2, y2 in frame pixels

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    def box_at(self, frame: int) -> np.ndarray | None:
        """The track's box on ``frame`` (interpolated between observations), None outside the track."""
        if frame < self.first or frame > self.last:
            return None
        i = int(np.searchsorted(self.frames, frame))
        if self.frames[i] == frame:
            return self.boxes[i]
        f0, f1 = self.frames[i - 1], self.frames[i]
        w = (frame - f0) / (f1 - f0)
        return (1 - w) * self.boxes[i - 1] + w * self.boxes[i]


def _centre_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance of the centres in units of the larger box size."""
    ca, cb = (a[:2] + a[2:]) / 2, (b[:2] + b[2:]) / 2
    size = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1.0)
    return float(np.hypot(*(ca - cb)) / size)


def link_tracks(observations: Sequence[tuple[int, np.ndarray]], max_gap: int = 5, match_distance: float = 1.0,
                ) -> list[Track]:
    """Join per-frame detections ``(frame, (N, 4) boxes)`` into tracks: a detection continues the track whose
    last box (at most ``max_gap`` frames earlier) overlaps it most, or whose centre is within ``match_distance``
    box sizes; each detection belongs to exactly one track. Tracks are numbered from 1 by first appearance."""
    open_: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    for frame, boxes in sorted(observations, key=lambda o: o[0]):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        still = []
        for t in open_:
            (still if frame - t["frames"][-1] <= max_gap else done).append(t)
        open_ = still
        pairs = []
        if open_ and len(boxes):
            last = np.array([t["boxes"][-1] for t in open_], np.float32)
            ious = iou_matrix(last, boxes)
            for ti, t in enumerate(open_):
                for di in range(len(boxes)):
                    d = _centre_distance(last[ti], boxes[di])
                    if ious[ti, di] > 0 or d <= match_distance:
                        pairs.append((-ious[ti, di], d, ti, di))
        pairs.sort()
        used_t, used_d = set(), set()
        for _, _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            open_[ti]["frames"].append(frame)
            open_[ti]["boxes"].append(boxes[di])
        for di in range(len(boxes)):
            if di not in used_d:
                open_.append({"frames": [frame], "boxes": [boxes[di]]})
    done += open_
    done.sort(key=lambda t: (t["frames"][0], float(t["boxes"][0][1]), float(t["boxes"][0][0])))
    return [Track(i + 1, tuple(t["frames"]), np.array(t["boxes"], np.float32)) for i, t in enumerate(done)]


def keep_mask(chosen: Sequence[Track], frame: int, boxes: np.ndarray, min_iou: float = 0.3) -> np.ndarray:
    """Which of ``boxes`` (the boxes about to be redacted on ``frame``) belong to a chosen track: per track at
    most one, the box that overlaps the track's box most, with IoU >= ``min_iou`` and each centre inside the
    other box. Everything else is redacted."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    keep = np.zeros(len(boxes), bool)
    if not len(boxes):
        return keep
    for track in chosen:
        ref = track.box_at(frame)
        if ref is None:
            continue
        ious = iou_matrix(ref[None].astype(np.float32), boxes)[0]
        for i in np.argsort(-ious):
            if keep[i] or ious[i] < min_iou:
                continue
            b = boxes[i]
            cb, cr = (b[:2] + b[2:]) / 2, (ref[:2] + ref[2:]) / 2
            if (ref[0] <= cb[0] <= ref[2] and ref[1] <= cb[1] <= ref[3]
                    and b[0] <= cr[0] <= b[2] and b[1] <= cr[1] <= b[3]):
                keep[i] = True
                break
    return keep


def tracks_to_json(tracks: Sequence[Track]) -> list[dict[str, Any]]:
    return [{"id": t.id, "frames": list(t.frames), "boxes": [[round(float(v), 2) for v in b] for b in t.boxes]}
            for t in tracks]


def tracks_from_json(data: Sequence[dict[str, Any]]) -> list[Track]:
    return [Track(int(d["id"]), tuple(int(f) for f in d["frames"]), np.array(d["boxes"], np.float32).reshape(-1, 4))
            for d in data]
