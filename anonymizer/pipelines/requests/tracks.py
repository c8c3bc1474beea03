"""Face tracks of a segment, for an access copy that keeps only the requester: the face detector runs on the
segment's frames (at most ``MAX_DETECTIONS`` of them, evenly spread), boxes are joined into tracks by position
(``anonymizer.domain.face_tracks``: no recognition, no embedding, nothing linked across clips), and each track gets
a few cropped previews for the review page. The tracks of a request are kept in ``ARCHIVE/requests/ID/tracks.json``
(boxes and frame numbers only, mode 0600) for ``requests export --redact-others``. A photo is a clip of one frame,
read with Pillow as displayed (``media.photo``), its tracks a face each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from anonymizer.config import Config
from anonymizer.domain.face_tracks import Track, link_tracks, tracks_from_json, tracks_to_json
from anonymizer.domain.orientation import quarter_turns, to_display
from anonymizer.domain.uprightness import Uprightness
from anonymizer.inference.detectors import LoadedDetector, load_detectors
from anonymizer.media.photo import is_photo, read_photo
from anonymizer.media.reader import VideoReader
from anonymizer.media.segments import jpeg_of
from anonymizer.pipelines.detection import FrameDetector
from anonymizer.pipelines.requests.common import RequestError, private_file, request_dir

MAX_DETECTIONS = 300  # frames of one segment the face detector runs on
PREVIEWS = 3  # cropped previews per track
PREVIEW_WIDTH = 128


@dataclass(frozen=True)
class SegmentTracks:
    segment: str
    clip: str
    clip_sha256: str
    frames: tuple[int, int]  # first and last frame of the clip in the segment
    stride: int  # the detector ran on every stride-th frame of the segment
    tracks: list[Track]

    def to_json(self) -> dict[str, Any]:
        return {"segment": self.segment, "clip": self.clip, "clip_sha256": self.clip_sha256,
                "frames": list(self.frames), "stride": self.stride, "tracks": tracks_to_json(self.tracks)}


def face_detector(config: Config) -> LoadedDetector:
    s = config.anonymise
    return load_detectors(s.face_threshold, s.plate_threshold, s.face_max_side, s.plate_max_side,
                          device=s.device, kinds=("face",), face_first_stage=s.face_first_stage)["face"]


def find_tracks(path: Path, frames: Sequence[int], detector: LoadedDetector) -> tuple[list[Track], int]:
    """Tracks of the faces on ``frames`` (indices of the clip's frames, a contiguous run) and the stride used.
    A photo's one frame is its picture as displayed, the one ``anonymise_photo`` redacts: boxes in its pixels."""
    wanted = sorted(frames)
    if not wanted:
        return [], 1
    if is_photo(path):  # the photo's own passes (one box per face), as its anonymiser counts them
        rgb = read_photo(path).rgb
        fd_photo = FrameDetector({"face": detector}, rgb.shape[1], rgb.shape[0])
        return link_tracks([(0, fd_photo.image(rgb, "face").xyxy)]), 1
    stride = max(1, ceil(len(wanted) / MAX_DETECTIONS))
    detect_on = set(wanted[::stride]) | {wanted[-1]}
    observations = []
    with VideoReader(path) as reader:
        fd: FrameDetector | None = None
        for frame in reader.frames():
            if frame.index > wanted[-1]:
                break
            if frame.index in detect_on:
                if fd is None:  # the face as displayed (a rotated phone clip), boxes back in stored pixels
                    fd = FrameDetector({"face": detector}, reader.width, reader.height, rotation=frame.rotation,
                                       upright=Uprightness())  # faces upside down too (a ceiling camera)
                observations.append((frame.index, fd.coarse(frame, "face").xyxy))
    return link_tracks(observations, max_gap=3 * stride), stride


def previews(path: Path, tracks: Sequence[Track]) -> dict[int, list[tuple[int, bytes]]]:
    """Per track, up to ``PREVIEWS`` JPEG crops (frame index, bytes): its first, middle and last observation, the
    box grown by half its size on each side so the DPO sees the person, not only the face."""
    wanted: dict[int, list[tuple[int, np.ndarray]]] = {}
    for t in tracks:
        picks = sorted({t.frames[0], t.frames[len(t.frames) // 2], t.frames[-1]})[:PREVIEWS]
        for f in picks:
            wanted.setdefault(f, []).append((t.id, t.box_at(f)))  # type: ignore[arg-type]
    out: dict[int, list[tuple[int, bytes]]] = {t.id: [] for t in tracks}
    if not wanted:
        return out
    last = max(wanted)
    if is_photo(path):
        rgb = read_photo(path).rgb
        h, w = rgb.shape[:2]
        for tid, b in wanted.get(0, []):
            crop = _grown_crop(rgb, b, w, h)
            if crop is not None:
                out[tid].append((0, jpeg_of(crop, PREVIEW_WIDTH)))
        return out
    with VideoReader(path) as reader:
        for frame in reader.frames():
            if frame.index > last:
                break
            if frame.index not in wanted:
                continue
            rgb = frame.rgb(reader.width, reader.height)
            for tid, b in wanted[frame.index]:
                crop = _grown_crop(rgb, b, reader.width, reader.height)
                if crop is not None:
                    crop = to_display(crop, quarter_turns(frame.rotation))
                    out[tid].append((frame.index, jpeg_of(crop, PREVIEW_WIDTH)))
    return out


def _grown_crop(rgb: np.ndarray, box: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """``box`` grown by half its size on each side, cut out of ``rgb``; None when under 4 pixels a side."""
    x1, y1, x2, y2 = (float(v) for v in box)
    gx, gy = (x2 - x1) / 2, (y2 - y1) / 2
    xa, ya = max(0, int(x1 - gx)), max(0, int(y1 - gy))
    xb, yb = min(width, int(x2 + gx)), min(height, int(y2 + gy))
    return rgb[ya:yb, xa:xb] if xb - xa >= 4 and yb - ya >= 4 else None


def tracks_path(config: Config, request_id: str) -> Path:
    return request_dir(config, request_id) / "tracks.json"


def save_tracks(config: Config, request_id: str, found: Sequence[SegmentTracks]) -> Path:
    path = tracks_path(config, request_id)
    doc = {"request": request_id, "segments": {s.segment: s.to_json() for s in found}}
    private_file(path, json.dumps(doc, indent=1).encode("utf-8"))
    return path


def load_tracks(config: Config, request_id: str) -> dict[str, dict[str, Any]]:
    """The tracks found by ``requests review`` per segment id (empty when none were looked for)."""
    path = tracks_path(config, request_id)
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        segs = doc["segments"]
        for s in segs.values():
            s["tracks"] = tracks_from_json(s["tracks"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RequestError(f"{path}: cannot be read ({exc}); run 'anonymizer requests review {request_id}' "
                           "again") from exc
    return segs
