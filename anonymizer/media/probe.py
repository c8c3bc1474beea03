"""What a video file holds, read with PyAV (no decoding beyond the header)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from anonymizer.errors import MediaError


@dataclass(frozen=True)
class Probe:
    path: Path
    codec: str
    width: int
    height: int
    rate: Fraction | None
    time_base: Fraction
    frames: int  # as the container declares it (0 when unknown)
    duration: float | None  # seconds
    has_audio: bool
    creation_time: str | None  # container metadata, verbatim
    start_s: float = 0.0  # the video stream's first time, as the container declares it


def media_error(path: Path, exc: BaseException) -> MediaError:
    """One-line, user-facing description of a PyAV/FFmpeg failure on ``path``."""
    if isinstance(exc, FileNotFoundError):
        return MediaError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return MediaError(f"{path}: is a directory")
    if isinstance(exc, PermissionError):
        return MediaError(f"{path}: permission denied")
    if path.exists() and path.stat().st_size == 0:
        return MediaError(f"{path}: empty file")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return MediaError(f"{path}: not a readable video ({reason})")


def probe(path: Path) -> Probe:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            vs = container.streams.video[0]
            cc = vs.codec_context
            rate = vs.average_rate or vs.guessed_rate
            duration = None
            if vs.duration is not None and vs.time_base is not None:
                duration = float(vs.duration * vs.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            return Probe(
                path=path,
                codec=cc.name,
                width=cc.width,
                height=cc.height,
                rate=Fraction(rate) if rate else None,
                time_base=Fraction(vs.time_base),
                frames=vs.frames or 0,
                duration=duration,
                has_audio=bool(container.streams.audio),
                creation_time=container.metadata.get("creation_time"),
                start_s=float(vs.start_time * vs.time_base) if vs.start_time is not None and vs.time_base else 0.0,
            )
    except MediaError:
        raise
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise media_error(path, exc) from exc
