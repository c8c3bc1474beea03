"""Write footage made in code (demo batch, tests): RGB frames with chosen timestamps, optional audio tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    rate: Fraction = Fraction(25),
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    codec: str = "libx264",
    crf: int = 16,
    audio_seconds: float = 0.0,
    metadata: dict[str, str] | None = None,
    rotation: int = 0,
    gop: int | None = None,
) -> Path:
    """Encode RGB frames; ``pts`` (in ``time_base`` units) gives variable-frame-rate timestamps; ``gop``: a
    keyframe every ``gop`` frames exactly (libx264; default: the encoder's choice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    time_base = time_base or Fraction(1, int(rate) * 100 if rate.denominator == 1 else 90000)
    with av.open(str(path), mode="w") as out:
        if metadata:
            out.metadata.update(metadata)
        options = {"crf": str(crf), "preset": "veryfast"} if codec == "libx264" else {}
        if gop and codec == "libx264":
            options.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
        vs = out.add_stream(codec, rate=rate, options=options)
        vs.pix_fmt = "yuv420p"
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        if rotation:
            vs.set_display_rotation(rotation)
        aus = None
        if audio_seconds > 0:
            aus = out.add_stream("aac", rate=48000)
        first = True
        for i, rgb in enumerate(frames):
            if first:
                vs.height, vs.width = rgb.shape[:2]
                first = False
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = pts[i] if pts is not None else int(round(i / rate / time_base))
            frame.time_base = time_base
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aus is not None:
            samples = int(48000 * audio_seconds)
            t = np.arange(samples) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            step = 1024
            for start in range(0, samples, step):
                chunk = tone[start : start + step]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                af.sample_rate = 48000
                af.pts = start
                af.time_base = Fraction(1, 48000)
                for packet in aus.encode(af):
                    out.mux(packet)
            for packet in aus.encode(None):
                out.mux(packet)
    return path
