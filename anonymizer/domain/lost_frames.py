"""Where a recording lost frames: what did not decode (a file cut short, a damaged stretch), from the times of the
frames that did and what the container declares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

#: A gap between two decoded frames longer than this many frame intervals has frames missing in it.
GAP_FACTOR = 1.5


@dataclass(frozen=True)
class LostStretch:
    from_s: float  # the first missing frame's time (seconds, the clip's own timeline)
    to_s: float  # the time the next decoded frame shows, or the declared end
    frames: int  # about how many frames the stretch held

    def as_dict(self) -> dict[str, float | int]:
        return {"from_s": round(self.from_s, 3), "to_s": round(self.to_s, 3), "frames": self.frames}


def lost_stretches(times: Sequence[float], frame_s: float | None, start_s: float = 0.0,
                   end_s: float | None = None) -> list[LostStretch]:
    """The stretches with no decoded frame: before the first frame (from ``start_s``), between frames more than
    ``GAP_FACTOR`` intervals apart, and after the last one up to the declared end ``end_s``. ``times`` are the
    decoded frames' times in order; ``frame_s`` the nominal frame interval (None: the median interval)."""
    ts = sorted(t for t in times if t == t)
    if not ts:
        return [LostStretch(start_s, end_s, 0)] if end_s is not None and end_s > start_s else []
    if not frame_s or frame_s <= 0:
        steps = sorted(b - a for a, b in zip(ts, ts[1:]) if b > a)
        frame_s = steps[len(steps) // 2] if steps else None
    if not frame_s:
        return []
    out = []
    if ts[0] - start_s >= frame_s * (GAP_FACTOR - 0.5):
        out.append(LostStretch(start_s, ts[0], max(1, round((ts[0] - start_s) / frame_s))))
    for a, b in zip(ts, ts[1:]):
        if b - a > frame_s * GAP_FACTOR:
            out.append(LostStretch(a + frame_s, b, max(1, round((b - a) / frame_s) - 1)))
    last_end = ts[-1] + frame_s
    if end_s is not None and end_s - last_end >= frame_s * (GAP_FACTOR - 1):
        out.append(LostStretch(last_end, end_s, max(1, round((end_s - last_end) / frame_s))))
    return out
