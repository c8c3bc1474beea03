"""platenet alone on the views the pipeline shows it (the frame at its own size and at half of it), on every
annotated frame or photo of any set in the common format: how often it finds each plate (a box of it overlapping the plate at IoU >= 0.3, at its threshold), by plate
width, and its CPU per megapixel on one thread. No tracking, no other pass: the detector's own figure, beside which
the pipeline's (``quality.py``) is read.

    PYTHONPATH=. .venv/bin/python benchmarks/own_size.py .bench/mc_720p_video .bench/mc_1080p_video .bench/small_4k_video
    PYTHONPATH=. .venv/bin/python benchmarks/own_size.py SET --model .bench/train/platenet.onnx --threshold 0.3

Rows: ``plate-frames`` is the share of (plate, frame) pairs found; ``plates`` the share of distinct plates (a video
set's box index in its frame) found on at least one of their frames, and on at least half; and the detections that
match no annotated or ignored plate (on sets that annotate one plate per photo, a lower bound of precision).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality  # noqa: E402

BINS = (0, 30, 40, 60, 100, 200, 10_000)
MATCH_IOU = 0.3


def _detector(model: Path | None, threshold: float | None):
    from anonymizer.inference.manifest import installed, load_manifest
    from anonymizer.inference.platenet import PlateNetDetector
    from anonymizer.inference.session import make_session

    spec = next(s for s in load_manifest().values() if s.kind == "plate_fine")
    path = model or installed(spec).path
    return PlateNetDetector(make_session(path, threads=1), spec.threshold if threshold is None else threshold), path


def _frames(root: Path, rows: list) -> "Iterator[tuple[object, np.ndarray]]":
    from anonymizer.media.reader import rgb_frames

    by_video: dict[str, dict[int, object]] = defaultdict(dict)
    for row in rows:
        if row.image is not None:
            yield row, quality._read_rgb(root / row.image)
        else:
            by_video[row.video][row.frame] = row
    for video, wanted in by_video.items():
        for index, rgb in rgb_frames(root / video, lambda i: i in wanted):
            yield wanted[index], rgb


def measure(sets: list[Path], model: Path | None, threshold: float | None) -> dict:
    from anonymizer.domain.geometry import iou_matrix

    det, path = _detector(model, threshold)
    pairs: list[tuple[str, float, bool]] = []  # (object id, width, found)
    cpu, megapixels = 0.0, 0.0
    detections, unmatched = 0, 0
    for set_path in sets:
        name, root, rows = quality.load_set(set_path)
        for row, rgb in _frames(root, [r for r in rows if r.kind == "plate"]):
            start = time.process_time()
            found = det.detect_views(rgb)
            cpu += time.process_time() - start
            megapixels += rgb.shape[0] * rgb.shape[1] / 1e6
            m = iou_matrix(row.boxes, found.xyxy) if len(found) and len(row.boxes) else np.zeros((len(row.boxes), len(found)))
            if len(found):
                hit = m.max(axis=0) >= MATCH_IOU if len(row.boxes) else np.zeros(len(found), bool)
                if len(row.ignore):
                    hit |= iou_matrix(row.ignore, found.xyxy).max(axis=0) >= MATCH_IOU
                detections += len(found)
                unmatched += int((~hit).sum())
            for i, box in enumerate(row.boxes):
                key = f"{name}/{row.video or row.image}/{i}" if row.video else f"{name}/{row.where}/{i}"
                pairs.append((key, float(box[2] - box[0]), bool(m.shape[1] and m[i].max() >= MATCH_IOU)))
    return {"model": str(path), "threshold": det.threshold, "pairs": pairs, "cpu_s": cpu, "megapixels": megapixels,
            "detections": detections, "unmatched": unmatched}


def table(result: dict) -> str:
    pairs = result["pairs"]
    objects: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for key, w, ok in pairs:
        objects[key].append((w, ok))
    head = ["figure"] + [f"{lo}-{hi} px" if hi < 10_000 else f">= {lo} px" for lo, hi in zip(BINS, BINS[1:])] + [">= 40 px"]
    lines = [head, ["---"] * len(head)]

    def cells(items: list[tuple[float, bool]]) -> list[str]:
        out = []
        for lo, hi in list(zip(BINS, BINS[1:])) + [(40, 10_000)]:
            sel = [ok for w, ok in items if lo <= w < hi]
            out.append(f"{np.mean(sel):.3f} ({sum(sel)}/{len(sel)})" if sel else "-")
        return out

    lines.append(["plate-frames found"] + cells([(w, ok) for _, w, ok in pairs]))
    per_object = [(float(np.median([w for w, _ in v])), any(ok for _, ok in v)) for v in objects.values()]
    half = [(float(np.median([w for w, _ in v])), np.mean([ok for _, ok in v]) >= 0.5) for v in objects.values()]
    lines.append(["plates found on >= 1 frame"] + cells(per_object))
    lines.append(["plates found on >= half their frames"] + cells(half))
    ms = 1000 * result["cpu_s"] / max(result["megapixels"], 1e-9)
    return ("\n".join("| " + " | ".join(line) + " |" for line in lines)
            + f"\n\n{result['model']} at {result['threshold']:g}: {ms:.1f} CPU-ms per megapixel on one thread"
            + f" ({ms * 1920 * 1088 / 1e6:.0f} ms for a 1920x1088 frame); {result['detections']} detections, "
            + f"{result['unmatched']} matching no annotated or ignored plate (IoU < {MATCH_IOU})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="+", type=Path)
    ap.add_argument("--model", type=Path, help="an ONNX file (default: the manifest's plate_fine model)")
    ap.add_argument("--threshold", type=float, help="default: the manifest's")
    args = ap.parse_args(argv)
    print(table(measure(args.sets, args.model, args.threshold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
