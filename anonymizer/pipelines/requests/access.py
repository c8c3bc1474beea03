"""The access copy of one recording's segment with everyone else redacted (GDPR art. 15(4)): the anonymiser runs
on the exported segment with every face and plate redacted except the boxes of the face tracks the DPO ticked on
the review page (``anonymizer.domain.face_tracks.keep_mask``, matched frame by frame by overlap with the track).
Without a ticked track, everything is redacted. The anonymiser verifies the copy (frames, timestamps) and runs its
residual check; a detection left unredacted that is not a kept face fails the export."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from anonymizer.domain.face_tracks import Track, keep_mask
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.segments import rewrite
from anonymizer.pipelines.anonymise import anonymise_file, report_path_for
from anonymizer.pipelines.requests.common import FILE_MODE, RequestError
from anonymizer.settings import AnonymiseSettings


@dataclass
class Kept:
    """What the keep callback spared, counted as the anonymiser asks."""

    tracks: list[int]
    by_track: dict[int, set[int]] = field(default_factory=dict)  # track id -> frames of the copy where it was kept

    @property
    def frames(self) -> set[int]:
        return set().union(*self.by_track.values()) if self.by_track else set()


def keep_callback(chosen: Sequence[Track], clip_frames: Sequence[int], kept: Kept
                  ) -> Callable[[int, str, np.ndarray], np.ndarray]:
    """``keep(i, kind, boxes)`` for ``anonymise_file``: frame ``i`` of the copy is frame ``clip_frames[i]`` of the
    clip; only face boxes of the chosen tracks are kept."""

    def keep(i: int, kind: str, boxes: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(boxes), bool)
        if kind != "face" or not chosen or i >= len(clip_frames) or not len(boxes):
            return mask
        f = clip_frames[i]
        for t in chosen:
            m = keep_mask([t], f, boxes) & ~mask
            if m.any():  # the anonymiser may ask more than once per frame (check passes): count frames
                kept.by_track.setdefault(t.id, set()).add(i)
            mask |= m
        return mask

    return keep


def redacted_copy(src: Path, target: Path, frames: Sequence[int], chosen: Sequence[Track],
                  settings: AnonymiseSettings, detectors: dict[str, LoadedDetector], scratch: Path) -> dict[str, Any]:
    """Write ``target``: frames ``frames`` (sorted clip frame indices) of ``src``, timestamps shifted to 0, every
    face and plate redacted except the chosen tracks' faces. Returns what was redacted, kept and checked."""
    part = scratch / f"segment-{target.stem}.mp4"
    rewrite(src, part, keep=lambda i, hit=set(frames): i in hit, shift_to_zero=True, crf=12, mode=FILE_MODE)
    kept = Kept([t.id for t in chosen])
    kwargs: dict[str, Any] = {"keep": keep_callback(chosen, list(frames), kept)} if chosen else {}
    made = scratch / target.name  # written (or quarantined) in the scratch folder, moved into the export when good
    try:
        report = anonymise_file(part, made, settings, detectors, overwrite=True, out_root=scratch, **kwargs)
    finally:
        part.unlink(missing_ok=True)
        report_path_for(made).unlink(missing_ok=True)  # its paths are the archive's: the manifest says the rest
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
    return {
        "others_redacted": True,
        "kept_faces": kept.tracks,
        "kept_frames": {str(k): len(v) for k, v in sorted(kept.by_track.items())},
        "frames_with_kept_face": len(kept.frames),
        "frames_with_redactions": report.frames_with_regions,
        "detections": report.detections,
        "residual_check": {"frames_checked": report.residual.get("checked_frames"),
                           "findings_closed": len(report.residual.get("first_pass_findings") or []),
                           "unredacted_except_kept": 0},
        "models": [{"name": m["name"], "sha256": m["sha256"]} for m in report.models],
        "verified": bool(report.verification.get("frames_match") and report.verification.get("timestamps_match")),
    }
