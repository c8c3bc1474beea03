"""Anonymise one clip: decode -> detect on keyframes -> carry boxes -> redact -> encode -> verify -> report.

Frames wait in a short buffer until the boxes covering them are final (a face first seen on a later keyframe is
also redacted on the frames just before it); only YUV planes are buffered.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.domain.regions import Regions, regions_for
from anonymizer.domain.tracking import BoxCarrier, CarryParams
from anonymizer.errors import OutputExistsError, VerificationError
from anonymizer.imaging.redact import redact_yuv420, region_mask
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.probe import probe
from anonymizer.media.reader import Frame, VideoReader
from anonymizer.media.writer import VideoWriter
from anonymizer.settings import AnonymiseSettings

log = logging.getLogger(__name__)

OUTPUT_MODE = 0o640
LEAK_OVERLAP = 0.5
# Halvings of a keyframe interval where something happens: at most 3 extra detector runs per interval (busy
# traffic footage otherwise turns every plate interval into stride 1 and runs 4x slower).
REFINE_DEPTH = 2
# Motion, in box sizes between two detections, above which the frames between are looked at. Faces bounce (a
# jumping person's face dips and comes back within a stride); vehicles and their plates move smoothly, and a plate's
# box size is its width, so only a fast plate needs it.
REFINE_MOTION = {"face": 0.5, "plate": 1.0}  # a residual detection less than half inside the redacted area is a possible leak


def report_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".report.json")


@dataclass
class ClipReport:
    input: str
    output: str
    width: int
    height: int
    frames: int = 0
    rotation: int = 0
    audio: str = "none"
    models: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    keyframes: dict[str, int] = field(default_factory=dict)
    detections: dict[str, int] = field(default_factory=dict)
    refined_frames: dict[str, int] = field(default_factory=dict)  # detector runs between keyframes
    frames_with_regions: int = 0
    frames_carried_only: int = 0
    verification: dict = field(default_factory=dict)
    residual: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    fps: float = 0.0

    @property
    def possible_leaks(self) -> list[dict]:
        return list(self.residual.get("possible_leaks", []))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def residual_leaks(
    found: dict[str, Detections], regions: Regions, width: int, height: int, frame: int
) -> list[dict]:
    """Detections on an output frame that lie mostly outside what was redacted on that frame."""
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


def _sample_indices(expected_frames: int, samples: int) -> set[int]:
    """About one output frame per 25 checked, at least 2, at most ``samples``: the check costs two detector runs
    per sample, which must stay small beside the clip's own processing whatever its length."""
    if samples <= 0 or expected_frames <= 0:
        return set()
    samples = min(samples, max(2, -(-expected_frames // 25)))
    if samples >= expected_frames:
        return set(range(expected_frames))
    # Evenly spread, offset from keyframes so that carried-only frames are checked too.
    return {int(round(i)) for i in np.linspace(1, expected_frames - 1, samples)}


def _detect(frame: Frame, detector: LoadedDetector, width: int, height: int) -> Detections:
    det = detector.detector
    w, h = det.input_size(width, height)
    return det.detect(frame.rgb(w, h), width, height)


def regions_for_image(
    rgb: np.ndarray, settings: AnonymiseSettings, detectors: dict[str, LoadedDetector]
) -> tuple[Regions, dict[str, Detections]]:
    """What the pipeline would redact on a single frame that is a keyframe for every detector (a photo, or the
    first frame of a clip): the regions and the raw detections."""
    import cv2

    height, width = rgb.shape[:2]
    found = {}
    for kind, d in detectors.items():
        w, h = d.detector.input_size(width, height)
        small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (width, height) else rgb
        found[kind] = d.detector.detect(np.ascontiguousarray(small), width, height)
    empty = np.zeros((0, 4), np.float32)
    regions = regions_for(
        found["face"].xyxy if "face" in found else empty, found["plate"].xyxy if "plate" in found else empty,
        width, height, settings.face_scale, settings.plate_pad,
    )
    return regions, found


def anonymise_file(
    src: Path,
    dst: Path,
    settings: AnonymiseSettings,
    detectors: dict[str, LoadedDetector],
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    on_regions: Callable[[int, Regions], None] | None = None,
) -> ClipReport:
    """Anonymise ``src`` into ``dst`` (atomically) and write ``dst``'s JSON report beside it.

    Raises MediaError for unreadable input, OutputExistsError when ``dst`` exists and ``overwrite`` is false, and
    VerificationError when the output's frames or timestamps differ from the input's. Possible leaks found by the
    residual check are listed in the report (the caller decides the exit code).
    """
    started = time.perf_counter()
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst}: output exists (use --overwrite to replace it)")
    info = probe(src)
    params = {
        "face": CarryParams(stride=settings.face_stride, extend=settings.carry_frames, refine_motion=REFINE_MOTION["face"]),
        "plate": CarryParams(stride=settings.plate_stride, extend=settings.carry_frames, refine_motion=REFINE_MOTION["plate"]),
    }
    carriers = {kind: BoxCarrier(params[kind]) for kind in detectors}
    expected = info.frames or (int(round(info.duration * info.rate)) if info.duration and info.rate else 0)
    samples = _sample_indices(expected, settings.residual_samples)
    sampled_regions: dict[int, Regions] = {}
    report = ClipReport(input=str(src), output=str(dst), width=info.width, height=info.height)
    report.models = [
        {"name": d.model.spec.name, "kind": kind, "package": d.model.spec.package, "sha256": d.model.sha256,
         "source_sha256": d.model.spec.sha256, "threshold": d.detector.threshold, "licence": d.model.spec.licence}
        for kind, d in detectors.items()
    ]
    report.settings = asdict(settings)
    report.keyframes = {k: 0 for k in detectors}
    report.detections = {k: 0 for k in detectors}
    input_times: list[float] = []
    buffer: deque[Frame] = deque()

    with VideoReader(src) as reader:
        width, height = reader.width, reader.height
        writer: VideoWriter | None = None

        def emit(frame: Frame) -> None:
            boxes = {}
            detected_here = 0
            for kind, carrier in carriers.items():
                boxes[kind], n = carrier.boxes(frame.index)
                detected_here += n
            regions = regions_for(
                boxes.get("face", np.zeros((0, 4), np.float32)), boxes.get("plate", np.zeros((0, 4), np.float32)),
                width, height, settings.face_scale, settings.plate_pad,
            )
            if len(regions):
                report.frames_with_regions += 1
                if detected_here == 0:
                    report.frames_carried_only += 1
            redact_yuv420(frame.planes, regions, settings.method)
            if frame.index in samples:
                sampled_regions[frame.index] = regions
            if on_regions is not None:
                on_regions(frame.index, regions)
            assert writer is not None
            writer.write_frame(frame.av_frame)
            frame.av_frame = None
            frame.planes = []
            input_times.append(frame.seconds if frame.seconds is not None else float("nan"))
            for carrier in carriers.values():
                carrier.forget_before(frame.index + 1)
            if progress is not None:
                progress(1)

        def observe(kind: str, carrier: BoxCarrier, frame: Frame) -> None:
            """Detect on a keyframe. Where something appeared, disappeared or moved fast since the previous
            keyframe, detect on the buffered frames between them too, halving the interval while it matters:
            detection density follows what happens in the clip, and quiet stretches cost one run per stride."""
            previous = carrier.last_keyframe
            dets = _detect(frame, detectors[kind], width, height)
            carrier.observe(frame.index, dets)
            report.keyframes[kind] += 1
            report.detections[kind] += len(dets)
            if previous < 0:
                return
            pending = [(previous, frame.index, 1)]
            while pending:
                a, b, depth = pending.pop()
                if depth > REFINE_DEPTH or not carrier.needs_refinement(a, b):
                    continue
                m = (a + b) // 2
                mid = next((f for f in buffer if f.index == m), None)
                if mid is None or mid.av_frame is None:
                    continue
                found = _detect(mid, detectors[kind], width, height)
                carrier.refine(m, found)
                report.refined_frames[kind] = report.refined_frames.get(kind, 0) + 1
                report.detections[kind] += len(found)
                pending.extend([(m, b, depth + 1), (a, m, depth + 1)])

        def ready(index: int) -> bool:
            return all(c.last_keyframe >= index + c.reach for c in carriers.values())

        last: Frame | None = None
        try:
            for frame in reader.frames():
                if writer is None:
                    writer = VideoWriter(
                        dst, width, height, reader.time_base, reader.rate, codec=settings.codec, crf=settings.crf,
                        preset=settings.preset, rotation=frame.rotation, mode=OUTPUT_MODE,
                    )
                    report.rotation = frame.rotation
                    if info.has_audio:
                        if settings.keep_audio:
                            writer.add_audio_from(src)
                            report.audio = "kept"
                        else:
                            report.audio = "dropped"
                buffer.append(frame)
                for kind, carrier in carriers.items():
                    if carrier.is_keyframe(frame.index):
                        observe(kind, carrier, frame)
                last = frame
                while buffer and ready(buffer[0].index):
                    emit(buffer.popleft())
            if last is None:
                raise VerificationError(f"{src}: no frame could be decoded")
            # The last frame is always a keyframe, so nothing that appears at the very end is missed.
            for kind, carrier in carriers.items():
                if carrier.last_keyframe < last.index:
                    observe(kind, carrier, last)
            while buffer:
                emit(buffer.popleft())
            assert writer is not None
            writer.finish()
            report.frames = writer.frames
            report.verification, report.residual = verify_output(
                writer.tmp, input_times, sampled_regions, detectors, width, height
            )
            if not report.verification["frames_match"] or not report.verification["timestamps_match"]:
                raise VerificationError(
                    f"{src}: output differs from input ({report.verification['output_frames']} frames vs "
                    f"{len(input_times)}, timestamp error {report.verification['max_timestamp_error_s']:.6f}s)"
                )
            report.elapsed_s = round(time.perf_counter() - started, 3)
            report.fps = round(report.frames / report.elapsed_s, 2) if report.elapsed_s else 0.0
            _write_report(report_path_for(dst), report)
            writer.publish()
        finally:
            if writer is not None:
                writer.abort()
    return report


def _write_report(path: Path, report: ClipReport) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OUTPUT_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write(report.to_json())
    os.replace(tmp, path)


def verify_output(
    path: Path,
    input_times: list[float],
    sampled_regions: dict[int, Regions],
    detectors: dict[str, LoadedDetector],
    width: int,
    height: int,
) -> tuple[dict, dict]:
    """Decode the written output once: compare frame count and timestamps with the input's, and run the detectors
    again on the sampled frames (any detection outside the redacted regions is a possible leak)."""
    output_times: list[float] = []
    leaks: list[dict] = []
    with VideoReader(path) as reader:
        out_w, out_h = reader.width, reader.height
        tol = max(1e-6, 0.5 * float(reader.time_base))
        for frame in reader.frames():
            output_times.append(frame.seconds if frame.seconds is not None else float("nan"))
            if frame.index in sampled_regions:
                found = {kind: _detect(frame, d, width, height) for kind, d in detectors.items()}
                leaks.extend(residual_leaks(found, sampled_regions[frame.index], width, height, frame.index))
            frame.av_frame = None
    errors = [abs(a - b) for a, b in zip(input_times, output_times) if not (math.isnan(a) or math.isnan(b))]
    max_err = max(errors, default=0.0)
    verification = {
        "input_frames": len(input_times),
        "output_frames": len(output_times),
        "frames_match": len(input_times) == len(output_times),
        "size_match": (out_w, out_h) == (width, height),
        "max_timestamp_error_s": max_err,
        "timestamps_match": max_err <= max(tol, 1e-3),
    }
    residual = {
        "sampled_frames": sorted(sampled_regions),
        "possible_leaks": leaks,
        "passed": not leaks,
    }
    return verification, residual
