"""Detection stages of the anonymise loop: what each detector is shown, in display orientation.

Two passes per kind of object:

- **coarse**: the whole frame scaled to the detector's usual input (faces: long side 960; plates: 640), on every
  keyframe. Finds everything of ordinary size, cheaply.
- **fine**: the frame at full resolution, in overlapping tiles, so that a 16-pixel face or a 40-pixel plate reaches
  the detector at the size it has (a 1080p frame scaled to 960 halves a face; CenterFace then misses most faces under
  20 px). Only tiles where something can be are run: tiles where the picture changed since the previous fine
  keyframe, tiles holding an object already tracked, and every tile on a full scan (the first frame and every
  ``FULL_SCAN_EVERY`` fine keyframes). When most tiles are due, the whole frame runs at once (no overlap wasted).

Boxes leave this module in stored-frame pixels: the redaction works on the stored planes, and the display matrix of
the output is the input's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import clip_boxes, nms
from anonymizer.domain.orientation import boxes_to_display, boxes_to_stored, display_size, quarter_turns, to_display
from anonymizer.domain.tiles import active_tiles, tile_grid
from anonymizer.imaging.motion import MOTION_SCALE, changed, thumbnail
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.reader import Frame

# Tile side and overlap at full resolution, per kind. Objects up to the overlap always lie whole inside one tile;
# larger ones are the coarse pass's (at 4K, 960 px is a quarter: a 96 px face is 24 px there, plenty for CenterFace).
TILE = {"face": 768, "plate": 640}
OVERLAP = {"face": 128, "plate": 192}
FULL_SCAN_EVERY = 5  # fine keyframes: a static region is re-read at least this often
WHOLE_FRAME_SHARE = 0.5  # when this share of the tiles is due, run the whole frame instead
MERGE_IOU = 0.5  # duplicates from overlapping tiles


def _pad32(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    if (ph, pw) == (h, w):
        return rgb
    out = np.zeros((ph, pw, 3), np.uint8)
    out[:h, :w] = rgb
    return out


def run_native(detector: LoadedDetector, rgb: np.ndarray) -> Detections:
    """A detector on an RGB picture at its own resolution (no downscaling): boxes in that picture's pixels."""
    det = detector.detector
    h, w = rgb.shape[:2]
    if det.kind == "face":
        padded = _pad32(rgb)
        found = det.detect(padded, padded.shape[1], padded.shape[0])
    else:
        found = det.detect_native(rgb)  # type: ignore[attr-defined]
    if len(found) == 0:
        return found
    return Detections(clip_boxes(found.xyxy, w, h), found.scores)


def run_tiles(detector: LoadedDetector, rgb: np.ndarray, tiles: np.ndarray) -> Detections:
    """A detector on each tile of an RGB picture at full resolution; boxes merged into the picture's pixels."""
    out = Detections.empty()
    for x1, y1, x2, y2 in tiles:
        found = run_native(detector, np.ascontiguousarray(rgb[y1:y2, x1:x2]))
        if len(found):
            out = out.concat(Detections(found.xyxy + np.array([x1, y1, x1, y1], np.float32), found.scores))
    if len(out) > 1:
        out = out[nms(out.xyxy, out.scores, MERGE_IOU)]
    return out


@dataclass
class FineState:
    """What the fine pass of one kind remembers between its keyframes."""

    tiles: np.ndarray
    thumb: np.ndarray | None = None
    keyframes: int = 0
    due: np.ndarray | None = None  # tiles run on the latest fine keyframe (refinements between reuse them)
    tile_runs: int = 0
    whole_runs: int = 0


@dataclass
class FrameDetector:
    """Runs the detectors on frames of one clip, in display orientation, returning stored-frame boxes."""

    detectors: dict[str, LoadedDetector]
    width: int  # stored size
    height: int
    rotation: int = 0
    fine_kinds: tuple[str, ...] = ()
    fine: dict[str, FineState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.turns = quarter_turns(self.rotation)
        self.display_w, self.display_h = display_size(self.width, self.height, self.turns)
        for kind in self.fine_kinds:
            self.fine[kind] = FineState(tile_grid(self.display_w, self.display_h, TILE[kind], OVERLAP[kind]))

    # ----------------------------------------------------------------------------------------------- orientation

    def display_rgb(self, frame: Frame, width: int | None = None, height: int | None = None) -> np.ndarray:
        """The frame as shown, scaled to (width, height) of the display (default: full size)."""
        width, height = width or self.display_w, height or self.display_h
        sw, sh = (height, width) if self.turns % 2 else (width, height)
        return to_display(frame.rgb(sw, sh), self.turns)

    def to_stored(self, dets: Detections) -> Detections:
        if self.turns == 0 or len(dets) == 0:
            return dets
        return Detections(boxes_to_stored(dets.xyxy, self.turns, self.width, self.height), dets.scores)

    def to_display_boxes(self, xyxy: np.ndarray) -> np.ndarray:
        return boxes_to_display(xyxy, self.turns, self.width, self.height) if self.turns else xyxy

    # ---------------------------------------------------------------------------------------------------- passes

    def coarse(self, frame: Frame, kind: str) -> Detections:
        det = self.detectors[kind].detector
        w, h = det.input_size(self.display_w, self.display_h)
        rgb = self.display_rgb(frame, w, h)
        return self.to_stored(det.detect(rgb, self.display_w, self.display_h))

    def fine_keyframe(self, frame: Frame, kind: str, tracked: np.ndarray) -> Detections:
        """The fine pass on a keyframe: decide which tiles are due (change, tracked objects, full scan), run them."""
        state = self.fine[kind]
        luma = frame.planes[0] if self.turns == 0 else to_display(frame.planes[0], self.turns)
        thumb = thumbnail(luma)
        full = state.keyframes % FULL_SCAN_EVERY == 0 or state.thumb is None
        if full:
            due = np.ones(len(state.tiles), bool)
        else:
            mask = changed(state.thumb, thumb)
            for x1, y1, x2, y2 in self.to_display_boxes(tracked).astype(np.int64) if len(tracked) else []:
                mask[max(0, y1) // MOTION_SCALE : max(0, y2) // MOTION_SCALE + 1,
                     max(0, x1) // MOTION_SCALE : max(0, x2) // MOTION_SCALE + 1] = True
            due = active_tiles(state.tiles, mask, MOTION_SCALE)
        state.thumb = thumb
        state.keyframes += 1
        state.due = due
        return self._run_fine(frame, kind, due)

    def fine_between(self, frame: Frame, kind: str) -> Detections:
        """The fine pass on a frame between keyframes (a refinement): the tiles due on the latest keyframe."""
        state = self.fine[kind]
        due = state.due if state.due is not None else np.ones(len(state.tiles), bool)
        return self._run_fine(frame, kind, due)

    def _run_fine(self, frame: Frame, kind: str, due: np.ndarray) -> Detections:
        state = self.fine[kind]
        if not due.any():
            return Detections.empty()
        rgb = self.display_rgb(frame)
        if due.mean() >= WHOLE_FRAME_SHARE:
            state.whole_runs += 1
            found = run_native(self.detectors[kind], rgb)
        else:
            state.tile_runs += int(due.sum())
            found = run_tiles(self.detectors[kind], rgb, state.tiles[due])
        return self.to_stored(found)

    def image(self, rgb: np.ndarray, kind: str) -> Detections:
        """Every pass on a single displayed picture (a photo): coarse, plus every fine tile."""
        h, w = rgb.shape[:2]
        det = self.detectors[kind].detector
        iw, ih = det.input_size(w, h)
        import cv2

        small = cv2.resize(rgb, (iw, ih), interpolation=cv2.INTER_AREA) if (iw, ih) != (w, h) else rgb
        found = det.detect(np.ascontiguousarray(small), w, h)
        if kind in self.fine:
            found = found.concat(run_native(self.detectors[kind], rgb))
        if len(found) > 1:
            found = found[nms(found.xyxy, found.scores, MERGE_IOU)]
        return found
