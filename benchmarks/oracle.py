"""Per-frame oracle: what the detectors find when run on every frame, that the pipeline left uncovered.

For clips without ground truth (the EgoBlur clips, a user's own footage): anonymise the clip with the real pipeline
(``anonymise_file``, default settings), keep the regions it redacted on every frame (``on_regions``), then run every
detector pass on every decoded input frame as on a photo (``regions_for_image``: coarse, full resolution, in display
orientation) and count the detections of score >= ``--min-score`` that the redacted region covers less than 80 %.
Each such detection is a frame where a keyframe there would have found something the output leaves visible: a
carried box that lags a moving object, a keyframe that missed it, a gap in the passes. It is not ground truth (the
detectors' own misses are invisible here, and their false positives count), but it needs none, and a change that
makes the pipeline cheaper must not raise it.

``--video-passes`` runs, instead of a photo's passes, the passes the video pipeline runs on a keyframe of this
clip, on the whole frame: every detector's coarse pass and, where the clip has one, its full-resolution pass
(enlarged for plates, as ``detection.run_fine``). A cheaper oracle, and the one that says what the pipeline's own
passes would have found on a frame they did not look at (or looked at only in part). ``--every N`` scores every
Nth frame only.

    python benchmarks/oracle.py CLIP [CLIP...] [--min-score 0.5] [--frames N] [--every N] [--video-passes] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench_source import maybe_reexec

maybe_reexec()

from anonymizer.domain.detections import Detections  # noqa: E402
from anonymizer.domain.regions import Regions  # noqa: E402
from anonymizer.imaging.redact import region_mask  # noqa: E402
from anonymizer.media.reader import VideoReader  # noqa: E402
from anonymizer.domain.orientation import quarter_turns, to_display  # noqa: E402
from anonymizer.domain.orientation import display_size  # noqa: E402
from anonymizer.pipelines.anonymise import anonymise_file, fine_kinds_for, native_kinds_for, regions_for_image  # noqa: E402
from anonymizer.pipelines.detection import FrameDetector, enlarged_for  # noqa: E402
from anonymizer.pipelines.batch import open_detectors  # noqa: E402
from anonymizer.settings import AnonymiseSettings  # noqa: E402

COVERAGE = 0.8


def covered(mask: np.ndarray, box: np.ndarray) -> float:
    h, w = mask.shape
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return 1.0
    return float(mask[y1:y2, x1:x2].mean())


def video_passes(report, settings: AnonymiseSettings, detectors: dict):  # noqa: ANN001, ANN201
    """frame -> {kind: detections in display pixels}: every pass the video pipeline runs on a keyframe of this clip
    (coarse; full resolution, enlarged where the pipeline enlarges), on the whole frame."""
    turns = quarter_turns(report.rotation)
    w, h = display_size(report.width, report.height, turns)
    kinds = tuple(detectors)
    fine = fine_kinds_for(w, h, settings, kinds)
    fd = FrameDetector(detectors, report.width, report.height, report.rotation, fine_kinds=fine,
                       native_kinds=native_kinds_for(w, h, settings, kinds),
                       enlarged_kinds=enlarged_for(w, h, fine) if settings.small_objects == "auto" else ())

    def run(frame) -> dict:  # noqa: ANN001
        out = {}
        for kind in kinds:
            found = fd.coarse(frame, kind)
            if kind in fine:
                found = found.concat(fd._run_fine(frame, kind, None))
            # stored pixels -> display pixels, where the redacted mask is compared
            out[kind] = found if turns == 0 or len(found) == 0 else Detections(fd.to_display_boxes(found.xyxy), found.scores)
        return out

    return run


def evaluate(clip: Path, settings: AnonymiseSettings, detectors: dict, min_score: float, frames: int | None,
             every: int = 1, use_video_passes: bool = False) -> dict:
    regions: dict[int, Regions] = {}
    with tempfile.TemporaryDirectory() as tmp:
        report = anonymise_file(clip, Path(tmp) / (clip.stem + ".mp4"), settings, detectors, overwrite=True,
                                on_regions=lambda i, r: regions.__setitem__(i, r))
    turns = quarter_turns(report.rotation)
    misses: list[dict] = []
    per_kind = {k: {"found": 0, "uncovered": 0} for k in detectors}
    uncovered_frames: set[int] = set()
    passes = video_passes(report, settings, detectors) if use_video_passes else None
    scored = 0
    with VideoReader(clip) as reader:
        for index, frame in enumerate(reader.frames()):
            if frames is not None and index >= frames:
                break
            if index % every:
                continue
            scored += 1
            if passes is not None:
                found = passes(frame)
            else:
                rgb = to_display(frame.rgb(report.width, report.height), turns)
                _, found = regions_for_image(rgb, settings, detectors)
            r = regions.get(index, Regions(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)))
            mask = to_display(region_mask(r, report.width, report.height), turns)
            for kind, dets in found.items():
                for box, score in zip(dets.xyxy, dets.scores):
                    if score < min_score:
                        continue
                    per_kind[kind]["found"] += 1
                    c = covered(mask, box)
                    if c < COVERAGE:
                        per_kind[kind]["uncovered"] += 1
                        uncovered_frames.add(index)
                        misses.append({"frame": index, "kind": kind, "score": round(float(score), 3),
                                       "box": [round(float(v), 1) for v in box], "covered": round(c, 3)})
    return {"clip": str(clip), "frames": report.frames, "scored": scored, "fps": report.fps, "per_kind": per_kind,
            "uncovered_frames": len(uncovered_frames), "misses": misses}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--min-score", type=float, default=0.5, help="oracle detections counted from this score (0.5)")
    ap.add_argument("--frames", type=int, default=None, help="score only the first N frames")
    ap.add_argument("--every", type=int, default=1, help="score every Nth frame only (1)")
    ap.add_argument("--video-passes", action="store_true",
                    help="the video pipeline's keyframe passes on the whole frame instead of a photo's passes")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ref", default=None, help="measure this committed revision instead of the working tree")
    args = ap.parse_args(argv)
    settings = AnonymiseSettings()
    detectors = open_detectors(settings)
    results = [evaluate(c, settings, detectors, args.min_score, args.frames, args.every, args.video_passes)
               for c in args.clips]
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        return 0
    print(f"oracle detections of score >= {args.min_score} left less than {COVERAGE:.0%} covered"
          f" ({'the video keyframe passes' if args.video_passes else 'the photo passes'}, every {args.every} frame(s))")
    print("| clip | frames (scored) | fps | faces uncovered / found | plates uncovered / found | frames with one |")
    print("|---|---|---|---|---|---|")
    for r in results:
        k = r["per_kind"]
        f, p = k.get("face", {"found": 0, "uncovered": 0}), k.get("plate", {"found": 0, "uncovered": 0})
        print(f"| {Path(r['clip']).name} | {r['frames']} ({r['scored']}) | {r['fps']} | {f['uncovered']} / {f['found']} | "
              f"{p['uncovered']} / {p['found']} | {r['uncovered_frames']} |")
        for m in r["misses"][:20]:
            print(f"    frame {m['frame']} {m['kind']} score {m['score']} box {m['box']} covered {m['covered']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
