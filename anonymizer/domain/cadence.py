"""How often detectors run on a clip of a given frame rate (pure).

The default strides (faces every 5th frame, plates every 10th) and the static bound (250 frames) were set for
25-30 fps footage: 0.2 s, 0.4 s and 10 s. Counted in frames, they space keyframes 2.5 times wider in time on a
10 fps clip (EgoBlur's glasses, many security cameras): a walking person then moves for 0.5 s between face
keyframes. A slower clip therefore gets the same time between keyframes or less; a faster one keeps the configured
frames (more keyframes per second than at 25 fps: never fewer than configured, recall first).
"""

from __future__ import annotations

REFERENCE_FPS = 25.0


def stride_for_rate(stride: int, rate: float | None) -> int:
    """The stride in frames for a clip of ``rate`` fps: ``stride`` as configured at 25 fps or more (or an unknown
    rate); below, the largest stride whose keyframes are no farther apart in time than ``stride`` frames at 25 fps
    (at least 1)."""
    if not rate or rate >= REFERENCE_FPS:
        return stride
    return max(1, min(stride, int(stride * rate / REFERENCE_FPS + 1e-9)))


def frames_within(seconds: float, rate: float | None, frames: int) -> int:
    """A bound of ``frames`` frames (set for 25 fps) that also spans at most ``seconds`` at ``rate`` fps (at least
    one frame)."""
    if not rate:
        return frames
    return max(1, min(frames, int(seconds * rate + 1e-9)))
