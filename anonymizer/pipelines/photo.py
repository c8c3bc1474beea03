"""Anonymise one photo (JPEG or PNG) into a photo of the same format: read as displayed -> the photo plan
(``regions_for_image``: every pass of every detector) -> redact -> residual check -> encode the pixels alone ->
verify -> publish (or quarantine) -> report.

The output is stored in display orientation (the EXIF orientation applied, no orientation tag) and carries no
metadata of the input. It is written to a hidden temporary file beside its final path and renamed into place, with
mode 0640 as videos are; its report (``OUTPUT.report.json``, the video report's fields where they apply) is written
after it, so a report on disk always describes a photo that is there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
import numpy as np

from anonymizer import safe_files
from anonymizer.domain.detections import Detections
from anonymizer.domain.redacted_area import redacted_share
from anonymizer.domain.regions import Regions, regions_for
from anonymizer.errors import OutputExistsError, VerificationError
from anonymizer.imaging.redact import redact_image
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.photo import JPEG_QUALITY, format_for, read_photo, write_photo
from anonymizer.pipelines.anonymise import (
    OUTPUT_MODE,
    ClipReport,
    KeepFn,
    ProgressFn,
    _write_report,
    models_report,
    quarantine_path_for,
    regions_for_image,
    report_path_for,
    residual_leaks,
)
from anonymizer.pipelines.detection import FrameDetector
from anonymizer.settings import AnonymiseSettings

log = logging.getLogger(__name__)

PLAN = "regions_for_image"  # the photo plan: every pass of every detector (pipelines/anonymise.py)


@dataclass
class PhotoResult:
    """What ``anonymise_photo`` did: its report, the regions it redacted (residual findings included) and what the
    detectors found (one box per object, for counting and scoring), in display pixels."""

    report: ClipReport
    regions: Regions = field(default_factory=Regions.empty)
    found: dict[str, Detections] = field(default_factory=dict)


def _boxes(leaks: list[dict], kind: str) -> np.ndarray:
    return np.asarray([leak["box"] for leak in leaks if leak["kind"] == kind], np.float32).reshape(-1, 4)


def _unkept(leaks: list[dict], keep: KeepFn | None) -> list[dict]:
    """Residual findings minus those ``keep`` leaves visible on purpose (an access copy's requester)."""
    if keep is None:
        return leaks
    return [leak for leak in leaks
            if not bool(np.asarray(keep(0, leak["kind"], np.asarray([leak["box"]], np.float32)), bool).reshape(-1)[0])]


def _residual(rgb: np.ndarray, regions: Regions, settings: AnonymiseSettings,
              check: dict[str, LoadedDetector], keep: KeepFn | None = None) -> tuple[Regions, list[dict], list[dict]]:
    """The residual check on the redacted picture (``rgb``, redacted in place): the coarse pass of every detector.
    A finding outside the redaction is redacted and that kind checked again. Returns (what was added, the
    findings, those still found after their redaction)."""
    height, width = rgb.shape[:2]
    fd = FrameDetector(check, width, height)
    found = {kind: fd.picture_coarse(rgb, kind) for kind in check}
    leaks = _unkept(residual_leaks(found, regions, width, height, 0), keep)
    if not leaks:
        return Regions.empty(), [], []
    added = regions_for(_boxes(leaks, "face"), _boxes(leaks, "plate"), width, height, settings.face_scale,
                        settings.plate_pad)
    redact_image(rgb, added, settings.method)
    again = {kind: fd.picture_coarse(rgb, kind) for kind in check if any(leak["kind"] == kind for leak in leaks)}
    still = _unkept(residual_leaks(again, regions.merged(added), width, height, 0), keep)
    for leak in still:
        leak["after_redaction"] = True
    return added, leaks, still


def anonymise_photo(
    src: Path,
    dst: Path,
    settings: AnonymiseSettings,
    detectors: dict[str, LoadedDetector],
    overwrite: bool = False,
    out_root: Path | None = None,
    accept_residual: bool = False,
    check_detectors: dict[str, LoadedDetector] | None = None,
    progress: ProgressFn | None = None,
    keep: KeepFn | None = None,
) -> PhotoResult:
    """Anonymise the photo ``src`` into ``dst`` (a JPEG for .jpg/.jpeg, a PNG for .png) and write its report beside
    it. A face or plate the residual check still finds after redacting it sends the photo to the quarantine folder
    (``quarantine_path_for``) with its report, unless ``accept_residual``. ``keep(0, kind, boxes)`` marks the boxes
    (display pixels) to leave visible, as for ``anonymise_file`` (an access copy keeps the requester's face).

    Raises MediaError for an unreadable photo, OutputExistsError when ``dst`` exists and ``overwrite`` is false,
    VerificationError when the written file does not read back as the redacted picture's size without metadata."""
    started = time.perf_counter()
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst}: output exists (use --overwrite to replace it)")
    photo = read_photo(src)
    rgb = photo.rgb.copy()
    height, width = rgb.shape[:2]
    fmt = format_for(dst)
    report = ClipReport(input=str(src), output=str(dst), width=width, height=height, frames=1)
    report.settings = asdict(settings)
    report.models = models_report(detectors)
    report.photo = {"plan": PLAN, "input_format": photo.format, "format": fmt,
                    **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {}),
                    "exif_orientation_applied": photo.orientation, "metadata_dropped": list(photo.metadata)}
    regions, found = regions_for_image(rgb, settings, detectors, keep)
    redact_image(rgb, regions, settings.method)
    if progress is not None:
        progress("detect", 1, 1)
    report.detections = {kind: len(dets) for kind, dets in found.items()}
    findings: list[dict] = []
    remaining: list[dict] = []
    if settings.residual_samples > 0:
        added, findings, remaining = _residual(rgb, regions, settings, check_detectors or detectors, keep)
        if findings:
            log.info("%s: residual check found %d possible leaks; redacted", src, len(findings))
            regions = regions.merged(added)
            report.passes = 2
    report.frames_with_regions = int(len(regions) > 0)
    share = redacted_share(regions, width, height)
    report.redacted_share = {"mean": round(share, 4), "worst": round(share, 4), "worst_frame": 0}
    report.residual = {
        "sampled_frames": [0] if settings.residual_samples > 0 else [],
        "checked_frames": 1 if settings.residual_samples > 0 else 0,
        "first_pass_findings": findings,
        "second_pass_findings": remaining,
        "closed": bool(findings) and not remaining,
        "possible_leaks": remaining,
        "passed": not remaining,
        "accepted": bool(remaining) and accept_residual,
    }

    safe_files.output_dirs(dst.parent)
    tmp = safe_files.temp_sibling(dst)
    try:
        write_photo(tmp, rgb, fmt, photo.alpha if fmt == "PNG" else None, photo.grey, OUTPUT_MODE)
        report.verification = verify_photo(tmp, width, height)
        if not report.verification["size_match"] or report.verification["metadata"]:
            raise VerificationError(
                f"{dst}: the photo written reads back as {report.verification['output_size']} with metadata "
                f"{report.verification['metadata'] or 'none'} (expected {width}x{height}, none); not published")
        report.elapsed_s = round(time.perf_counter() - started, 3)
        report.fps = round(1 / report.elapsed_s, 2) if report.elapsed_s else 0.0
        final = dst
        if remaining and not accept_residual:
            final = quarantine_path_for(dst, out_root)
            report.status, report.quarantined, report.output = "quarantined", True, str(final)
            report.quarantine_reason = (f"{len(remaining)} possible {'/'.join(sorted({f['kind'] for f in remaining}))}"
                                        " leaks still found after redacting them")
            safe_files.private_dirs(final.parent)
            safe_files.unlink(report_path_for(dst))
        # The photo first, then its report: a report on disk always describes a photo that is there.
        safe_files.unlink(report_path_for(final))
        safe_files.publish(tmp, final)
        if final != dst:
            safe_files.fsync_dir(tmp.parent)  # the rename left that folder too
        _write_report(report_path_for(final), report)
    finally:
        tmp.unlink(missing_ok=True)
    if progress is not None:
        progress("write", 1, 1)
    return PhotoResult(report, regions, found)


def verify_photo(path: Path, width: int, height: int) -> dict:
    """Read the written photo back: its size, and any metadata it carries (there must be none)."""
    back = read_photo(path)
    out_h, out_w = back.rgb.shape[:2]
    return {"input_frames": 1, "output_frames": 1, "frames_match": True, "output_size": f"{out_w}x{out_h}",
            "size_match": (out_w, out_h) == (width, height), "metadata": list(back.metadata),
            "bytes": path.stat().st_size}
