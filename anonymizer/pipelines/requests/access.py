"""The access copy of one recording's segment with everyone else redacted (GDPR art. 15(4)): the anonymiser runs
on the exported segment with every face and plate redacted except the boxes of the face tracks the DPO ticked on
the review page (``anonymizer.domain.face_tracks.keep_mask``, matched frame by frame by overlap with the track).
Without a ticked track, everything is redacted. The anonymiser verifies the copy (frames, timestamps) and runs its
residual check; a detection left unredacted that is not a kept face fails the export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from anonymizer.domain.face_tracks import Track, keep_mask
from anonymizer.domain.geometry import iou_matrix
from anonymizer.domain.regions import Regions
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.photo import is_photo
from anonymizer.media.segments import rewrite
from anonymizer.pipelines.anonymise import ClipReport, anonymise_file, report_path_for
from anonymizer.pipelines.photo import anonymise_photo
from anonymizer.pipelines.requests.common import FILE_MODE, RequestError
from anonymizer.settings import AnonymiseSettings


# Another box of a kept face (the coarse and the fine pass, a carried box) overlaps the matched one this much.
SAME_FACE_IOU = 0.5
# A kept face counts as shown on a frame when no pixel of its tracked box was redacted.
SHOWN_MAX_COVER = 0.0


def keep_callback(chosen: Sequence[Track], clip_frames: Sequence[int]) -> Callable[[int, str, np.ndarray], np.ndarray]:
    """``keep(i, kind, boxes)`` for ``anonymise_file``: frame ``i`` of the copy is frame ``clip_frames[i]`` of the
    clip; only face boxes of the chosen tracks are kept: per track the box that matches it (``keep_mask``) and the
    other boxes of that same face (the passes each give one: redacting any of them blurs the face)."""

    def keep(i: int, kind: str, boxes: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(boxes), bool)
        if kind != "face" or not chosen or i >= len(clip_frames) or not len(boxes):
            return mask
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        f = clip_frames[i]
        for t in chosen:
            m = keep_mask([t], f, boxes) & ~mask
            if m.any():
                m |= (iou_matrix(boxes[m][:1], boxes)[0] >= SAME_FACE_IOU) & ~mask
            mask |= m
        return mask

    return keep


def written_faces(chosen: Sequence[Track], clip_frames: Sequence[int], applied: dict[int, Regions]
                  ) -> dict[int, dict[str, list[int]]]:
    """For each chosen track, the frames of the copy where its face was left shown and those where a redaction
    (of someone or something else overlapping it) covers part of it: from the regions written, not those asked."""
    out: dict[int, dict[str, list[int]]] = {}
    for t in chosen:
        shown, overlapped = [], []
        for i, f in enumerate(clip_frames):
            ref = t.box_at(f)
            if ref is None:
                continue
            regions = applied.get(i, Regions.empty())
            (shown if regions.covered_fraction(ref) <= SHOWN_MAX_COVER else overlapped).append(i)
        out[t.id] = {"shown": shown, "overlapped": overlapped}
    return out


def redacted_copy(src: Path, target: Path, frames: Sequence[int], chosen: Sequence[Track],
                  settings: AnonymiseSettings, detectors: dict[str, LoadedDetector], scratch: Path) -> dict[str, Any]:
    """Write ``target``: frames ``frames`` (sorted clip frame indices) of ``src``, timestamps shifted to 0, every
    face and plate redacted except the chosen tracks' faces. Returns what was redacted, kept and checked. A photo
    (``target`` a photo of its format) is anonymised whole by ``anonymise_photo``, its tracks in display pixels."""
    kwargs: dict[str, Any] = {"keep": keep_callback(chosen, list(frames))} if chosen else {}
    applied: dict[int, Regions] = {}  # frame of the copy -> every region redacted on it (a second pass rewrites)
    made = scratch / target.name  # written (or quarantined) in the scratch folder, moved into the export when good
    if is_photo(src):
        try:
            result = anonymise_photo(src, made, settings, detectors, overwrite=True, out_root=scratch, **kwargs)
        finally:
            report_path_for(made).unlink(missing_ok=True)
        report: ClipReport = result.report
        applied[0] = result.regions
        verified = bool(report.verification.get("size_match") and not report.verification.get("metadata"))
    else:
        part = scratch / f"segment-{target.stem}.mp4"
        rewrite(src, part, keep=lambda i, hit=set(frames): i in hit, shift_to_zero=True, crf=12, mode=FILE_MODE)
        try:
            report = anonymise_file(part, made, settings, detectors, overwrite=True, out_root=scratch,
                                    on_regions=applied.__setitem__, **kwargs)
        finally:
            part.unlink(missing_ok=True)
            report_path_for(made).unlink(missing_ok=True)  # its paths are the archive's: the manifest says the rest
        verified = bool(report.verification.get("frames_match") and report.verification.get("timestamps_match"))
    # Kept faces are not findings (the anonymiser asks ``keep``); anything else left unredacted fails the export.
    leaks = [leak for leak in report.possible_leaks
             if not (leak.get("kind") == "face" and chosen and
                     keep_mask(chosen, frames[leak["frame"]] if leak["frame"] < len(frames) else -1,
                               np.array([leak["box"]], np.float32)).any())]
    if report.quarantined or leaks:
        first = (leaks or report.possible_leaks or [{"frame": "?", "kind": "?"}])[0]
        raise RequestError(f"the access copy of {src.name} may still show someone: the residual check found "
                           f"{len(leaks or report.possible_leaks)} unredacted detection(s) (first: frame "
                           f"{first['frame']}, {first['kind']}); nothing was exported")
    os.replace(made, target)
    os.chmod(target, FILE_MODE)
    faces = written_faces(chosen, list(frames), applied)
    return {
        "others_redacted": True,
        "kept_faces": [t.id for t in chosen],
        "kept_frames": {str(k): len(v["shown"]) for k, v in sorted(faces.items())},
        "overlapped_frames": {str(k): v["overlapped"] for k, v in sorted(faces.items()) if v["overlapped"]},
        "frames_with_kept_face": len({i for v in faces.values() for i in v["shown"]}),
        "frames_with_redactions": report.frames_with_regions,
        "detections": report.detections,
        "residual_check": {"frames_checked": report.residual.get("checked_frames"),
                           "findings_closed": len(report.residual.get("first_pass_findings") or []),
                           "unredacted_except_kept": 0},
        "models": [{"name": m["name"], "sha256": m["sha256"]} for m in report.models],
        "verified": verified,
    }
