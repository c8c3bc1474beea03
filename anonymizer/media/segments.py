"""Segments of a clip with PyAV: thumbnails at chosen times, and rewriting a clip frame by frame (redact whole
frames over a segment, cut a segment out, or keep only a segment as a file of its own).

Every output goes through ``VideoWriter``: a hidden temporary file beside the target, renamed into place only when
complete, so a reader of the target sees the old file or the new one, never half of one. Frames keep their
timestamps (pts and time base passed through; an export is shifted so that its first frame is at 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np

from anonymizer.errors import MediaError
from anonymizer.media.probe import media_error
from anonymizer.media.reader import Frame, VideoReader
from anonymizer.media.writer import VideoWriter


@dataclass(frozen=True)
class Thumbnail:
    requested_s: float
    frame_s: float  # time of the frame shown at the requested time
    jpeg: bytes


def _jpeg(frame: av.VideoFrame, width: int) -> bytes:
    height = max(2, int(round(frame.height * width / frame.width / 2)) * 2)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    cc = av.CodecContext.create("mjpeg", "w")
    cc.width, cc.height, cc.pix_fmt = width, height, "yuvj420p"
    cc.time_base = Fraction(1, 25)
    cc.options = {"q:v": "4"}
    small.pts = 0
    data = b"".join(bytes(p) for p in cc.encode(small))
    data += b"".join(bytes(p) for p in cc.encode(None))
    return data


def jpeg_of(rgb: np.ndarray, width: int) -> bytes:
    """A JPEG of an (H, W, 3) uint8 RGB image scaled to ``width`` pixels across (a crop of a frame)."""
    h, w = rgb.shape[:2]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: h - h % 2 or h, : w - w % 2 or w]), format="rgb24")
    return _jpeg(frame, max(2, width - width % 2))


def thumbnails(path: Path, times_s: Sequence[float], width: int = 240) -> list[Thumbnail]:
    """A JPEG of the frame on screen at each of ``times_s`` (seconds from the clip's start, increasing)."""
    wanted = sorted(times_s)
    out: list[Thumbnail] = []
    if not wanted:
        return out
    i = 0
    prev: av.VideoFrame | None = None
    prev_s = 0.0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            for frame in container.decode(vs):
                t = float(frame.pts * frame.time_base) if frame.pts is not None else prev_s
                while i < len(wanted) and wanted[i] < t and prev is not None:
                    out.append(Thumbnail(wanted[i], prev_s, _jpeg(prev, width)))
                    i += 1
                if i >= len(wanted):
                    break
                prev, prev_s = frame, t
            while i < len(wanted) and prev is not None:
                out.append(Thumbnail(wanted[i], prev_s, _jpeg(prev, width)))
                i += 1
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise media_error(path, exc) from exc
    return out


@dataclass(frozen=True)
class Rewritten:
    path: Path
    frames_in: int
    frames_out: int
    frames_modified: int
    first_s: float | None  # time of the first frame written (after any shift)


def rewrite(
    src: Path,
    target: Path,
    keep: Callable[[int], bool] = lambda i: True,
    modify: Callable[[Frame], bool] | None = None,
    shift_to_zero: bool = False,
    crf: int = 18,
    preset: str = "veryfast",
    mode: int = 0o640,
) -> Rewritten:
    """Re-encode ``src`` into ``target`` (atomically; ``target`` may be ``src`` itself): frames for which
    ``keep(index)`` is false are left out, ``modify(frame)`` may change a frame's planes in place (returning
    whether it did). Timestamps pass through unchanged, or shifted so the first kept frame is at 0. Audio and
    container metadata are not copied."""
    n_in = n_out = n_mod = 0
    first_pts: int | None = None
    first_s: float | None = None
    with VideoReader(src) as reader:
        writer: VideoWriter | None = None
        try:
            for frame in reader.frames():
                n_in += 1
                if not keep(frame.index):
                    continue
                if writer is None:
                    writer = VideoWriter(target, reader.width, reader.height, reader.time_base, reader.rate,
                                         crf=crf, preset=preset, rotation=frame.rotation, mode=mode)
                if modify is not None and modify(frame):
                    n_mod += 1
                av_frame = frame.av_frame
                assert av_frame is not None
                if shift_to_zero and av_frame.pts is not None:  # type: ignore[attr-defined]
                    if first_pts is None:
                        first_pts = av_frame.pts  # type: ignore[attr-defined]
                    av_frame.pts -= first_pts  # type: ignore[attr-defined]
                if first_s is None and av_frame.pts is not None:  # type: ignore[attr-defined]
                    first_s = float(av_frame.pts * frame.time_base)  # type: ignore[attr-defined]
                writer.write_frame(av_frame)  # type: ignore[arg-type]
                n_out += 1
            if writer is None:
                raise MediaError(f"{src}: no frame left to write to {target}")
            writer.commit()
        finally:
            if writer is not None:
                writer.abort()
    return Rewritten(target, n_in, n_out, n_mod, first_s)
