"""Anonymise one clip: decode -> detect (coarse and full-resolution passes, display orientation) -> carry boxes ->
redact -> residual check on the redacted frames in hand -> encode -> verify -> publish or quarantine -> report.

The loop is a sequence of small stages over one state object (``_ClipPass``): frames wait in a short buffer until
the boxes covering them are final (a face first seen on a later keyframe is also redacted on the frames just before
it), are redacted, wait ``HOLD`` frames more (so that a residual finding can still be redacted on the frames before
it), then are encoded. Only YUV planes are buffered.

The residual check closes the loop: the detectors run again on sample redacted frames; anything they find outside
what was redacted is redacted there and on the neighbouring frames, and the clip is processed once more with every
detector at stride 1 and each finding carried as a forced box. What the second pass still finds sends the output to
the quarantine folder, never to the final path.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from anonymizer import safe_files
from anonymizer.domain.cadence import frames_within, stride_for_rate
from anonymizer.domain.detections import Detections
from anonymizer.domain.geometry import scale_about_centre
from anonymizer.domain.lost_frames import lost_stretches
from anonymizer.domain.orientation import display_size, quarter_turns
from anonymizer.domain.uprightness import Uprightness
from anonymizer.domain.redacted_area import ShareTally, redacted_share
from anonymizer.domain.regions import Regions, regions_for
from anonymizer.domain.tracking import BoxCarrier, CarryParams
from anonymizer.errors import OutputExistsError, VerificationError
from anonymizer.heap import return_large_buffers
from anonymizer.imaging.local_motion import LocalMotion
from anonymizer.imaging.motion import CameraPath, thumbnail, unchanged
from anonymizer.imaging.redact import redact_yuv420, region_mask
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.inference.manifest import sha256_file
from anonymizer.media.probe import Probe, probe
from anonymizer.media.reader import Frame, PacketScan, VideoReader, read_packet_times, scan_packets
from anonymizer.media.splice import SpliceWriter, copy_problem
from anonymizer.media.writer import VideoWriter
from anonymizer.pipelines.detection import NATIVE_WITHIN, SMALL, FrameDetector, enlarged_for
from anonymizer.safe_files import private_dirs
from anonymizer.settings import AnonymiseSettings

log = logging.getLogger(__name__)

OUTPUT_MODE = 0o640
LEAK_OVERLAP = 0.5  # a residual detection less than half inside the redacted area is a possible leak
# Halvings of a keyframe interval where something happens: at most 3 extra detector runs per interval (busy
# traffic footage otherwise turns every plate interval into stride 1 and runs 4x slower).
REFINE_DEPTH = 2
# Motion, in box sizes between two detections, above which the frames between are looked at. Faces bounce (a
# jumping person's face dips and comes back within a stride); vehicles and their plates move smoothly, and a plate's
# box size is its width, so only a fast plate needs it.
REFINE_MOTION = {"face": 0.5, "plate": 1.0}
# The full-resolution pass runs on every Nth keyframe of the coarse one: small objects are far away and move few
# pixels per frame. Plates at 2 since that pass, with ``plate_fine platedet``, costs several coarse runs.
FINE_STRIDE_FACTOR = {"face": 1, "plate": 2}
# Static gating: on a keyframe where nothing changed since a pass's previous detector run (the motion thumbnails,
# ``imaging.motion.unchanged``), that run's detections are carried on instead (identical pictures give identical
# detections). Every pass still runs for real at least every STATIC_RECHECK frames (the full-resolution pass on the
# whole frame), so an object that appears without changing the thumbnail is found within that plus one stride
# (docs/decisions/0002-plates-full-resolution-pass.md). Not in the residual loop's second pass.
STATIC_RECHECK = 250
STATIC_RECHECK_S = 10.0  # and at most this many seconds on a slower clip (domain.cadence)
# Frames kept after redaction, before encoding: a residual finding is also redacted on this many frames before it.
HOLD = 10
READ_AHEAD = 2  # frames each decoder may decode ahead of the loop (a 4K frame is 12 MiB)
QUARANTINE_DIR = "quarantine"
# Fewer bytes per frame than this cannot be a whole output: every encoded frame takes more (its length field alone).
MIN_BYTES_PER_FRAME = 4
KINDS = ("face", "plate")
# keep(frame index, kind, (N, 4) boxes in stored pixels) -> (N,) bool: boxes to leave visible.
KeepFn = Callable[[int, str, np.ndarray], np.ndarray]
# progress(stage, frames done in that stage, frames expected or None), called as each frame goes: "detect" (decoded
# and run through the detectors), "second pass" (the same after a residual finding), "write" (encoded once decoding
# ended; the output is then built), "verify" (once).
ProgressFn = Callable[[str, int, "int | None"], None]


def report_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".report.json")


def models_report(detectors: dict[str, LoadedDetector]) -> list[dict]:
    """The report's list of the models that ran: name, kind, package, sha256 (installed and source), threshold."""
    return [
        {"name": m.spec.name, "kind": kind if m is d.model else m.spec.kind, "package": m.spec.package,
         "sha256": m.sha256, "source_sha256": m.spec.sha256,
         "threshold": d.detector.threshold if m is d.model else m.spec.threshold, "licence": m.spec.licence}
        for kind, d in detectors.items() for m in d.models
    ]


def quarantine_path_for(dst: Path, out_root: Path | None = None) -> Path:
    """Where an output that failed its residual check goes: ``OUT/quarantine/<same relative path>`` when the
    output root is known, else a ``quarantine`` folder beside the output."""
    if out_root is not None:
        try:
            return out_root / QUARANTINE_DIR / dst.relative_to(out_root)
        except ValueError:
            pass
    return dst.parent / QUARANTINE_DIR / dst.name


@dataclass
class ClipReport:
    input: str
    output: str
    width: int
    height: int
    frames: int = 0
    rotation: int = 0
    audio: str = "none"
    status: str = "published"  # published | quarantined
    quarantined: bool = False
    quarantine_reason: str = ""
    passes: int = 1
    models: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    keyframes: dict[str, int] = field(default_factory=dict)
    detections: dict[str, int] = field(default_factory=dict)
    refined_frames: dict[str, int] = field(default_factory=dict)  # detector runs between keyframes
    static_keyframes: dict[str, int] = field(default_factory=dict)  # keyframes whose detections were carried on
    # The strides this clip ran with (settings' strides scaled to a frame rate under 25 fps: domain.cadence) and its
    # static bound in frames.
    strides: dict[str, int] = field(default_factory=dict)
    static_recheck: int = STATIC_RECHECK
    # The camera path: frames whose shift was taken as the camera's (tracks carried with it), the largest shift (px).
    camera: dict = field(default_factory=dict)
    # Which way up the faces said the picture is (turned: upside down as displayed) and how often both ways were run.
    upright: dict = field(default_factory=dict)
    copy: dict = field(default_factory=dict)  # copy_unchanged: whether GOPs were copied, how many, or why not
    fine: dict[str, dict] = field(default_factory=dict)  # full-resolution pass: tiles and whole frames run
    frames_with_regions: int = 0
    frames_carried_only: int = 0
    verification: dict = field(default_factory=dict)
    # Frames of the input that did not decode (a recording cut short, a damaged stretch): how many, and where.
    lost: dict = field(default_factory=dict)
    residual: dict = field(default_factory=dict)
    # A photo (pipelines/photo.py): its format, the EXIF orientation applied, the metadata kinds dropped.
    photo: dict = field(default_factory=dict)
    # The share of the picture redacted (union of the regions over the frame's area): mean over frames, worst frame.
    redacted_share: dict = field(default_factory=dict)
    # The input this report describes (bytes, mtime_ns, sha256): --accept-residual publishes a quarantined copy
    # only for the same input.
    input_file: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    fps: float = 0.0

    @property
    def possible_leaks(self) -> list[dict]:
        """Findings that were not closed: a published clip has none unless the user accepted them."""
        if self.residual.get("accepted"):
            return []
        return list(self.residual.get("possible_leaks", []))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def residual_leaks(
    found: dict[str, Detections], regions: Regions, width: int, height: int, frame: int
) -> list[dict]:
    """Detections on a redacted frame that lie mostly outside what was redacted on that frame."""
    mask = region_mask(regions, width, height)
    leaks = []
    for kind, dets in found.items():
        for box, score in dets:
            x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
            x2, y2 = min(width, int(math.ceil(box[2]))), min(height, int(math.ceil(box[3])))
            area = max(1, (x2 - x1) * (y2 - y1))
            inside = float(mask[y1:y2, x1:x2].sum()) / area if x2 > x1 and y2 > y1 else 0.0
            if inside < LEAK_OVERLAP:
                leaks.append({"frame": frame, "kind": kind, "box": [round(float(v), 1) for v in box],
                              "score": round(score, 3), "inside_redacted": round(inside, 3)})
    return leaks


def _sample_indices(expected_frames: int, samples: int, strides: tuple[int, ...] = ()) -> set[int]:
    """About one frame per 25 checked, at least 2, at most ``samples``: the check costs two detector runs per
    sample, which must stay small beside the clip's own processing whatever its length. Evenly spread, each moved
    to the nearest frame that is no detector's keyframe (a multiple of one of ``strides``, or the last frame):
    there the coarse detectors already ran on the same pixels, so the check would mostly repeat them, while the
    frames between keyframes, covered by carried boxes only, are where a leak can hide."""
    if samples <= 0 or expected_frames <= 0:
        return set()
    samples = min(samples, max(2, -(-expected_frames // 25)))
    if samples >= expected_frames:
        return set(range(expected_frames))
    last = expected_frames - 1
    strides = tuple(s for s in strides if s > 1)
    reach = max(strides, default=1)
    picked: set[int] = set()
    for x in np.linspace(1, last, samples):
        i = int(round(x))
        free = [j for step in range(reach + 1) for j in (i + step, i - step)
                if 0 <= j < last and j not in picked and all(j % s for s in strides)]
        picked.add(free[0] if free else i)
    return picked


#: A clip of unknown length has one frame in this many checked as it comes (the known-length rule's rate).
STREAM_SAMPLE_EVERY = 25


@dataclass(frozen=True)
class StreamSamples:
    """The residual check's samples of a clip whose frame count and duration are unknown (a raw H.264 stream):
    one frame in every ``every``, each moved forward to the first frame that is no detector's keyframe (a multiple
    of one of ``strides``), as ``_sample_indices`` does for a clip of known length."""

    every: int
    strides: tuple[int, ...] = ()

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int) or index < 1:
            return False
        strides = tuple(s for s in self.strides if s > 1)

        def free(j: int) -> bool:
            return all(j % s for s in strides)

        base = index - (index - 1) % self.every
        return free(index) and not any(free(j) for j in range(base, index))


def unclosed(findings: list[dict]) -> list[dict]:
    """Second-pass findings that may have leaked: one still visible after its frame was redacted again, or one the
    check kept finding (another of its kind within HOLD + 1 frames: an object that persists where every detector
    ran on every frame and missed it, so the frames before the first finding may show it too). A single finding
    closed on its frame is a passing pattern (in practice a false positive on the redacted frame) and was redacted
    on HOLD frames around it: it is listed as closed, not quarantined."""
    out = []
    for f in findings:
        persistent = any(g is not f and g["kind"] == f["kind"] and 0 < abs(g["frame"] - f["frame"]) <= HOLD + 1
                         for g in findings)
        if f.get("after_redaction") or persistent:
            out.append(f)
    return out


def regions_for_image(
    rgb: np.ndarray, settings: AnonymiseSettings, detectors: dict[str, LoadedDetector], keep: KeepFn | None = None
) -> tuple[Regions, dict[str, Detections]]:
    """What the pipeline redacts on a single picture (a photo, as shown): every pass of every detector, the
    full-resolution one included, and small pictures scaled up for the plate detector. The regions cover every box
    of every pass (``FrameDetector.image_passes``): a box that duplicates or lies inside a better one is dropped from
    the detections returned (one per object, for scoring: ``suppress_redundant``), never from what is redacted, so
    that a pass finding more can never leave a pixel less redacted. ``keep(0, kind, boxes)`` (an access copy: the
    requester's face) leaves the boxes it marks out of the regions, not out of the detections."""
    height, width = rgb.shape[:2]
    fd = FrameDetector(detectors, width, height, fine_kinds=tuple(detectors))
    every = {kind: fd.image_passes(rgb, kind) for kind in detectors}
    found = {kind: fd.suppressed(boxes) for kind, boxes in every.items()}
    if keep is not None:
        every = {kind: boxes[~np.asarray(keep(0, kind, boxes.xyxy), bool).reshape(-1)] if len(boxes) else boxes
                 for kind, boxes in every.items()}
    empty = np.zeros((0, 4), np.float32)
    regions = regions_for(
        every["face"].xyxy if "face" in every else empty, every["plate"].xyxy if "plate" in every else empty,
        width, height, settings.face_scale, settings.plate_pad,
    )
    return regions, found


@dataclass(frozen=True)
class Forced:
    """A residual finding redacted on the frames around it: ``box`` (stored pixels) found on ``frame``."""

    kind: str
    frame: int
    box: tuple[float, float, float, float]

    def box_at(self, frame: int, reach: int, follow: BoxCarrier) -> np.ndarray | None:
        """The finding's box on a frame within ``reach`` of its own: where the picture's motion takes it, until
        it is lost (``BoxCarrier.follow``)."""
        if abs(frame - self.frame) > reach:
            return None
        return follow.follow(self.frame, np.asarray(self.box, np.float32), frame)


@dataclass
class _Pass:
    """One detector pass feeding one carrier: ``coarse`` (scaled frame) or ``fine`` (full resolution)."""

    name: str
    kind: str
    fine: bool
    carrier: BoxCarrier
    # Static gating: the thumbnail and frame of the pass's latest detector run, and what that run found; the frame
    # of its latest run on the whole frame (every coarse run; a full scan of the fine pass).
    thumb: np.ndarray | None = None
    last_run: int = -1
    last_whole: int = -1
    last: Detections = field(default_factory=Detections.empty)


def _carry(stride: int, settings: AnonymiseSettings, kind: str) -> CarryParams:
    return CarryParams(stride=stride, extend=settings.carry_frames, refine_motion=REFINE_MOTION[kind])


def _full_resolution_role(width: int, height: int, settings: AnonymiseSettings, kind: str) -> str:
    """How a kind sees a frame of this size at full resolution: ``fine`` (its coarse pass scales the frame down by
    more than ``NATIVE_WITHIN``: small objects need the full-resolution pass too), ``native`` (it would scale it
    down by at most that: the coarse pass runs at full resolution instead, with no fine pass) or ``none``."""
    if settings.small_objects == "off":
        return "none"
    long_side = max(width, height)
    max_side = settings.face_max_side if kind == "face" else settings.plate_max_side
    if not max_side or long_side <= max_side:
        return "none"
    return "fine" if long_side > max_side * NATIVE_WITHIN[kind] else "native"


def fine_kinds_for(width: int, height: int, settings: AnonymiseSettings, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Kinds that need the full-resolution pass besides their coarse one (``_full_resolution_role``)."""
    return tuple(k for k in kinds if _full_resolution_role(width, height, settings, k) == "fine")


def native_kinds_for(width: int, height: int, settings: AnonymiseSettings, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Kinds whose coarse pass runs at full resolution (``_full_resolution_role``)."""
    return tuple(k for k in kinds if _full_resolution_role(width, height, settings, k) == "native")


class _ClipPass:
    """One pass over a clip: decode, detect, carry, redact, check, encode. State lives here, stages are methods."""

    def __init__(self, src: Path, writer_for: Callable[[Frame, int, int, object], VideoWriter | SpliceWriter], settings: AnonymiseSettings,
                 detectors: dict[str, LoadedDetector], check_detectors: dict[str, LoadedDetector], report: ClipReport,
                 samples: "set[int] | StreamSamples", forced: list[Forced], dense: bool,
                 progress: ProgressFn | None, on_regions: Callable[[int, Regions], None] | None,
                 keep: KeepFn | None = None, decode_threads: int | None = None, expected: int | None = None) -> None:
        self.src = src
        self.decode_threads = decode_threads  # 1 for a damaged input: only one thread decodes it reproducibly
        self.writer_for = writer_for
        self.settings = settings
        self.detectors = detectors
        self.check_detectors = check_detectors
        self.report = report
        self.samples = samples
        self.forced = forced
        self.dense = dense  # second pass: every detector on every frame
        self.progress = progress
        self.expected = expected  # frames, for progress (None when unknown)
        self.encoded = 0
        self.writing = False  # decoding ended: what is left is encoding the frames held
        self.on_regions = on_regions
        self.keep = keep
        self.findings: list[dict] = []
        self.new_forced: list[Forced] = []
        self.input_times: list[float] = []
        self.buffer: deque[Frame] = deque()  # decoded for the detectors, while a detector may still run on them
        self.pts: deque[int | None] = deque()  # pts of the frames detected but not yet emitted
        self.emitted = 0  # index of the next frame to redact and encode
        self.held: deque[tuple[Frame, Regions]] = deque()
        self.writer: VideoWriter | SpliceWriter | None = None
        # With a SpliceWriter: every redaction applied to each frame not yet handed over, in order.
        self.applied: dict[int, list[Regions]] = {}
        self.passes: list[_Pass] = []
        self.fd: FrameDetector | None = None
        self.check_fd: FrameDetector | None = None  # the residual check's detectors, coarse pass only
        self.checked = 0
        self.sampled: list[int] = []  # the samples this pass reached
        self.last_index: int | None = None  # known once the decoder has ended
        self.unchanged_samples = 0  # samples not checked: the picture of the latest clean check (_same_as_last_check)
        self.check_thumb: tuple[int, np.ndarray] | None = None
        self._thumb: tuple[int, np.ndarray] | None = None
        self.camera = CameraPath()  # the scene's shift in the picture, frame by frame (the carriers follow it)
        self.motion: LocalMotion | None = None  # the picture's local motion, for the carriers' measured paths
        self.share = ShareTally()  # the share of each frame redacted, as it is encoded

    # ------------------------------------------------------------------------------------------------- set-up

    def _start(self, frame: Frame, width: int, height: int, reader: VideoReader) -> None:
        s = self.settings
        self.width, self.height = width, height
        self.writer = self.writer_for(frame, width, height, reader)
        self.report.rotation = frame.rotation
        strides = {"face": s.face_stride, "plate": s.plate_stride}
        display_w, display_h = display_size(width, height, quarter_turns(frame.rotation))
        fine = fine_kinds_for(display_w, display_h, s, tuple(self.detectors))
        native = native_kinds_for(display_w, display_h, s, tuple(self.detectors))
        enlarged = enlarged_for(display_w, display_h, fine) if s.small_objects == "auto" else ()
        enlarged = tuple(k for k in enlarged if self.detectors[k].fine is None)  # platenet looks at own size only
        upright = Uprightness() if "face" in self.detectors else None  # which way up: decided by the faces
        self.fd = FrameDetector(self.detectors, width, height, frame.rotation, fine_kinds=fine, native_kinds=native,
                                enlarged_kinds=enlarged, upright=upright)
        self.check_fd = FrameDetector(self.check_detectors, width, height, frame.rotation, native_kinds=native,
                                      upright=upright, votes=False)
        carries: list[tuple[str, str, bool, CarryParams]] = []
        for kind in self.detectors:
            stride = 1 if self.dense else strides[kind]
            carries.append((kind, kind, False, _carry(stride, s, kind)))
            if kind in fine:
                # The second pass runs the coarse detectors on every frame; the full-resolution pass keeps its
                # stride there (on every frame it cost 880 s for 60 frames of a 1080p clip).
                fine_stride = strides[kind] * FINE_STRIDE_FACTOR[kind]
                carries.append((f"{kind}_fine", kind, True, _carry(fine_stride, s, kind)))
        # The frames a measured path can still need: from a track's last observation a horizon back, to a reach ahead.
        keep = max((c.reach + c.horizon + c.stride for *_, c in carries), default=2) + HOLD + 2
        self.motion = LocalMotion(width, height, keep)
        # Residual findings are followed like a track's observation (grown by CarryParams.growth a frame where the
        # picture has nothing to measure).
        self.findings_carrier = BoxCarrier(CarryParams(stride=1, extend=HOLD), self.camera, self.motion)
        for name, kind, is_fine, params in carries:
            self.passes.append(_Pass(name, kind, is_fine, BoxCarrier(params, self.camera, self.motion)))
        for p in self.passes:
            self.report.keyframes.setdefault(p.name, 0)
            self.report.detections.setdefault(p.name, 0)
            self.report.static_keyframes.setdefault(p.name, 0)

    # ------------------------------------------------------------------------------------------------- detect

    def _detect(self, p: _Pass, frame: Frame, keyframe: bool) -> Detections:
        assert self.fd is not None
        if not p.fine:
            return self.fd.coarse(frame, p.kind)
        small = self._small_tracked(p, frame.index)
        if keyframe:
            return self.fd.fine_keyframe(frame, p.kind, small, self._coarse_cover(p.kind, frame.index),
                                         full=self._recheck_due(p, frame.index))
        return self.fd.fine_between(frame, p.kind, small)

    def _thumbnail(self, frame: Frame) -> np.ndarray:
        """The motion thumbnail of a frame's stored luma (one per frame, shared by the passes)."""
        if self._thumb is None or self._thumb[0] != frame.index:
            self._thumb = (frame.index, thumbnail(frame.planes[0]))
        return self._thumb[1]

    def _recheck_due(self, p: _Pass, index: int) -> bool:
        """The static bound: a pass that last ran on the whole frame STATIC_RECHECK or more frames ago (at most
        STATIC_RECHECK_S seconds: ``report.static_recheck``) runs on the whole frame now."""
        return p.last_whole >= 0 and index - p.last_whole >= self.report.static_recheck

    def _keyframe_detections(self, p: _Pass, frame: Frame) -> Detections:
        """A keyframe's detections: carried on from the pass's latest detector run when the picture has not changed
        since (within the static bound), else detected."""
        thumb = self._thumbnail(frame)
        if (not self.dense and p.thumb is not None and not self._recheck_due(p, frame.index)
                and unchanged(p.thumb, thumb)):
            self.report.static_keyframes[p.name] += 1
            return p.last
        whole_before = self.fd.fine[p.kind].whole_runs if p.fine and self.fd is not None else 0
        dets = self._detect(p, frame, keyframe=True)
        p.thumb, p.last_run, p.last = thumb, frame.index, dets
        if not p.fine or (self.fd is not None and self.fd.fine[p.kind].whole_runs > whole_before):
            p.last_whole = frame.index
        return dets

    @staticmethod
    def _small_tracked(p: _Pass, index: int) -> np.ndarray:
        """Where the small objects the fine pass follows should be on a frame (expected boxes, in the picture and
        moved with the camera, grown by half)."""
        boxes = p.carrier.where(index, SMALL[p.kind])
        return scale_about_centre(boxes, 1.5) if len(boxes) else boxes

    def _coarse_cover(self, kind: str, index: int) -> np.ndarray:
        """What the coarse pass of a kind redacts on a keyframe it has just observed: the fine pass need not look
        inside (a face ellipse is inscribed in the box grown ``face_scale`` times: its inner box is kept)."""
        coarse = next(p for p in self.passes if p.kind == kind and not p.fine)
        boxes, _ = coarse.carrier.boxes(index)
        if kind == "face" and len(boxes):
            inner = self.settings.face_scale / np.sqrt(2.0)  # the box inscribed in the ellipse
            boxes = scale_about_centre(boxes, max(1.0, inner))
        return boxes

    def _observe(self, p: _Pass, frame: Frame) -> None:
        """Detect on a keyframe (or carry the previous run's detections on where nothing changed). Where something appeared, disappeared or moved fast since the previous keyframe,
        detect on the buffered frames between them too, halving the interval while it matters: detection density
        follows what happens in the clip, and quiet stretches cost one run per stride."""
        carrier = p.carrier
        previous = carrier.last_keyframe
        dets = self._keyframe_detections(p, frame)
        carrier.observe(frame.index, dets)
        self.report.keyframes[p.name] += 1
        self.report.detections[p.name] += len(dets)
        if previous < 0:
            return
        pending = [(previous, frame.index, 1)]
        while pending:
            a, b, depth = pending.pop()
            if depth > REFINE_DEPTH or not carrier.needs_refinement(a, b, SMALL[p.kind] if p.fine else None):
                continue
            m = (a + b) // 2
            mid = next((f for f in self.buffer if f.index == m), None)
            if mid is None or mid.av_frame is None:
                continue
            found = self._detect(p, mid, keyframe=False)
            carrier.refine(m, found)
            self.report.refined_frames[p.name] = self.report.refined_frames.get(p.name, 0) + 1
            self.report.detections[p.name] += len(found)
            pending.extend([(m, b, depth + 1), (a, m, depth + 1)])

    def _ready(self, index: int) -> bool:
        return all(p.carrier.last_keyframe >= index + p.carrier.reach for p in self.passes)

    # ------------------------------------------------------------------------------------------------- redact

    def _regions(self, index: int) -> tuple[Regions, int]:
        boxes: dict[str, list[np.ndarray]] = {k: [] for k in KINDS}
        detected_here = 0
        for p in self.passes:
            b, n = p.carrier.boxes(index)
            detected_here += n
            if len(b):
                boxes[p.kind].append(b)
        for f in self.forced + self.new_forced:
            b = f.box_at(index, HOLD, self.findings_carrier)
            if b is not None:
                boxes[f.kind].append(b[None])
        return self._to_regions(index, boxes), detected_here

    def _to_regions(self, index: int, boxes: dict[str, list[np.ndarray]]) -> Regions:
        """Boxes per kind (lists of (N, 4) arrays, stored pixels) -> the regions to redact, kept boxes left out."""
        stack = {k: self._drop_kept(index, k, np.concatenate(v) if v else np.zeros((0, 4), np.float32))
                 for k, v in boxes.items()}
        s = self.settings
        return regions_for(stack["face"], stack["plate"], self.width, self.height, s.face_scale, s.plate_pad)

    def _drop_kept(self, index: int, kind: str, boxes: np.ndarray) -> np.ndarray:
        """The boxes minus those the caller keeps visible (an access copy: the requester's own face)."""
        if self.keep is None or len(boxes) == 0:
            return boxes
        kept = np.asarray(self.keep(index, kind, boxes), bool).reshape(-1)
        return boxes[~kept]

    def _redact(self, frame: Frame) -> None:
        regions, detected_here = self._regions(frame.index)
        if len(regions):
            self.report.frames_with_regions += 1
            if detected_here == 0:
                self.report.frames_carried_only += 1
        redact_yuv420(frame.planes, regions, self.settings.method)
        self._note(frame.index, regions)
        if self._near_finding(frame.index):
            regions = self._check(frame, regions)
        elif frame.index in self.samples or (frame.index == self.last_index and not self.checked
                                             and self.settings.residual_samples > 0):
            # (the last frame when no sample was reached: a check never passes having looked at nothing)
            self.sampled.append(frame.index)
            if self._same_as_last_check(frame):
                self.unchanged_samples += 1
            else:
                regions = self._check(frame, regions)
        self.held.append((frame, regions))

    def _same_as_last_check(self, frame: Frame) -> bool:
        """Whether a sample's redacted picture is the one the latest clean check saw (no thumbnail cell changed:
        ``imaging.motion.unchanged``), within STATIC_RECHECK frames of it: the detectors would see the same
        picture and find the same nothing. Never in the second pass."""
        last = self.check_thumb
        if self.dense or last is None or frame.index - last[0] >= self.report.static_recheck:
            return False
        return unchanged(last[1], thumbnail(frame.planes[0]))

    def _near_finding(self, index: int) -> bool:
        """After a finding, the frames up to just past where its forced box ends are checked: an object that
        leaves the forced box is found again, and one still there when the box ends starts a new finding, so a
        missed object is followed for as long as the check can see it (in the second pass, around every finding
        of the first)."""
        return any(0 < index - f.frame <= HOLD + 1 for f in self.new_forced) or any(
            abs(index - f.frame) <= HOLD + 1 for f in self.forced)

    # -------------------------------------------------------------------------------------------------- check

    def _check(self, frame: Frame, regions: Regions) -> Regions:
        """Run the detectors on the redacted frame. A finding outside the redaction is redacted here and on the
        held frames before it (and, through a forced box, on the frames after it), then the frame is checked again."""
        assert self.fd is not None
        self.checked += 1
        found = {kind: self._check_detect(frame, kind) for kind in self.check_detectors}
        leaks = self._unkept(residual_leaks(found, regions, self.width, self.height, frame.index))
        self.check_thumb = None if leaks else (frame.index, thumbnail(frame.planes[0]))
        if not leaks:
            return regions
        self.findings.extend(leaks)
        for leak in leaks:
            self.new_forced.append(Forced(leak["kind"], frame.index, tuple(leak["box"])))  # type: ignore[arg-type]
        # Redact the finding on this frame and on the held frames before it (``on_regions`` hears all of it).
        self.held = deque((f, r.merged(self._redact_more(f))) for f, r in self.held)
        regions, _ = self._regions(frame.index)
        redact_yuv420(frame.planes, regions, self.settings.method)
        self._note(frame.index, regions)
        # Checked again: the kinds that had a finding (what passed before only lost pixels to the new redaction).
        again = {kind: self._check_detect(frame, kind) for kind in self.check_detectors
                 if any(leak["kind"] == kind for leak in leaks)}
        still = self._unkept(residual_leaks(again, regions, self.width, self.height, frame.index))
        for leak in still:
            leak["after_redaction"] = True
        self.findings.extend(still)
        return regions

    def _unkept(self, leaks: list[dict]) -> list[dict]:
        """Residual findings minus those the caller keeps visible on purpose."""
        if self.keep is None or not leaks:
            return leaks
        out = []
        for leak in leaks:
            box = np.asarray([leak["box"]], np.float32)
            if not bool(np.asarray(self.keep(leak["frame"], leak["kind"], box), bool).reshape(-1)[0]):
                out.append(leak)
        return out

    def _check_detect(self, frame: Frame, kind: str) -> Detections:
        assert self.check_fd is not None
        return self.check_fd.coarse(frame, kind)

    def _redact_more(self, frame: Frame) -> Regions:
        """Redact the forced boxes on a held frame; returns what it added."""
        boxes: dict[str, list[np.ndarray]] = {k: [] for k in KINDS}
        for f in self.new_forced:
            b = f.box_at(frame.index, HOLD, self.findings_carrier)
            if b is not None:
                boxes[f.kind].append(b[None])
        if not any(boxes.values()):
            return Regions.empty()
        regions = self._to_regions(frame.index, boxes)
        redact_yuv420(frame.planes, regions, self.settings.method)
        self._note(frame.index, regions)
        return regions

    def _note(self, index: int, regions: Regions) -> None:
        """Remember a redaction applied to a frame, for a SpliceWriter to replay on the GOPs it re-encodes."""
        if isinstance(self.writer, SpliceWriter) and len(regions):
            self.applied.setdefault(index, []).append(regions)

    # ------------------------------------------------------------------------------------------------- encode

    def _encode(self, frame: Frame, regions: Regions) -> None:
        if self.on_regions is not None:
            self.on_regions(frame.index, regions)
        self.share.add(frame.index, redacted_share(regions, self.width, self.height))
        assert self.writer is not None
        if isinstance(self.writer, SpliceWriter):
            self.writer.add(frame.index, frame.pts, self.applied.pop(frame.index, []))
        else:
            self.writer.write_frame(frame.av_frame)
        frame.av_frame = None
        frame.planes = []
        self.input_times.append(frame.seconds if frame.seconds is not None else float("nan"))
        self.encoded += 1
        if self.writing:
            self._progress("write", self.encoded)

    def _progress(self, stage: str, done: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, self.expected)

    def _flush(self, keep: int) -> None:
        while len(self.held) > keep:
            frame, regions = self.held.popleft()
            self._encode(frame, regions)

    # ----------------------------------------------------------------------------------------------------- run

    def run(self) -> None:
        # Two decoders of the clip: the first feeds the detectors, and a frame stays in ``buffer`` only while a
        # detector may still run on it (between a pass's keyframes); the second decodes each frame again once its
        # boxes are final, for redaction and encoding. The frames waiting for their boxes (up to the carrying
        # horizon, ~100 frames for the plate fine pass: 1.2 GiB at 4K) are then never held; decoding twice costs
        # a few per cent of the CPU.
        with VideoReader(self.src, threads=self.decode_threads, queue_size=READ_AHEAD) as reader, \
                VideoReader(self.src, threads=1, queue_size=READ_AHEAD) as again:
            lagging = again.frames()
            last: Frame | None = None
            for frame in reader.frames():
                if self.writer is None:
                    self._start(frame, reader.width, reader.height, reader)
                self.camera.add(frame.index, frame.planes[0])
                assert self.motion is not None
                self.motion.add(frame.index, frame.planes[0])
                self.buffer.append(frame)
                self.pts.append(frame.pts)
                for p in self.passes:
                    if p.carrier.is_keyframe(frame.index):
                        self._observe(p, frame)
                last = frame
                self._release_detected()
                self._progress("second pass" if self.dense else "detect", frame.index + 1)
                while self.emitted <= frame.index and self._ready(self.emitted):
                    self._emit(self._decode_again(lagging))
            if last is None:
                raise VerificationError(f"{self.src}: no frame could be decoded")
            # The last frame is always a keyframe, so nothing that appears at the very end is missed.
            for p in self.passes:
                if p.carrier.last_keyframe < last.index:
                    self._observe(p, last)
                p.carrier.finish(last.index)  # tracks still joinable are carried to the end (domain.tracking)
            self.buffer.clear()
            self.last_index = last.index
            self.writing = True
            self._progress("write", self.encoded)
            while self.emitted <= last.index:
                self._emit(self._decode_again(lagging))
            self._flush(0)
        if self.fd is not None and self.fd.upright is not None:
            self.report.upright = self.fd.upright.as_report()
        self.report.redacted_share = self.share.as_report()
        self.report.camera = {"moved_frames": self.camera.moved_frames,
                              "largest_step_px": round(self.camera.largest_step, 1),
                              "path_steps": self.motion.steps if self.motion is not None else 0}
        for p in self.passes:
            if p.fine and self.fd is not None:
                st = self.fd.fine[p.kind]
                self.report.fine[p.kind] = {"keyframes": st.keyframes, "crops": st.crop_runs,
                                            "crop_megapixels": round(st.crop_pixels / 1e6, 1),
                                            "whole_frame_runs": st.whole_runs,
                                            "enlarged": self.fd.fine_enlarged(p.kind)}

    def _release_detected(self) -> None:
        """Drop the detectors' frames that no pass can run on again: refinements look only between a pass's
        previous keyframe and its next one."""
        oldest = min(p.carrier.last_keyframe for p in self.passes)
        while self.buffer and self.buffer[0].index <= oldest and self.buffer[0] is not self.buffer[-1]:
            self.buffer.popleft()

    def _decode_again(self, lagging: Iterator[Frame]) -> Frame:
        """The next frame to redact, from the second decoder: the same frame the detectors saw."""
        frame = next(lagging, None)
        expected = self.pts.popleft() if self.pts else None
        if frame is None or frame.index != self.emitted or frame.pts != expected:
            raise VerificationError(f"{self.src}: the second decode differs from the first at frame {self.emitted}")
        self.emitted += 1
        return frame

    def _emit(self, frame: Frame) -> None:
        self._redact(frame)
        for p in self.passes:
            p.carrier.forget_before(frame.index + 1)
        self._flush(HOLD)


def anonymise_file(
    src: Path,
    dst: Path,
    settings: AnonymiseSettings,
    detectors: dict[str, LoadedDetector],
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    on_regions: Callable[[int, Regions], None] | None = None,
    out_root: Path | None = None,
    accept_residual: bool = False,
    check_detectors: dict[str, LoadedDetector] | None = None,
    keep: KeepFn | None = None,
) -> ClipReport:
    """Anonymise ``src`` into ``dst`` (atomically) and write ``dst``'s JSON report beside it.

    When the residual check still finds a face or plate after the second pass, the output goes to the quarantine
    folder (``quarantine_path_for``) instead, with its report, and ``report.quarantined`` is set, unless
    ``accept_residual`` (the user reviewed the findings: e.g. a car roof) publishes it with the findings recorded as
    accepted. ``check_detectors`` (default: ``detectors``) run the residual check. ``keep(frame, kind, boxes)``
    returns a boolean mask of the (N, 4) stored-pixel boxes to leave visible on that frame (an access copy keeps
    the requester's own face): those boxes are neither redacted nor reported by the residual check.
    ``progress(stage, done, expected)`` hears the stages and their frames as they go (``ProgressFn``).

    Raises MediaError for unreadable input, OutputExistsError when ``dst`` exists and ``overwrite`` is false, and
    VerificationError when the output's frames or timestamps differ from the input's.
    """
    started = time.perf_counter()
    return_large_buffers()
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst}: output exists (use --overwrite to replace it)")
    check_detectors = check_detectors or detectors
    info = probe(src)
    identity = input_identity(src)
    if accept_residual and keep is None:
        accepted = publish_quarantined(src, dst, settings, detectors, out_root, identity)
        if accepted is not None:
            return accepted
    expected = info.frames or (int(round(info.duration * info.rate)) if info.duration and info.rate else 0)
    scan = scan_packets(src)
    damaged = bool(scan.corrupt or scan.error or (info.frames and scan.packets < info.frames))
    report = ClipReport(input=str(src), output=str(dst), width=info.width, height=info.height)
    report.settings = asdict(settings)
    report.input_file = identity
    # The strides as configured are meant at 25 fps: a slower clip gets keyframes as often in time (domain.cadence).
    rate = float(info.rate) if info.rate else None
    settings = replace(settings, face_stride=stride_for_rate(settings.face_stride, rate),
                       plate_stride=stride_for_rate(settings.plate_stride, rate))
    report.strides = {"face": settings.face_stride, "plate": settings.plate_stride}
    report.static_recheck = frames_within(STATIC_RECHECK_S, rate, STATIC_RECHECK)
    strides = (settings.face_stride, settings.plate_stride)
    samples: set[int] | StreamSamples = _sample_indices(expected, settings.residual_samples, strides)
    if not expected and settings.residual_samples > 0:
        samples = StreamSamples(STREAM_SAMPLE_EVERY, strides)
    report.models = models_report(detectors)

    writers: list[VideoWriter | SpliceWriter] = []
    if settings.copy_unchanged:
        why = "the input is damaged" if damaged else copy_refusal(src, dst, settings, info.has_audio)
        report.copy = {"used": why is None, "reason": why or ""}

    def writer_for(frame: Frame, width: int, height: int, reader: object) -> VideoWriter | SpliceWriter:
        if report.copy.get("used"):
            s = SpliceWriter(src, dst, lambda planes, regions: redact_yuv420(planes, regions, settings.method),
                             rotation=frame.rotation, crf=settings.crf, preset=settings.preset, mode=OUTPUT_MODE)
            report.audio = "dropped" if info.has_audio else "none"
            writers.append(s)
            return s
        w = VideoWriter(dst, width, height, reader.time_base, reader.rate, codec=settings.codec,  # type: ignore[attr-defined]
                        crf=settings.crf, preset=settings.preset, rotation=frame.rotation, mode=OUTPUT_MODE)
        if info.has_audio:
            if settings.keep_audio:
                w.add_audio_from(src)
                report.audio = "kept"
            else:
                report.audio = "dropped"
        writers.append(w)
        return w

    try:
        threads = 1 if damaged else None
        clip = _ClipPass(src, writer_for, settings, detectors, check_detectors, report, samples, [], False,
                         progress, on_regions, keep, threads, expected or None)
        clip.run()
        first_findings = list(clip.findings)
        if clip.findings and settings.residual_samples:
            # Close the loop: process again with every detector on every frame and the findings forced.
            log.info("%s: residual check found %d possible leaks; second pass", src, len(clip.findings))
            writers[-1].abort()
            forced = clip.new_forced
            report2 = replace(report, keyframes={}, detections={}, refined_frames={}, fine={}, frames_with_regions=0,
                              frames_carried_only=0)
            clip = _ClipPass(src, writer_for, settings, detectors, check_detectors, report2, samples, forced, True,
                             progress, on_regions, keep, threads, expected or None)
            clip.run()
            report = report2
            report.passes = 2
        writer = writers[-1]
        writer.finish()
        report.frames = writer.frames
        if isinstance(writer, SpliceWriter):
            report.copy.update(writer.stats)
        written = os.path.getsize(writer.tmp)
        if written < max(1, writer.frames) * MIN_BYTES_PER_FRAME:  # named for dst: the temporary name means nothing
            raise VerificationError(
                f"{dst}: the output written is implausibly small ({written} bytes for {writer.frames} frames: empty "
                "or truncated; is the disk full?); not published")
        if progress is not None:
            progress("verify", 0, None)
        report.verification = verify_output(writer.tmp, clip.input_times, writer.width, writer.height)
        report.verification["bytes"] = written
        if not report.verification["frames_match"] or not report.verification["timestamps_match"]:
            raise VerificationError(
                f"{src}: output differs from input ({report.verification['output_frames']} frames vs "
                f"{len(clip.input_times)}, timestamp error {report.verification['max_timestamp_error_s']:.6f}s)"
            )
        if not report.verification["size_match"]:
            raise VerificationError(
                f"{dst}: the output's frame size {report.verification['output_size']} differs from the frames "
                f"encoded ({writer.width}x{writer.height}); not published")
        report.lost = lost_report(clip.input_times, info, scan, damaged)
        if report.lost:
            log.warning("%s: %d frames did not decode (%s): anonymised the %d that did", src,
                        report.lost["frames"], lost_text(report.lost), len(clip.input_times))
        remaining = unclosed(clip.findings) if report.passes == 2 else []
        report.residual = {
            "sampled_frames": sorted(samples) if isinstance(samples, set) else sorted(set(clip.sampled)),
            "checked_frames": clip.checked,
            "unchanged_samples": clip.unchanged_samples,
            "first_pass_findings": first_findings,
            "second_pass_findings": clip.findings if report.passes == 2 else [],
            "closed": bool(first_findings) and not remaining,
            "possible_leaks": remaining,
            "passed": not remaining and (clip.checked > 0 or not settings.residual_samples),
            "accepted": bool(remaining) and accept_residual,
        }
        report.elapsed_s = round(time.perf_counter() - started, 3)
        report.fps = round(report.frames / report.elapsed_s, 2) if report.elapsed_s else 0.0
        if remaining and not accept_residual:
            qdst = quarantine_path_for(dst, out_root)
            report.status, report.quarantined, report.output = "quarantined", True, str(qdst)
            report.quarantine_reason = (
                f"{len(remaining)} possible {'/'.join(sorted({l['kind'] for l in remaining}))} leaks after the second "
                f"pass (first at frame {remaining[0]['frame']})")
            private_dirs(qdst.parent)
            # The video first, then its report: a report on disk always describes a video that is there.
            safe_files.unlink(report_path_for(qdst))
            safe_files.publish(writer.tmp, qdst)
            safe_files.fsync_dir(writer.tmp.parent)  # the rename left that folder too
            writer._published = True  # noqa: SLF001 - the temporary file now lives in the quarantine
            _write_report(report_path_for(qdst), report)
            safe_files.unlink(report_path_for(dst))
        else:
            safe_files.unlink(report_path_for(dst))  # an earlier run's report would describe the new video
            writer.publish()
            _write_report(report_path_for(dst), report)
    finally:
        for w in writers:
            w.abort()
    return report


def input_identity(src: Path) -> dict:
    """What tells a later run it has the same input: its size, mtime and sha256 (``ClipReport.input_file``)."""
    st = os.stat(src)
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256_file(src)}


def _as_json(value: object) -> object:
    return json.loads(json.dumps(value))


def publish_quarantined(src: Path, dst: Path, settings: AnonymiseSettings, detectors: dict[str, LoadedDetector],
                        out_root: Path | None, identity: dict) -> ClipReport | None:
    """``--accept-residual`` after a quarantine: when ``quarantine_path_for(dst)`` and its report describe this
    very input (same bytes and sha256) made with the same settings and models, the quarantined copy and its report
    move to ``dst`` (the report then says published, ``residual.accepted`` and ``accepted_from_quarantine``), and
    nothing is left in the quarantine. None when there is no such copy: the clip is processed again."""
    qdst = quarantine_path_for(dst, out_root)
    qreport = report_path_for(qdst)
    if not qdst.is_file() or not qreport.is_file():
        return None
    try:
        data = json.loads(qreport.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    old = data.get("input_file") or {}
    same = (data.get("status") == "quarantined" and data.get("output") == str(qdst)
            and (old.get("bytes"), old.get("sha256")) == (identity["bytes"], identity["sha256"])
            and data.get("settings") == _as_json(asdict(settings))
            and data.get("models") == _as_json(models_report(detectors))
            and qdst.stat().st_size == (data.get("verification") or {}).get("bytes"))
    if not same:
        log.info("%s: the quarantined copy %s is of another input or settings; processing again", src, qdst)
        return None
    names = {f.name for f in fields(ClipReport)}
    report = ClipReport(**{k: v for k, v in data.items() if k in names})
    report.status, report.quarantined, report.quarantine_reason, report.output = "published", False, "", str(dst)
    report.input = str(src)
    report.residual = {**report.residual, "accepted": True, "accepted_from_quarantine": {
        "quarantined_at": str(qdst), "accepted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
    safe_files.output_dirs(dst.parent)
    # The video first, then its report (as for any output); the quarantined report goes last.
    safe_files.unlink(report_path_for(dst))
    try:
        safe_files.publish(qdst, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        log.info("%s: the quarantine is on another file system than %s; processing again", qdst, dst)
        return None
    safe_files.fsync_dir(qdst.parent)  # the rename left that folder too
    _write_report(report_path_for(dst), report)
    safe_files.unlink(qreport)
    log.info("%s: published the quarantined copy %s as %s (findings accepted)", src, qdst, dst)
    return report


def lost_report(times: list[float], info: Probe, scan: PacketScan, damaged: bool) -> dict:
    """The input's frames that did not decode, and where (empty when none is missing)."""
    frame_s = float(1 / info.rate) if info.rate else None
    stretches = lost_stretches(times, frame_s, info.start_s, info.start_s + info.duration if info.duration else None)
    missing = sum(st.frames for st in stretches)
    if info.frames:
        missing = max(missing, info.frames - len(times)) if damaged or info.frames > len(times) else 0
    if not missing and not damaged:
        return {}
    return {"frames": missing, "declared_frames": info.frames or None, "decoded_frames": len(times),
            "damaged_packets": scan.corrupt, "read_error": scan.error,
            "stretches": [st.as_dict() for st in stretches]}


def lost_text(lost: dict) -> str:
    """The stretches of a ``lost_report`` in words: ``1.20-2.00 s``, several joined by commas."""
    where = ", ".join(f"{st['from_s']:.2f}-{st['to_s']:.2f} s" for st in lost.get("stretches", []))
    return f"at {where}" if where else "where is not known"


def copy_refusal(src: Path, dst: Path, settings: AnonymiseSettings, has_audio: bool) -> str | None:
    """Why ``copy_unchanged`` cannot copy this clip's GOPs (everything is then re-encoded); None when it can."""
    if settings.codec != "libx264":
        return f"output codec {settings.codec} (copies need libx264)"
    if has_audio and settings.keep_audio:
        return "audio kept (a copy carries the video only)"
    return copy_problem(src, dst)


def _write_report(path: Path, report: ClipReport) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OUTPUT_MODE)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(report.to_json())
        safe_files.publish(tmp, path)  # flushed, renamed, folder flushed: survives a power cut
    finally:
        tmp.unlink(missing_ok=True)


def verify_output(path: Path, input_times: list[float], width: int, height: int) -> dict:
    """Check the written output without decoding it again: its packets' count and presentation times against the
    input frames', and its frame size (the residual check already ran on the redacted frames as they were encoded)."""
    output_times, (out_w, out_h), time_base = read_packet_times(path)
    tol = max(1e-6, 0.5 * float(time_base)) if time_base else 1e-3
    a = sorted(t for t in input_times if not math.isnan(t))
    b = sorted(t for t in output_times if not math.isnan(t))
    errors = [abs(x - y) for x, y in zip(a, b)]
    max_err = max(errors, default=0.0)
    return {
        "input_frames": len(input_times),
        "output_frames": len(output_times),
        "frames_match": len(input_times) == len(output_times),
        "output_size": f"{out_w}x{out_h}",
        "size_match": (out_w, out_h) == (width, height),
        "max_timestamp_error_s": max_err,
        "timestamps_match": max_err <= max(tol, 1e-3) and len(a) == len(b),
    }
