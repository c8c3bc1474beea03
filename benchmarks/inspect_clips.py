"""Clips without ground truth (the EgoBlur clips): run the real pipeline, report what it redacted, save frames to look at.

For each clip, ``anonymise_file`` runs with default settings (or the overrides given) into a temporary folder; its
``on_regions`` callback counts, on every frame, the face regions (ellipses) and plate regions (rectangles) that were
redacted. Printed per clip: frames, keyframes and raw detections per kind (from the clip's report), regions per
frame per kind (mean, max, frames with at least one), frames with no region at all, the residual check's possible
leaks, and the pipeline's fps. ``--save-frames N`` writes N evenly spaced output frames (plus the frame with the
most regions) as PNG into ``--out`` (default ``.bench/inspect/``): ``<clip>_f<index>.png`` is the frame as
published (redacted, in display orientation), ``<clip>_f<index>_marked.png`` the same with the redacted regions
outlined (green: faces, blue: plates), for a person to check what was missed.

    python benchmarks/inspect_clips.py ../shared/eval/clips/egoblur_*.mp4 --save-frames 3
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_source import describe, maybe_reexec

maybe_reexec()

import cv2  # noqa: E402

from anonymizer.domain.regions import Regions  # noqa: E402
from anonymizer.pipelines.anonymise import anonymise_file  # noqa: E402
from anonymizer.pipelines.batch import open_detectors  # noqa: E402
from anonymizer.settings import AnonymiseSettings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OVERRIDES = ("face_threshold", "plate_threshold", "face_max_side", "plate_max_side", "face_stride", "plate_stride",
             "carry_frames", "face_scale", "plate_pad", "residual_samples", "device")


def _stats(counts: list[int]) -> dict:
    arr = np.asarray(counts or [0])
    return {"mean": round(float(arr.mean()), 2), "max": int(arr.max()), "frames_with_any": int((arr > 0).sum())}


def _save_frames(out_video: Path, wanted: set[int], regions: dict[int, Regions], stem: str, folder: Path,
                 rotation: int) -> list[str]:
    import av

    saved = []
    k = (int(round(rotation / 90)) % 4) if rotation else 0
    with av.open(str(out_video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                bgr = np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:, :, ::-1])
                plain = folder / f"{stem}_f{index:05d}.png"
                cv2.imwrite(str(plain), np.ascontiguousarray(np.rot90(bgr, k)) if k else bgr)
                marked = bgr.copy()
                r = regions.get(index, Regions.empty())
                thick = max(1, bgr.shape[1] // 800)
                for b in r.ellipses:
                    cx, cy = int((b[0] + b[2]) / 2), int((b[1] + b[3]) / 2)
                    cv2.ellipse(marked, (cx, cy), (int((b[2] - b[0]) / 2), int((b[3] - b[1]) / 2)), 0, 0, 360,
                                (0, 255, 0), thick)
                for b in r.rects:
                    cv2.rectangle(marked, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (255, 0, 0), thick)
                path = folder / f"{stem}_f{index:05d}_marked.png"
                cv2.imwrite(str(path), np.ascontiguousarray(np.rot90(marked, k)) if k else marked)
                saved += [str(plain), str(path)]
            if index >= max(wanted, default=-1):
                break
    return saved


def inspect(clip: Path, settings: AnonymiseSettings, detectors: dict, save: int, folder: Path) -> dict:
    faces: dict[int, int] = {}
    plates: dict[int, int] = {}
    kept: dict[int, Regions] = {}

    def on_regions(index: int, r: Regions) -> None:
        faces[index], plates[index] = len(r.ellipses), len(r.rects)
        kept[index] = r

    with tempfile.TemporaryDirectory(prefix="inspect-") as tmp:
        dst = Path(tmp) / (clip.stem + ".mp4")
        started = time.perf_counter()
        report = anonymise_file(clip, dst, settings, detectors, overwrite=True, on_regions=on_regions)
        seconds = time.perf_counter() - started
        n = report.frames
        face_counts = [faces.get(i, 0) for i in range(n)]
        plate_counts = [plates.get(i, 0) for i in range(n)]
        saved: list[str] = []
        if save > 0 and n:
            wanted = {int(round(i)) for i in np.linspace(0, n - 1, save)}
            busiest = int(np.argmax(np.asarray(face_counts) + np.asarray(plate_counts)))
            wanted.add(busiest)
            folder.mkdir(parents=True, exist_ok=True)
            saved = _save_frames(dst, wanted, {i: kept[i] for i in wanted if i in kept}, clip.stem, folder,
                                 report.rotation)
    return {
        "clip": str(clip), "width": report.width, "height": report.height, "rotation": report.rotation,
        "frames": n, "keyframes": report.keyframes, "detections": report.detections,
        "refined_frames": report.refined_frames,
        "face_regions_per_frame": _stats(face_counts), "plate_regions_per_frame": _stats(plate_counts),
        "frames_without_regions": int(sum(1 for f, p in zip(face_counts, plate_counts) if f + p == 0)),
        "residual_sampled": len(report.residual.get("sampled_frames", [])),
        "residual_possible_leaks": report.possible_leaks,
        "pipeline_s": round(seconds, 1), "pipeline_fps": report.fps, "saved": saved,
    }


def render(r: dict) -> str:
    fr, pr = r["face_regions_per_frame"], r["plate_regions_per_frame"]
    lines = [
        f"{Path(r['clip']).name}: {r['width']}x{r['height']} rotation {r['rotation']}, {r['frames']} frames, "
        f"{r['pipeline_s']} s ({r['pipeline_fps']} fps)",
        f"  keyframes {r['keyframes']}  raw detections {r['detections']}  refined {r['refined_frames']}",
        f"  face regions per frame: mean {fr['mean']} max {fr['max']}, on {fr['frames_with_any']} frames;  plate "
        f"regions per frame: mean {pr['mean']} max {pr['max']}, on {pr['frames_with_any']} frames;  "
        f"{r['frames_without_regions']} frames without any region",
        f"  residual check: {len(r['residual_possible_leaks'])} possible leaks on {r['residual_sampled']} sampled frames",
    ]
    for leak in r["residual_possible_leaks"][:10]:
        lines.append(f"    frame {leak['frame']} {leak['kind']} {leak['box']} score {leak['score']}")
    for path in r["saved"]:
        lines.append(f"  saved {path}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--save-frames", type=int, default=3, help="output frames saved as PNG per clip (default 3)")
    ap.add_argument("--out", type=Path, default=REPO / ".bench" / "inspect", help="folder for the PNGs")
    ap.add_argument("--json", action="store_true", help="JSON on stdout instead of text")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)")
    ap.add_argument("--ref", default=None, help="measure this committed revision instead of the working tree")
    ap.add_argument("--save", type=Path, default=None, help="also write the JSON to this file")
    for name in OVERRIDES:
        typ = str if name == "device" else (int if name.endswith(("side", "stride", "frames", "samples")) else float)
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None,
                        help=f"override the anonymiser's {name}")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = AnonymiseSettings().with_(**{k: getattr(args, k) for k in OVERRIDES})
    source = describe()  # before the run: what was imported
    detectors = open_detectors(settings, threads=args.threads)
    results = []
    for clip in args.clips:
        if not clip.exists():
            ap.error(f"{clip}: no such file")
        res = inspect(clip, settings, detectors, args.save_frames, args.out)
        results.append(res)
        if not args.json:
            print(render(res), flush=True)
    doc = {"anonymizer": source, "results": results}
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
