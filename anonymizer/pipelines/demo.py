"""The demo batch: short clips made from public-domain images with faces and a plate moving across frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from anonymizer.imaging.scene import scene_frames
from anonymizer.media.synth import write_video

DEMO_CLIPS = (
    ("site-a/cam1/clip-720p.mp4", 1280, 720, 50),
    ("site-a/cam2/clip-360p.mp4", 640, 360, 40),
    ("site-b/cam1/clip-480p.mkv", 848, 480, 40),
)


def build_demo_batch(folder: Path) -> Path:
    """Write the demo clips under ``folder`` (skipping those already there); returns ``folder``."""
    for rel, w, h, n in DEMO_CLIPS:
        path = folder / rel
        if path.exists():
            continue
        tmp = path.with_name(".partial-" + path.name)
        write_video(tmp, (frame for frame, _truth in scene_frames(w, h, n)), rate=Fraction(25))
        tmp.replace(path)
    return folder
